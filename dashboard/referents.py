"""The referent animators of the selected departments, one line per department and referent in
a small table (open when few departments are selected): shown on the Département and
Accompagnement pages, read from ``data/animateurs.csv``."""

from __future__ import annotations

import streamlit as st

from balise.formatting import MISSING, fr_int
from balise.services.labels import department_label
from dashboard import animation_data
from dashboard.markdown import plain


def referents_block(departments: tuple[str, ...]) -> None:
    refs = animation_data.referents(departments)
    if refs.empty:
        st.caption("Aucun animateur référent enregistré pour ces départements.")
        return
    rows = [
        f"| {plain(department_label(r.department))} | {plain(r.name)} | {plain(r.email)} | "
        f"{plain(r.phone) if isinstance(r.phone, str) and r.phone else MISSING} |"
        for r in refs.itertuples()
    ]
    header = "| Département | Animateur | E-mail | Téléphone |\n|---|---|---|---|\n"
    with st.expander(f"Animateurs référents ({fr_int(len(refs))})", expanded=len(departments) <= 3):
        st.markdown(header + "\n".join(rows))
