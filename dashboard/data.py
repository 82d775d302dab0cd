"""The dashboard's reads (with ``dashboard.animation_data``, the only places with Streamlit
caches): every function wraps one ``balise.services`` query. Actions are in
``dashboard.actions`` (never cached), the store and its error handling in ``dashboard.store``.

Each cached read takes first a *marker* of the part of the store it reads (``data_marker``: the
newest snapshot id; ``bal_marker``, ``activity_marker``, ``audit_marker``, and in
``animation_data`` the animation and programme markers: one tiny query each), so that a change
shows at the next rerun; and the acting user, so that later logins never share another user's cached figures.
``departments`` is always the selection of departments (a tuple of INSEE codes). A few small
tables (alerts, accounts) are read uncached so that a change shows at once.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from balise.services import adoption, changes, geo, ingest_alerts, snapshots, structures
from balise.services.access import Actor
from balise.services.structures import StructureFilter
from dashboard.store import engine, settings

Departments = tuple[str, ...]

# --- markers and boundaries ---------------------------------------------------------------


@st.cache_data(ttl=15, show_spinner=False)
def data_marker() -> int:
    """Newest snapshot id (0 in a store with no data yet); re-read every 15 s at most (one tiny
    query). A database error is raised, never read as « no data yet »: see store_errors."""
    return snapshots.data_version(engine())


@st.cache_data(show_spinner=False)
def latest_snapshots(marker: int) -> pd.DataFrame:
    return snapshots.latest_by_source(engine())


@st.cache_data(show_spinner=False)
def directory_snapshots(marker: int) -> pd.DataFrame:
    return snapshots.directory_snapshots(engine())


@st.cache_resource(show_spinner=False)
def boundaries(source: str) -> dict | None:
    return geo.boundaries(settings())


@st.cache_resource(show_spinner=False)
def tile_grid() -> pd.DataFrame:
    return geo.tile_grid()


# --- adoption -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def headline(marker: int, actor: Actor, departments: Departments) -> dict:
    return adoption.headline(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def coverage(
    marker: int, actor: Actor, departments: Departments, by: str = "department"
) -> pd.DataFrame:
    return adoption.coverage(engine(), actor, departments, by=by)


@st.cache_data(show_spinner=False)
def mailbox_mix(
    marker: int, actor: Actor, departments: Departments, by: str = "department"
) -> pd.DataFrame:
    return adoption.mailbox_mix(engine(), actor, departments, by=by)


@st.cache_data(show_spinner=False)
def trend(marker: int, actor: Actor, departments: Departments) -> pd.DataFrame:
    return adoption.trend(engine(), actor, departments)


def open_ingest_alerts(actor: Actor, departments: Departments) -> pd.DataFrame:
    """Imports refused by the deletion gate, awaiting a decision (a tiny table: not cached, so
    a new alert or a decision shows at once)."""
    return ingest_alerts.open_alerts(engine(), actor, departments)


# --- structures ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def structure_list(
    marker: int, actor: Actor, departments: Departments, flt: StructureFilter
) -> pd.DataFrame:
    return structures.structures(engine(), actor, departments, flt)


@st.cache_data(show_spinner=False)
def structure_search_labels(marker: int, actor: Actor, departments: Departments) -> dict[str, str]:
    return structures.search_labels(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def structure_points(marker: int, actor: Actor, departments: Departments, flt: StructureFilter):
    """The Département page's map: placed ESMS and the count of those without coordinates."""
    from balise.services import structure_map

    return structure_map.structure_points(engine(), actor, departments, flt)


