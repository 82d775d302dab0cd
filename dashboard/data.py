"""The only place with Streamlit caches. Each function wraps one ``balise.services`` read.

Cache keys carry the store's data version (newest snapshot id), so a new ingest shows at the next
rerun; and the acting user, so that later logins never share another user's cached figures.
Sections: store and settings / adoption / structures / changes / exports. Append new cached reads
in a section of their own.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from balise.config import Settings, load_settings
from balise.db import engine_for
from balise.services import adoption, changes, geo, pack, snapshots, structures
from balise.services.access import Actor
from balise.services.structures import StructureFilter

Deps = tuple[str, ...]

# --- store and settings -------------------------------------------------------------------


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def _engine():
    return engine_for(settings().resolved_database_url())


@st.cache_data(ttl=15, show_spinner=False)
def data_version() -> int:
    """Newest snapshot id; re-read every 15 s at most (one tiny query)."""
    try:
        return snapshots.data_version(_engine())
    except Exception:  # an empty or unmigrated store: the pages explain what to run
        return 0


@st.cache_data(show_spinner=False)
def latest_snapshots(version: int) -> pd.DataFrame:
    return snapshots.latest_by_source(_engine())


@st.cache_data(show_spinner=False)
def directory_snapshots(version: int) -> pd.DataFrame:
    return snapshots.directory_snapshots(_engine())


@st.cache_resource(show_spinner=False)
def boundaries(source: str) -> dict | None:
    return geo.boundaries(settings())


@st.cache_resource(show_spinner=False)
def tile_grid() -> pd.DataFrame:
    return geo.tile_grid()


# --- adoption -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def headline(version: int, actor: Actor, deps: Deps) -> dict:
    return adoption.headline(_engine(), actor, deps)


@st.cache_data(show_spinner=False)
def coverage(version: int, actor: Actor, deps: Deps, by: str = "department") -> pd.DataFrame:
    return adoption.coverage(_engine(), actor, deps, by=by)


@st.cache_data(show_spinner=False)
def mailbox_mix(version: int, actor: Actor, deps: Deps, by: str = "department") -> pd.DataFrame:
    return adoption.mailbox_mix(_engine(), actor, deps, by=by)


@st.cache_data(show_spinner=False)
def trend(version: int, actor: Actor, deps: Deps) -> pd.DataFrame:
    return adoption.trend(_engine(), actor, deps)


# --- structures ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def structure_list(version: int, actor: Actor, deps: Deps, flt: StructureFilter) -> pd.DataFrame:
    return structures.structures(_engine(), actor, deps, flt)


@st.cache_data(show_spinner=False)
def cities(version: int, actor: Actor, deps: Deps) -> list[str]:
    return structures.cities(_engine(), actor, deps)


@st.cache_data(show_spinner=False)
def establishment(version: int, actor: Actor, finess_et: str) -> dict:
    return structures.establishment(_engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_mailboxes(version: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_mailboxes(_engine(), actor, finess_et)


@st.cache_data(show_spinner=False)
def establishment_history(version: int, actor: Actor, finess_et: str) -> pd.DataFrame:
    return structures.establishment_history(_engine(), actor, finess_et)


# --- changes ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def changes_between(
    version: int, actor: Actor, deps: Deps, before: int, after: int, by: str
) -> pd.DataFrame:
    return changes.changes(_engine(), actor, deps, before, after, by=by)


@st.cache_data(show_spinner=False)
def changes_totals(version: int, actor: Actor, deps: Deps, before: int, after: int) -> dict:
    return changes.totals(_engine(), actor, deps, before, after)


# --- exports (actions: never cached, built when asked) -------------------------------------


def build_pack(actor: Actor, deps: Deps) -> bytes:
    return pack.build_pack(_engine(), actor, deps)


def table_csv(actor: Actor, deps: Deps, table: str) -> bytes:
    return pack.table_csv(_engine(), actor, deps, table)
