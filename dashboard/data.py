"""The only place with Streamlit caches. Each function wraps one ``balise.services`` read.

Each cached read takes first a *marker* of the part of the store it reads (``data_marker``: the
newest snapshot id; ``bal_marker``, ``activity_marker``, ``audit_marker``, ``animation_marker``,
``facts_marker``, ``programme_marker``: one tiny query each), so that a change shows at the next
rerun; and the acting user, so that later logins never share another user's cached figures.
``departments`` is always the selection of departments (a tuple of INSEE codes).
Sections: store and settings / adoption / structures / changes / exports. Append new cached reads
in a section of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from balise.config import Settings, load_settings
from balise.db import engine_for
from balise.services import adoption, changes, geo, ingest_alerts, pack, snapshots, structures
from balise.services.access import Actor
from balise.services.structures import StructureFilter

Departments = tuple[str, ...]
log = logging.getLogger(__name__)

# --- store and settings -------------------------------------------------------------------


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def _engine():
    return engine_for(settings().resolved_database_url())


@st.cache_data(ttl=15, show_spinner=False)
def data_marker() -> int:
    """Newest snapshot id (0 in a store with no data yet); re-read every 15 s at most (one tiny
    query). A database error is raised, never read as « no data yet »: see store_errors."""
    return snapshots.data_version(_engine())


STORE_DOWN = (
    "La base de données ne répond pas ou est illisible : rien n'est affiché plutôt qu'un "
    "chiffre faux. Réessayez dans un instant ; si cela dure, prévenez l'administrateur "
    "(détails dans le journal du serveur)."
)
STORE_NOT_CREATED = (
    "La base de données n'est pas encore créée : lancez « balise demo » pour des données de "
    "démonstration, ou « balise ingest annuaire SOURCE »."
)


@contextmanager
def store_errors() -> Iterator[None]:
    """Around the whole run (dashboard/app.py): a database error anywhere becomes one French
    error on the page and its details go to the server log (the driver's message, not the
    statement's parameters); the run stops there."""
    try:
        yield
    except SQLAlchemyError as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc  # no statement parameters
        log.error("database error while drawing the page: %s: %s", type(exc).__name__, detail)
        st.error(STORE_NOT_CREATED if _store_not_created() else STORE_DOWN)
        st.stop()


def _store_not_created() -> bool:
    try:
        return not inspect(_engine()).has_table("alembic_version")
    except SQLAlchemyError:  # unreachable too: the generic message
        return False


@st.cache_data(show_spinner=False)
def latest_snapshots(marker: int) -> pd.DataFrame:
    return snapshots.latest_by_source(_engine())


@st.cache_data(show_spinner=False)
def directory_snapshots(marker: int) -> pd.DataFrame:
    return snapshots.directory_snapshots(_engine())


@st.cache_resource(show_spinner=False)
def boundaries(source: str) -> dict | None:
    return geo.boundaries(settings())


@st.cache_resource(show_spinner=False)
def tile_grid() -> pd.DataFrame:
    return geo.tile_grid()


# --- adoption -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def headline(marker: int, actor: Actor, departments: Departments) -> dict:
    return adoption.headline(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def coverage(
    marker: int, actor: Actor, departments: Departments, by: str = "department"
) -> pd.DataFrame:
    return adoption.coverage(_engine(), actor, departments, by=by)


@st.cache_data(show_spinner=False)
def mailbox_mix(
    marker: int, actor: Actor, departments: Departments, by: str = "department"
) -> pd.DataFrame:
    return adoption.mailbox_mix(_engine(), actor, departments, by=by)


@st.cache_data(show_spinner=False)
def trend(marker: int, actor: Actor, departments: Departments) -> pd.DataFrame:
    return adoption.trend(_engine(), actor, departments)


def open_ingest_alerts(actor: Actor, departments: Departments) -> pd.DataFrame:
    """Imports refused by the deletion gate, awaiting a decision (a tiny table: not cached, so
    a new alert or a decision shows at once)."""
    return ingest_alerts.open_alerts(_engine(), actor, departments)


def dismiss_ingest_alert(actor: Actor, alert_id: int) -> None:
    ingest_alerts.dismiss(_engine(), actor, alert_id, "ignorée depuis la Vue régionale")


# --- structures ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def structure_list(
    marker: int, actor: Actor, departments: Departments, flt: StructureFilter
) -> pd.DataFrame:
    return structures.structures(_engine(), actor, departments, flt)


@st.cache_data(show_spinner=False)
def cities(marker: int, actor: Actor, departments: Departments) -> list[str]:
    return structures.cities(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def establishment(marker: int, actor: Actor, finess_et: str) -> dict:
    return structures.establishment(_engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_mailboxes(marker: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_mailboxes(_engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_history(marker: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_history(_engine(), actor, finess_et)


# --- changes ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def changes_between(
    marker: int, actor: Actor, departments: Departments, before: int, after: int, by: str
) -> pd.DataFrame:
    return changes.changes(_engine(), actor, departments, before, after, by=by)


@st.cache_data(show_spinner=False)
def changes_totals(
    marker: int, actor: Actor, departments: Departments, before: int, after: int
) -> dict:
    return changes.totals(_engine(), actor, departments, before, after)


# --- exports (actions: never cached, built when asked) -------------------------------------


def build_pack(actor: Actor, departments: Departments) -> bytes:
    return pack.build_pack(_engine(), actor, departments, settings().indicators_dir)


def table_csv(actor: Actor, departments: Departments, table: str) -> bytes:
    return pack.table_csv(_engine(), actor, departments, table)


# --- BAL provisioning and round-trip tests -------------------------------------------------
# Lists are cached under the BAL marker (count + last change of provisioned BALs and tests,
# one tiny query) so that an action shows at the next rerun; actions are never cached.


BAL_TEST_TIMEOUT_S = 30.0


def _bal_services():
    from balise.services import bal_import, bal_tests, provisioning

    return provisioning, bal_tests, bal_import


def bal_marker() -> str:
    provisioning, _, _ = _bal_services()
    return provisioning.change_marker(_engine())


@st.cache_data(show_spinner=False)
def bal_list(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    provisioning, _, _ = _bal_services()
    return provisioning.bals_frame(_engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_status_counts(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    provisioning, _, _ = _bal_services()
    return provisioning.status_counts(_engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_test_history(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    _, bal_tests, _ = _bal_services()
    return bal_tests.history(_engine(), actor, list(departments))


@st.cache_data(show_spinner=False)
def bal_outcome_counts(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    _, bal_tests, _ = _bal_services()
    return bal_tests.outcome_counts(_engine(), actor, list(departments))


def bal_check(actor: Actor, request) -> list[tuple[str, str]]:
    provisioning, _, _ = _bal_services()
    return provisioning.check_request(_engine(), actor, settings(), request)


def audit_refusal(actor: Actor, action: str, exc) -> None:
    """One audit line for a refusal no service has audited yet (a refused read)."""
    from balise.services.refusals import audit_refusal as record

    record(_engine(), actor, action, exc)


def bal_finess_owner(actor: Actor, finess: str):
    provisioning, _, _ = _bal_services()
    return provisioning.finess_owner(_engine(), actor, finess)


def bal_provision(actor: Actor, request):
    provisioning, _, _ = _bal_services()
    return provisioning.provision(_engine(), actor, settings(), request)


def bal_confirm(actor: Actor, address: str) -> str:
    provisioning, _, _ = _bal_services()
    return provisioning.confirm(_engine(), actor, address)


def bal_import_check(actor: Actor, data: bytes):
    _, _, bal_import = _bal_services()
    return bal_import.dry_run(_engine(), actor, settings(), data)


def bal_import_apply(actor: Actor, data: bytes):
    _, _, bal_import = _bal_services()
    return bal_import.apply(_engine(), actor, settings(), data)


def bal_run_test(actor: Actor, address: str, case_id: str, with_xdm: bool, on_step=None):
    _, bal_tests, _ = _bal_services()
    return bal_tests.run_bal_test(
        _engine(), actor, settings(), address, case_id=case_id, with_xdm=with_xdm,
        timeout=BAL_TEST_TIMEOUT_S, on_step=on_step,
    )  # fmt: skip


def bal_run_department(actor: Actor, department: str):
    _, bal_tests, _ = _bal_services()
    return bal_tests.run_department_tests(
        _engine(), actor, settings(), department, timeout=BAL_TEST_TIMEOUT_S
    )


def bal_endpoints(actor: Actor, address: str) -> dict | None:
    """How a BAL at an operator is reached (servers, login, auth; the secret only described)."""
    from balise.services import activity

    return activity.endpoints(_engine(), actor, address)


def bal_save_endpoints(actor: Actor, request) -> bool:
    """Register or change a BAL's servers (``activity.WatchRequest``); True when added."""
    from balise.services import activity

    return activity.save_endpoints(_engine(), actor, request, settings().secret_key)


def bal_use_cases() -> dict[str, str]:
    from balise.mail.probe_message import load_use_cases

    return {case.id: case.title for case in load_use_cases().values()}


def bal_template() -> bytes:
    from balise.referentials.bal_sheet import template_bytes

    return template_bytes()


def bal_operator_status() -> str | None:
    """What is missing for provisioning and tests to work, in French; None when ready."""
    provisioning, _, _ = _bal_services()
    return provisioning.operator_problem(settings())


# --- mailbox activity ----------------------------------------------------------------------
# Cached under an "activity marker" (watched mailboxes count + last poll time, one tiny query)
# so that a new poll shows at the next rerun.


def activity_marker() -> str:
    from balise.services import activity

    return activity.change_marker(_engine())


@st.cache_data(show_spinner=False)
def activity_headline(marker: str, actor: Actor, departments: Departments) -> dict:
    from balise.services import activity

    return activity.headline(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_weekly(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.weekly_messages(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_flows(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.category_flows(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_silent(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.silent_mailboxes(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def activity_poll_status(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import activity

    return activity.poll_status(_engine(), actor, departments)


# --- accounts, sign-in and audit trail ------------------------------------------------------
# Sign-ins and exports are actions: never cached. Audit reads are cached under the newest
# audit line's id, so a new line shows at the next rerun.


def user_count() -> int:
    from balise.services import users

    return users.count_users(_engine())


def local_login(login: str, password: str) -> Actor:
    from balise.services import users

    return users.authenticate(_engine(), login, password)


def oidc_login(claims: dict) -> Actor:
    from balise.services import users

    s = settings()
    names = users.ClaimNames(s.oidc_role_claim, s.oidc_departments_claim)
    return users.oidc_actor(_engine(), claims, names)


def audit_marker() -> int:
    from balise.services import audit_log

    return audit_log.marker(_engine())


@st.cache_data(show_spinner=False)
def audit_entries(marker: int, actor: Actor, flt) -> pd.DataFrame:
    from balise.services import audit_log

    return audit_log.entries(_engine(), actor, flt)


@st.cache_data(show_spinner=False)
def audit_choices(marker: int, actor: Actor) -> dict[str, list[str]]:
    from balise.services import audit_log

    return audit_log.choices(_engine(), actor)


def audit_csv(actor: Actor, flt) -> bytes:
    from balise.services import audit_log

    return audit_log.export_csv(_engine(), actor, flt)


# --- territorial animation: onboarding pipeline, events -------------------------------------
# Cached under an "animation marker": the facts (snapshots, BALs and tests, activity) and the
# newest audit line, which every animation action and automatic advance writes.


def animation_marker() -> str:
    from balise.services import onboarding

    return (
        f"{data_marker()}|{bal_marker()}|{activity_marker()}|{onboarding.change_marker(_engine())}"
    )


@st.cache_data(show_spinner=False)
def onboarding_advance(facts: str) -> int:
    """Advance stages from facts once per change of facts (idempotent, so caching it only
    spares repeated work)."""
    from balise.services import onboarding

    # A page view never waits for the write lock: while an ingest holds it, the advance is
    # deferred (the ingest advances the pipeline itself when it commits).
    return onboarding.advance_from_facts(_engine(), wait_s=0)


def facts_marker() -> str:
    return f"{data_marker()}|{bal_marker()}|{activity_marker()}"


@st.cache_data(show_spinner=False)
def onboarding_board(marker: str, actor: Actor, department: str) -> pd.DataFrame:
    from balise.services import onboarding

    return onboarding.board(_engine(), actor, department)


@st.cache_data(show_spinner=False)
def onboarding_funnel(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import onboarding

    return onboarding.funnel(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def onboarding_overdue(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import onboarding

    return onboarding.overdue(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def onboarding_history(marker: str, actor: Actor, finess: str) -> pd.DataFrame:
    from balise.services import onboarding

    return onboarding.history(_engine(), actor, finess)


@st.cache_data(show_spinner=False)
def referents(departments: Departments) -> pd.DataFrame:
    from balise.services import animators

    return animators.referents(_engine(), departments)


def onboarding_move(actor: Actor, finess: str, stage: str, reason: str | None) -> None:
    from balise.services import onboarding

    onboarding.move(_engine(), actor, finess, stage, reason)


def onboarding_plan(actor: Actor, finess: str, follow_up) -> None:
    from balise.services import onboarding

    onboarding.plan_follow_up(_engine(), actor, finess, follow_up)


@st.cache_data(show_spinner=False)
def events_list(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import events

    return events.list_events(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def event_attendance(marker: str, actor: Actor, event_id: int) -> pd.DataFrame:
    from balise.services import events

    return events.attendance(_engine(), actor, event_id)


@st.cache_data(show_spinner=False)
def event_comparison(marker: str, actor: Actor, event_id: int) -> pd.DataFrame:
    from balise.services import events

    return events.adoption_comparison(_engine(), actor, event_id)


def event_create(actor: Actor, event) -> int:
    from balise.services import events

    return events.create_event(_engine(), actor, event)


def event_delete(actor: Actor, event_id: int) -> None:
    from balise.services import events

    events.delete_event(_engine(), actor, event_id)


def attendance_import(actor: Actor, event_id: int, data: bytes, filename: str):
    from balise.services import events

    return events.import_attendance(_engine(), actor, event_id, data, filename)


def attendance_review(actor: Actor, line_id: int, accept: bool, finess: str = "") -> None:
    from balise.services import events

    events.review(_engine(), actor, line_id, accept, finess)


def users_frame(actor: Actor) -> pd.DataFrame:
    """Accounts without any hash (a small table: not cached, so changes show at once)."""
    from balise.services import users

    return users.list_users(_engine(), actor)


def user_add(actor: Actor, new) -> Actor:
    from balise.services import users

    return users.add_user(_engine(), actor, new)


def user_set_role(actor: Actor, login: str, role: str, departments: list[str]) -> None:
    from balise.services import users

    users.set_role(_engine(), actor, login, role, departments)


def user_disable(actor: Actor, login: str) -> None:
    from balise.services import users

    users.disable_user(_engine(), actor, login)


def user_set_password(actor: Actor, login: str, password: str) -> None:
    from balise.services import users

    users.set_password(_engine(), actor, login, password)


# --- programme: indicators, organisations, outreach priorities, usage -----------------------
# Indicators and priorities read every kind of fact: cached under the animation marker plus
# the catalogue and weights files' modification times, so that an edited threshold shows at once.


def _files_marker() -> str:
    from balise.referentials.priority_weights import DEFAULT_FILE

    files = [*sorted(settings().indicators_dir.glob("*.toml")), DEFAULT_FILE]
    return "|".join(f"{f.name}:{f.stat().st_mtime_ns}" for f in files if f.exists())


def programme_marker() -> str:
    return f"{animation_marker()}|{_files_marker()}"


def catalogue_years() -> list[int]:
    from balise.referentials.indicator_catalogue import catalogue_years as years

    return years(settings().indicators_dir)


def default_month():
    from balise.services import esms_facts

    return esms_facts.default_month(_engine())


@st.cache_data(show_spinner=False)
def indicator_report(marker: str, actor: Actor, departments: Departments, year: int | None, month):
    from balise.services import indicators

    return indicators.evaluate(
        _engine(), actor, departments, year, month, settings().indicators_dir
    )


def indicator_misses(report, indicator_id: str, department: str) -> pd.DataFrame:
    """The drill-down: a plain function of the cached report."""
    from balise.services import indicators

    return indicators.misses(report, indicator_id, department)


@st.cache_data(show_spinner=False)
def organisations(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.organisations(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def high_leverage(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.high_leverage(_engine(), actor, departments)


@st.cache_data(show_spinner=False)
def organisation_esms(marker: str, actor: Actor, finess_ej: str) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.organisation_esms(_engine(), actor, finess_ej)


@st.cache_data(show_spinner=False)
def outreach_priorities(
    marker: str, actor: Actor, departments: Departments, top: int
) -> pd.DataFrame:
    from balise.services import priorities

    return priorities.priorities(_engine(), actor, departments, top)


@st.cache_data(show_spinner=False)
def peer_usage(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import usage_peers

    return usage_peers.peer_usage(_engine(), actor, departments)


@st.cache_resource(show_spinner=False)
def national_usage():
    from balise.services import usage_peers

    return usage_peers.national_usage()


# --- sources ------------------------------------------------------------------------------


@st.cache_data(ttl=60, show_spinner=False)
def source_problems(marker: int) -> list[str]:
    """What is wrong with the published sources (failed check, no change for days), re-read
    every minute: a check that finds nothing new leaves the data marker as it was."""
    from balise.services import sources

    return sources.problems(_engine(), settings())