@st.cache_data(show_spinner=False)
def cities(marker: int, actor: Actor, departments: Departments) -> list[str]:
    return structures.cities(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def establishment(marker: int, actor: Actor, finess_et: str) -> dict:
    return structures.establishment(engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_mailboxes(marker: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_mailboxes(engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_history(marker: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_history(engine(), actor, finess_et)


# --- changes ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def changes_between(
    marker: int, actor: Actor, departments: Departments, before: int, after: int, by: str
) -> pd.DataFrame:
    return changes.changes(engine(), actor, departments, before, after, by=by)


@st.cache_data(show_spinner=False)
def changes_totals(
    marker: int, actor: Actor, departments: Departments, before: int, after: int
) -> dict:
    return changes.totals(engine(), actor, departments, before, after)


# --- BAL provisioning and round-trip tests -------------------------------------------------
# Lists are cached under the BAL marker (count + last change of provisioned BALs and tests,
# one tiny query) so that an action shows at the next rerun; actions are never cached.


def _bal_services():
    from balise.services import bal_import, bal_tests, provisioned_bals

    return provisioned_bals, bal_tests, bal_import


def bal_marker() -> str:
    provisioned_bals, _, _ = _bal_services()
    return provisioned_bals.change_marker(engine())


@st.cache_data(show_spinner=False)
def bal_list(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    provisioned_bals, _, _ = _bal_services()
    return provisioned_bals.bals_frame(engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_status_counts(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    provisioned_bals, _, _ = _bal_services()
    return provisioned_bals.status_counts(engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_test_history(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    _, bal_tests, _ = _bal_services()
    return bal_tests.history(engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_outcome_counts(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    _, bal_tests, _ = _bal_services()
    return bal_tests.outcome_counts(engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def structure_bals(marker: str, actor: Actor, finess_et: str) -> pd.DataFrame:
    """A structure's BALs in the directory and provisioned; ``marker``: the data marker and the
    BAL marker (see ``structure_bals_marker``)."""
    provisioned_bals, _, _ = _bal_services()
    return provisioned_bals.structure_bals(engine(), actor, finess_et)


def structure_bals_marker() -> str:
    return f"{data_marker()}|{bal_marker()}"


def structure_domain(addresses: list[str]) -> str | None:
    """The allowed domain a structure already uses, proposed for its next BAL."""
    from balise.services import bal_requests

    return bal_requests.structure_domain(addresses, settings().allowed_domains)


def may_act_on_bals(actor: Actor, department: str) -> bool:
    """Whether ``actor`` may provision and test BALs in ``department`` (no store read): the
    Structure page offers its « Provisionner une BAL » and « Tester » links only then."""
    from balise.errors import PermissionDenied
    from balise.services.access import check_can_act

    try:
        check_can_act(actor, department, "bal.provision")
    except PermissionDenied:
        return False
    return True


def bal_endpoints(actor: Actor, address: str) -> dict | None:
    """How a BAL at an operator is reached (servers, login, auth; the secret only described)."""
    from balise.services import watched_mailboxes

    return watched_mailboxes.endpoints(engine(), actor, address)


def bal_use_cases() -> dict[str, str]:
    from balise.mail.probe_message import load_use_cases

    return {case.id: case.title for case in load_use_cases().values()}


def bal_template() -> bytes:
    from balise.referentials.bal_sheet import template_bytes

    return template_bytes()


def bal_operator_status() -> str | None:
    """What is missing for provisioning and tests to work, in French; None when ready."""
    from balise.services import provisioning

    return provisioning.operator_problem(settings())


# --- mailbox activity ----------------------------------------------------------------------
# Cached under an "activity marker" (watched mailboxes count + last poll time, one tiny query)
# so that a new poll shows at the next rerun.


def activity_marker() -> str:
    from balise.services import activity

    return activity.change_marker(engine())


@st.cache_data(show_spinner=False)
def activity_headline(marker: str, actor: Actor, departments: Departments) -> dict:
    from balise.services import activity

    return activity.headline(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_weekly(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.weekly_messages(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_flows(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.category_flows(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_silent(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.silent_mailboxes(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_poll_status(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.poll_status(engine(), actor, departments)


# --- accounts, sign-in and audit trail ------------------------------------------------------
# Audit reads are cached under the newest
# audit line's id, so a new line shows at the next rerun.


def user_count() -> int:
    from balise.services import users

    return users.count_users(engine())


def audit_marker() -> int:
    from balise.services import audit_log

    return audit_log.marker(engine())


@st.cache_data(show_spinner=False)
def audit_entries(marker: int, actor: Actor, flt) -> pd.DataFrame:
    from balise.services import audit_log

    return audit_log.entries(engine(), actor, flt)


@st.cache_data(show_spinner=False)
def audit_choices(marker: int, actor: Actor) -> dict[str, list[str]]:
    from balise.services import audit_log

    return audit_log.choices(engine(), actor)


def users_frame(actor: Actor) -> pd.DataFrame:
    """Accounts without any hash (a small table: not cached, so changes show at once)."""
    from balise.services import users

    return users.list_users(engine(), actor)


# --- sources ------------------------------------------------------------------------------


@st.cache_data(ttl=60, show_spinner=False)
def source_problems(marker: int) -> list[str]:
    """What is wrong with the published sources (failed check, no change for days), re-read
    every minute: a check that finds nothing new leaves the data marker as it was."""
    from balise.services import sources

    return sources.problems(engine(), settings())
