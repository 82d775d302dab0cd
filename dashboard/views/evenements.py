"""Événements: webinars and meetings, their attendance (imported from the tool's export or a
sign-in sheet, with a review of doubtful matches) and the adoption of attending structures
compared with the others."""

from datetime import date
from functools import partial

import streamlit as st

from balise.formatting import fr_count, fr_date
from balise.services.events import KINDS, EventInput
from balise.services.labels import department_label
from dashboard import actions, animation_data, charts, tables
from dashboard.shell import act, flash, page_context

ctx = page_context("Événements et webinaires")
marker = animation_data.animation_marker()
flash("ev_done")


_act = partial(act, key="ev_done")


with st.expander("Nouvel événement"), st.form("ev_new"):
    title = st.text_input("Titre", placeholder="Midis du collectif #8", max_chars=255)
    when = st.date_input("Date", value=date.today(), format="DD/MM/YYYY")
    theme = st.text_input("Thème", max_chars=255)
    departments = st.multiselect("Départements", ctx.departments, default=list(ctx.departments),
                                 format_func=department_label, select_all=False,
                                 placeholder="Aucun : événement régional")  # fmt: skip
    replay = st.text_input("Lien du replay", placeholder="https://…")
    if st.form_submit_button("Créer l'événement"):
        ev = EventInput(title, when, theme, tuple(departments), replay)
        _act(lambda: actions.event_create(ctx.actor, ev), f"Événement « {title.strip()} » créé.")

listed = animation_data.events_list(marker, ctx.actor, ctx.departments)
if listed.empty:
    st.info("Aucun événement dans ces départements : créez-en un ci-dessus.")
    st.stop()

tables.labelled(
    listed.assign(
        date=listed["date"].map(fr_date),
        departments=listed["departments"].map(lambda d: ", ".join(d.split(",")) if d else "Région"),
    ),
    {
        "date": "Date",
        "title": "Événement",
        "theme": "Thème",
        "departments": "Départements",
        "lines": "Lignes",
        "structures": "Structures",
        "to_review": "À vérifier",
        "replay_url": "Replay",
    },
    # The link shows its site (« youtube.com »); an event without replay reads « — ».
    column_config={
        "Replay": st.column_config.LinkColumn(display_text=r"https?://(?:www\.)?([^/]+)")
    },
)

titles = dict(
    zip(listed["id"], listed["title"] + " (" + listed["date"].map(fr_date) + ")", strict=True)
)
event_id = st.selectbox(
    "Événement", list(titles), format_func=titles.get, key="ev_pick", placeholder="Choisir…"
)
event = listed[listed["id"] == event_id].iloc[0]

st.subheader("Présences")
upload = st.file_uploader(
    "Feuille de présence (xlsx ou csv : colonnes FINESS, Structure, Commune)",
    type=["xlsx", "csv"], key="ev_upload",
    help="Déposez le fichier dans le cadre, ou cliquez sur « Upload » (Streamlit écrit ce bouton "
    "en anglais) pour le choisir ; 200 Mo au plus.",
)  # fmt: skip
st.caption("Seules les colonnes de la structure sont lues ; les noms et adresses des participants "
           "ne sont pas conservés. L'import remplace la liste précédente.")  # fmt: skip
if upload is not None and st.button("Importer les présences", type="primary"):
    payload, name = upload.getvalue(), upload.name

    def _import() -> None:
        st.session_state["ev_report"] = actions.attendance_import(
            ctx.actor, int(event_id), payload, name
        ).summary()

    _act(_import, "Présences importées.")
if report := st.session_state.pop("ev_report", None):
    st.info(report)

lines = animation_data.event_attendance(marker, ctx.actor, int(event_id))
doubtful = lines[(lines["match_kind"] == "fuzzy") & ~lines["reviewed"].astype(bool)]
if not doubtful.empty:
    st.markdown(f"**{len(doubtful)} rapprochement(s) à vérifier**")
    for line in doubtful.itertuples():
        left, ok, no = st.columns([6, 1, 1])
        commune = line.commune if isinstance(line.commune, str) else "commune non précisée"
        left.write(f"« {line.raw_name} » ({commune}) → "
                   f"{line.matched_name}, {line.matched_city} ({line.finess_et})")  # fmt: skip
        if ok.button("Confirmer", key=f"ev_ok_{line.id}"):
            _act(
                lambda i=line.id: actions.attendance_review(ctx.actor, int(i), True),
                "Rapprochement confirmé.",
            )
        if no.button("Rejeter", key=f"ev_no_{line.id}"):
            _act(
                lambda i=line.id: actions.attendance_review(ctx.actor, int(i), False),
                "Rapprochement rejeté.",
            )
unmatched = lines[lines["match_kind"] == "none"]
if not unmatched.empty:
    with (
        st.expander(f"Rattacher à la main une ligne non reconnue ({len(unmatched)})"),
        st.form("ev_assign"),
    ):
        options = dict(zip(unmatched["id"], unmatched["raw_name"], strict=True))
        line_id = st.selectbox(
            "Ligne", list(options), format_func=options.get, placeholder="Choisir…"
        )
        finess = st.text_input("FINESS de la structure", max_chars=9)
        if st.form_submit_button("Rattacher"):
            _act(lambda: actions.attendance_review(ctx.actor, int(line_id), True, finess),
                 "Ligne rattachée à la structure.")  # fmt: skip
if not lines.empty:
    shown = ["raw_name", "commune", "match_kind", "matched_name", "finess_et"]
    tables.labelled(
        # text columns only: no « None » in the table
        lines.assign(match_kind=lines["match_kind"].map(KINDS))[shown].fillna(""),
        {
            "raw_name": "Ligne importée",
            "commune": "Commune",
            "match_kind": "Rapprochement",
            "matched_name": "Structure",
            "finess_et": "FINESS",
        },
    )

comparison = animation_data.event_comparison(marker, ctx.actor, int(event_id))
if comparison.empty or (comparison["group"] == "Participants").sum() == 0:
    st.info("La comparaison apparaît quand au moins une structure participante est reconnue.")
else:
    st.plotly_chart(charts.attendance_comparison(comparison, event["date"]), key="ev_compare")

CONFIRM_KEY = "ev_delete_asked"
if st.session_state.get(CONFIRM_KEY) != event_id:
    if st.button("Supprimer cet événement", key="ev_delete"):
        st.session_state[CONFIRM_KEY] = event_id
        st.rerun()
else:
    st.warning(
        f"Supprimer « {event['title']} » du {fr_date(event['date'])} et ses "
        f"{fr_count(len(lines), 'ligne de présence', 'lignes de présence')} ? "
        "Cette suppression ne s'annule pas."
    )
    yes, no = st.columns(2)
    if yes.button("Oui, supprimer l'événement", type="primary", key="ev_delete_yes"):
        st.session_state.pop(CONFIRM_KEY)
        _act(lambda: actions.event_delete(ctx.actor, int(event_id)), "Événement supprimé.")
    if no.button("Annuler", key="ev_delete_no"):
        st.session_state.pop(CONFIRM_KEY)
        st.rerun()
