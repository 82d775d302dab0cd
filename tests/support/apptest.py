"""Running the dashboard in Streamlit's AppTest, and reading what it rendered."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from balise.services.access import Actor

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def open_page(
    page: str | None = None, *, query_params: dict[str, str] | None = None, **state
) -> AppTest:
    """The dashboard (its store from the environment), caches emptied, opened at an address
    with ``query_params`` and with ``state`` in its session, run once; then on
    ``views/<page>.py`` if given."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query_params or {})
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    return at


def app_as(
    engine: Engine,
    monkeypatch,
    actor: Actor,
    page: str | None = None,
    *,
    query_params: dict[str, str] | None = None,
    **state,
) -> AppTest:
    """:func:`open_page` on the store of ``engine``, signed in as ``actor``."""
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return open_page(page, query_params=query_params, actor=actor, **state)


def figure(at: AppTest, index: int = 0) -> dict:
    """The ``index``-th plotly figure as plain lists (plotly encodes numeric arrays as base64
    typed arrays)."""
    return _plain(json.loads(at.get("plotly_chart")[index].proto.spec))


def _plain(value):
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
