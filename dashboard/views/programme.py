"""Programme: what the ESMS numérique programme reports. The indicators of the campaign's
catalogue (data/indicateurs/AAAA.toml) per department, with the ESMS below each target; the
organismes gestionnaires (EJ, named by their raison sociale when FiNESS+ gives it), their ESMS
and BALs, those « à fort levier », and the FiNESS+ groupings."""

from datetime import date

import streamlit as st

from balise.errors import BaliseError, PermissionDenied
from balise.formatting import fr_int, fr_month
from balise.services.labels import category_label, department_label
from balise.services.organisations import organisation_label
from balise.services.programme_sheets import catalogue_note, indicator_matrix, value_text
from dashboard import animation_data, tables
from dashboard.programme_blocks import ESMS_HEADINGS, esms_table, groupings_block
from dashboard.shell import page_context

ctx = page_context("Programme ESMS numérique")
marker = animation_data.programme_marker()


def _months(last: date, n: int = 12) -> list[date]:
    index = last.year * 12 + last.month - 1
    return [date((index - i) // 12, (index - i) % 12 + 1, 1) for i in range(n)]


years = animation_data.catalogue_years()
if not years:
    st.error("Aucun catalogue d'indicateurs : ajoutez un fichier AAAA.toml dans data/indicateurs/.")
    st.stop()
left, right = st.columns(2)
month = left.selectbox("Mois de référence", _months(animation_data.default_month()),
                       format_func=fr_month, key="prog_month",
                       placeholder="Choisir…")  # fmt: skip
year = right.selectbox("Campagne", years[::-1], key="prog_year",
                       index=years[::-1].index(month.year) if month.year in years else 0,
                       placeholder="Choisir…")  # fmt: skip
try:
    report = animation_data.indicator_report(marker, ctx.actor, ctx.departments, year, month)
except PermissionDenied:
    raise  # dashboard/app.py shows and audits refused reads
except BaliseError as exc:  # an unreadable catalogue
    st.error(str(exc))
    st.stop()
if report.catalogue.is_example:
    st.warning(
        "Catalogue d'**exemple** : les seuils sont à fixer par l'ARS (modifiez le fichier "
        f"`{report.catalogue.file_name}` du dossier des indicateurs).",
        icon="⚠️",
    )
st.caption(catalogue_note(report))

indicators_tab, organisations_tab = st.tabs(["Indicateurs", "Organismes gestionnaires"])

with indicators_tab:
    matrix = indicator_matrix(report)
    st.dataframe(matrix.drop(columns="id"), hide_index=True, width="stretch", key="prog_matrix")
    st.subheader("Les ESMS sous l'objectif")
    by_id = {i.id: i for i in report.catalogue.indicators}
    c1, c2 = st.columns(2)
    chosen = c1.selectbox("Indicateur", list(by_id), format_func=lambda i: by_id[i].label,
                          key="prog_indicator", placeholder="Choisir…")  # fmt: skip
    department = c2.selectbox("Département", ctx.departments, format_func=department_label,
                              key="prog_department", placeholder="Choisir…")  # fmt: skip
    missing = animation_data.indicator_misses(report, chosen, department)
    ind = by_id[chosen]
    if missing.empty:
        st.success("Aucun ESMS sous l'objectif pour cet indicateur dans ce département.")
    else:
        st.caption(f"{fr_int(len(missing))} ESMS sous l'objectif.")
        shown = missing.assign(
            category_code=missing["category_code"].map(category_label),
            value=missing["value"].map(lambda v: "non" if v is False else value_text(ind, v)),
        )
        tables.labelled(
            shown,
            {"finess_et": "FINESS", "name": "Nom", "city": "Commune",
             "category_code": "Catégorie", "ej_name": "Organisme", "finess_ej": "FINESS EJ",
             "value": "Valeur"},
        )  # fmt: skip

with organisations_tab:
    st.markdown(
        "**À fort levier** : beaucoup d'ESMS, peu d'équipés, et déjà au moins un ESMS équipé "
        "dans l'organisme (réglages dans `data/priorites.toml`, section `[levier]`)."
    )
    orgs_headings = {
        "ej_name": "Organisme", "finess_ej": "FINESS EJ", "department": "Département",
        "esms_names": "Ses ESMS", "esms": "ESMS", "equipped": "Équipés",
        "share": "Part équipée (%)", "mailboxes": "BAL",
    }  # fmt: skip
    lever = animation_data.high_leverage(marker, ctx.actor, ctx.departments)
    if lever.empty:
        st.info("Aucun organisme à fort levier dans la sélection.")
    else:
        tables.labelled(
            lever.assign(department=lever["department"].map(department_label),
                         share=lever["share"].round(1), ej_name=lever["ej_name"].fillna("")),
            orgs_headings | {"to_equip": "À équiper"}, key="prog_lever",
        )  # fmt: skip
    orgs = animation_data.organisations(marker, ctx.actor, ctx.departments)
    st.subheader(f"Tous les organismes ({fr_int(len(orgs))})")
    tables.labelled(
        orgs.assign(department=orgs["department"].map(department_label),
                    share=orgs["share"].round(1), ej_name=orgs["ej_name"].fillna("")),
        orgs_headings, key="prog_orgs",
    )  # fmt: skip
    labels = {r.finess_ej: organisation_label(r.finess_ej, r.ej_name)
              for r in orgs.sort_values("finess_ej").itertuples()}  # fmt: skip
    ej = st.selectbox("Voir un organisme", list(labels), format_func=labels.get, index=None,
                      placeholder="Choisir un organisme", key="prog_ej")  # fmt: skip
    if ej:
        esms = animation_data.organisation_esms(marker, ctx.actor, ej)
        esms_table(esms, ESMS_HEADINGS, key="prog_ej_esms")
    groupings_block(ctx, marker)
