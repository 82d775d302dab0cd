"""Journal d'audit: who did what, when, on which object, and how it ended; filters and a CSV
export. What each role sees is decided by balise.services.audit_log."""

from datetime import date, timedelta

import streamlit as st

from balise.errors import BaliseError
from balise.formatting import fr_int, is_missing
from balise.services.audit_log import (
    LABELS,
    MAX_ROWS,
    OUTCOMES,
    AuditFilter,
    action_label,
    detail_text,
)
from balise.services.labels import department_label
from dashboard import actions, data, tables
from dashboard.shell import current_actor

st.title("Journal d'audit")
st.caption(
    "Chaque provisionnement, test, import, export, changement de compte ou de droit et chaque "
    "connexion laisse une ligne. Le journal ne se modifie pas ; seules les lignes plus "
    "anciennes que la durée de conservation sont purgées (« balise audit purge »)."
)
actor = current_actor()
marker = data.audit_marker()
choices = data.audit_choices(marker, actor)

today = date.today()
left, right = st.columns(2)
period = left.date_input(
    "Période", (today - timedelta(days=30), today), max_value=today, format="DD/MM/YYYY",
    key="audit_period",
)  # fmt: skip
search = right.text_input("Objet contient", key="audit_search", max_chars=255)
left, middle, right = st.columns(3)
picked_actions = left.multiselect(
    "Action", choices["actions"], format_func=action_label, key="audit_actions",
    placeholder="Toutes", select_all=False,
)  # fmt: skip
actors = middle.multiselect(
    "Qui", choices["actors"], key="audit_actors", placeholder="Tous", select_all=False
)
outcomes = right.multiselect(
    "Résultat", list(OUTCOMES), format_func=OUTCOMES.get, key="audit_outcomes",
    placeholder="Tous", select_all=False,
)  # fmt: skip

# A range being picked has one date only: filter from it until today.
start, end = (tuple(period) + (today,))[:2] if period else (None, None)
flt = AuditFilter(start, end, tuple(actors), tuple(picked_actions), tuple(outcomes), search=search)
lines = data.audit_entries(marker, actor, flt)

shown = tables.in_paris(lines, "at").assign(
    action=lines["action"].map(action_label),
    outcome=lines["outcome"].map(lambda o: OUTCOMES.get(o, o)),
    department=lines["department"].map(lambda d: None if is_missing(d) else department_label(d)),
    detail=lines["detail"].map(detail_text),
)
a, b = st.columns(2)
a.metric("Lignes", fr_int(len(lines)))
b.metric("Refus et échecs", fr_int(int((lines["outcome"] != "ok").sum())))
if len(lines) >= MAX_ROWS:
    st.info(
        f"Seules les {fr_int(MAX_ROWS)} lignes les plus récentes sont affichées : affinez les "
        "filtres."
    )
tables.labelled(
    shown,
    LABELS,
    empty="Aucune ligne du journal pour ces filtres.",
    caption=False,
    column_config={LABELS["at"]: tables.instant(seconds=True)},
)

if st.button("Préparer l'export CSV", key="audit_build_csv"):
    try:
        st.session_state["audit_csv"] = (flt, actions.audit_csv(actor, flt))
    except BaliseError as exc:
        st.error(str(exc))
ready = st.session_state.get("audit_csv")
if ready and ready[0] == flt:
    st.download_button(
        "Télécharger le journal (CSV)", ready[1], file_name="balise-journal-audit.csv",
        mime="text/csv", key="audit_download",
    )  # fmt: skip
