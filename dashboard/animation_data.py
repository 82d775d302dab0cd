"""The cached reads of territorial animation and the programme: the onboarding pipeline and
events (keyed by the *animation marker*: the facts and the newest audit line, which every
animation action and every automatic advance writes), indicators, organisations, outreach
priorities and usage beside peers (keyed by the *programme marker*: the animation marker plus
the catalogue and weights files' modification times, so an edited threshold shows at once).

Same rules as ``dashboard.data``: each function wraps one ``balise.services`` read and takes
first the marker of what it reads, then the acting user."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from balise.services.access import Actor
from dashboard.data import Departments, activity_marker, bal_marker, data_marker
from dashboard.store import engine, settings

# --- territorial animation: onboarding pipeline, events -------------------------------------
# Cached under an "animation marker": the facts (snapshots, BALs and tests, activity) and the
# newest audit line, which every animation action and every automatic advance (ingest, poll,
# worker: never a page view) writes.


def animation_marker() -> str:
    from balise.services import onboarding_reads

    return f"{data_marker()}|{bal_marker()}|{activity_marker()}|{onboarding_reads.change_marker(engine())}"


@st.cache_data(show_spinner=False)
def onboarding_board(marker: str, actor: Actor, department: str) -> pd.DataFrame:
    from balise.services import onboarding_reads

    return onboarding_reads.board(engine(), actor, department)


@st.cache_data(show_spinner=False)
def onboarding_funnel(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import onboarding_reads

    return onboarding_reads.funnel(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def onboarding_overdue(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import onboarding_reads

    return onboarding_reads.overdue(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def onboarding_history(marker: str, actor: Actor, finess: str) -> pd.DataFrame:
    from balise.services import onboarding_reads

    return onboarding_reads.history(engine(), actor, finess)


@st.cache_data(show_spinner=False)
def referents(departments: Departments) -> pd.DataFrame:
    from balise.services import animators

    return animators.referents(engine(), departments)


@st.cache_data(show_spinner=False)
def events_list(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import events

    return events.list_events(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def event_attendance(marker: str, actor: Actor, event_id: int) -> pd.DataFrame:
    from balise.services import events

    return events.attendance(engine(), actor, event_id)


@st.cache_data(show_spinner=False)
def event_comparison(marker: str, actor: Actor, event_id: int) -> pd.DataFrame:
    from balise.services import events

    return events.adoption_comparison(engine(), actor, event_id)


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

    return esms_facts.default_month(engine())


@st.cache_data(show_spinner=False)
def indicator_report(marker: str, actor: Actor, departments: Departments, year: int | None, month):
    from balise.services import indicators

    return indicators.evaluate(engine(), actor, departments, year, month, settings().indicators_dir)


def indicator_misses(report, indicator_id: str, department: str) -> pd.DataFrame:
    """The drill-down: a plain function of the cached report."""
    from balise.services import indicators

    return indicators.misses(report, indicator_id, department)


@st.cache_data(show_spinner=False)
def organisations(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.organisations(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def high_leverage(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.high_leverage(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def organisation_esms(marker: str, actor: Actor, finess_ej: str) -> pd.DataFrame:
    from balise.services import organisations as orgs

    return orgs.organisation_esms(engine(), actor, finess_ej)


@st.cache_data(show_spinner=False)
def groupings(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import finess_groups

    return finess_groups.groupings(engine(), actor, departments)


@st.cache_data(show_spinner=False)
def grouping_esms(marker: str, actor: Actor, group_id: str) -> pd.DataFrame:
    from balise.services import finess_groups

    return finess_groups.grouping_esms(engine(), actor, group_id)


@st.cache_data(show_spinner=False)
def outreach_priorities(
    marker: str, actor: Actor, departments: Departments, top: int
) -> pd.DataFrame:
    from balise.services import priorities

    return priorities.priorities(engine(), actor, departments, top)


@st.cache_data(show_spinner=False)
def peer_usage(marker: str, actor: Actor, departments: Departments) -> pd.DataFrame:
    from balise.services import usage_peers

    return usage_peers.peer_usage(engine(), actor, departments)


@st.cache_resource(show_spinner=False)
def national_usage():
    from balise.services import usage_peers

    return usage_peers.national_usage()
