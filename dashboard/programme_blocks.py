"""Blocks the programme adds to pages: « Qui appeler d'abord » on the Accompagnement page,
« Usage comparé » on the Activité page, the organisations' ESMS and the FiNESS+ groupings on the
Programme page. Widgets only; figures come from dashboard/data.py."""

from __future__ import annotations

import streamlit as st

from balise.errors import BaliseError, PermissionDenied
from balise.formatting import fr_decimal, fr_int
from balise.services.finess_groups import KINDS
from balise.services.labels import category_label, department_label
from dashboard import animation_data, tables
from dashboard.shell import PageContext

TOP = 30


def priorities_block(ctx: PageContext) -> None:
    """The non-equipped ESMS of the selection, best first, with their reasons in words."""
    try:
        df = animation_data.outreach_priorities(
            animation_data.programme_marker(), ctx.actor, ctx.departments, TOP
        )
    except PermissionDenied:
        raise  # dashboard/app.py shows and audits refused reads
    except BaliseError as exc:  # an unreadable weights file
        st.error(str(exc))
        return
    if df.empty:
        st.success("Tous les ESMS de la sélection sont équipés.")
        return
    st.caption(
        f"Les {fr_int(len(df))} premiers sur {fr_int(df.attrs['candidates'])} ESMS non équipés. "
        f"Score sur {fr_decimal(df.attrs['maximum'])} : somme pondérée de signaux simples "
        "(poids dans `data/priorites.toml` ; `balise priorites --backtest` mesure ce qu'ils "
        "valent sur l'historique)."
    )
    tables.labelled(
        df.assign(department=df["department"].map(department_label),
                  category_code=df["category_code"].map(category_label),
                  ej_name=[name or (f"EJ {ej}" if ej else "—")  # the legacy file names none
                           for ej, name in zip(df["finess_ej"], df["ej_name"], strict=True)]),
        {"rank": "Rang", "score": "Score", "name": "Structure", "city": "Commune",
         "department": "Département", "category_code": "Catégorie", "ej_name": "Organisme",
         "reasons": "Pourquoi"},
        column_config={"Score": st.column_config.NumberColumn(format="localized")},
        key="priorities_table",
    )  # fmt: skip


def peer_usage_block(ctx: PageContext, marker: str) -> None:
    """Messages per month of each watched BAL beside the median of its category and the
    national order of magnitude."""
    df = animation_data.peer_usage(marker, ctx.actor, ctx.departments)
    if df.empty:
        return
    national = animation_data.national_usage()
    st.subheader("Usage comparé (messages par mois, 90 derniers jours)")
    st.caption(
        f"Médiane des BAL suivies de la même catégorie, et repère national : environ "
        f"{fr_decimal(national.per_mailbox, 0)} messages par BAL et par mois ({national.source})."
    )
    tables.labelled(
        df.assign(department=df["department"].map(department_label),
                  category_code=df["category_code"].map(category_label),
                  messages_per_month=df["messages_per_month"].round(1),
                  peer_median=df["peer_median"].round(1), national=df["national"].round(0)),
        {"address": "Adresse", "department": "Département", "category_code": "Catégorie",
         "messages_per_month": "Messages par mois", "peer_median": "Médiane de la catégorie",
         "peers": "BAL comparées", "national": "Repère national"},
        key="peer_usage_table",
    )  # fmt: skip


ESMS_HEADINGS = {
    "finess_et": "FINESS", "name": "Nom", "city": "Commune", "department": "Dép.",
    "category_code": "Catégorie", "equipped": "Statut", "bals": "BAL",
}  # fmt: skip


def esms_table(esms, headings: dict[str, str], key: str) -> None:
    """ESMS with their status and BALs (``organisations.esms_with_bals``)."""
    tables.labelled(
        esms.assign(category_code=esms["category_code"].map(category_label),
                    equipped=esms["equipped"].map({True: "Équipé", False: "Non équipé"}),
                    ej_name=esms["ej_name"].fillna("")),
        headings, key=key,
    )  # fmt: skip


def groupings_block(ctx: PageContext, marker: str) -> None:
    """Organisations per FiNESS+ grouping (GHT, GCSMS…): ESMS of the selection, equipped, BALs;
    and one grouping's ESMS."""
    st.subheader("Par groupement FiNESS+")
    groups = animation_data.groupings(marker, ctx.actor, ctx.departments)
    if groups.empty:
        st.caption(
            "Aucun groupement dans la sélection : les groupements (GHT, GCSMS…) viennent d'un "
            "import national du flux FiNESS+ (`balise ingest finess` sur le fichier JSON, "
            "sans département)."
        )
        return
    tables.labelled(
        groups.assign(kind=groups["kind"].map(KINDS), share=groups["share"].round(1)),
        {"name": "Groupement", "kind": "Type", "departments": "Départements",
         "organisations": "Organismes", "esms": "ESMS", "equipped": "Équipés",
         "share": "Part équipée (%)", "mailboxes": "BAL"},
        key="prog_groups",
    )  # fmt: skip
    names = dict(zip(groups["group_id"], groups["name"].fillna(groups["group_id"]), strict=True))
    chosen = st.selectbox("Voir un groupement", list(names), format_func=names.get, index=None,
                          placeholder="Choisir un groupement", key="prog_group")  # fmt: skip
    if chosen:
        esms = animation_data.grouping_esms(marker, ctx.actor, chosen)
        esms_table(esms, {**ESMS_HEADINGS, "ej_name": "Organisme"}, key="prog_group_esms")
