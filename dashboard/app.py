"""Balise dashboard entry point: ``streamlit run dashboard/app.py`` (or ``balise serve``).

Builds the menu from dashboard/navigation.py, draws the shared sidebar, then runs the page."""

from __future__ import annotations

import streamlit as st

from balise.errors import PermissionDenied
from dashboard import actions, store
from dashboard.auth import account_box, require_actor
from dashboard.navigation import pages_for
from dashboard.shell import current_actor, sidebar

st.set_page_config(page_title="Balise – MSSanté médico-social", page_icon="📬", layout="wide")
with store.store_errors():  # a database error anywhere: one French error, never « no data yet »
    actor = require_actor()  # login gate: stops here until someone is signed in

    menu: dict[str, list] = {}
    for spec in pages_for(actor.role):  # a page a role cannot use is not in its menu
        menu.setdefault(spec.section, []).append(
            st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path)
        )
    page = st.navigation(menu, expanded=True)  # every page in sight: no « View more » fold
    account_box()  # after st.navigation: a button drawn before it loses its clicks
    sidebar()
    try:
        page.run()
    except PermissionDenied as exc:  # a read refused by the services (e.g. a tampered selection)
        actions.audit_refusal(current_actor(), f"page.{page.url_path}", exc)
        st.error(str(exc))
