"""The dashboard's three layers: ``store`` (engine, settings, errors), ``data`` (reads, cached)
and ``actions`` (never cached). A cached action would run once per set of arguments, or on
a page view: walking both modules proves neither can happen by accident."""

from __future__ import annotations

import ast
from pathlib import Path

from dashboard import actions, animation_data, data

ROOT = Path(__file__).resolve().parents[1]


def _functions(module) -> dict:
    return {
        name: fn
        for name, fn in vars(module).items()
        if callable(fn) and getattr(fn, "__module__", None) == module.__name__
    }


def _cached(fn) -> bool:
    return hasattr(fn, "clear")  # what st.cache_data / st.cache_resource add


def test_no_action_is_cached():
    found = _functions(actions)
    assert len(found) >= 20
    assert [name for name, fn in found.items() if _cached(fn)] == []


def test_reads_and_actions_do_not_share_a_name():
    reads = set(_functions(data)) | set(_functions(animation_data))
    assert set(_functions(actions)) & reads == set()
    assert set(_functions(data)) & set(_functions(animation_data)) == set()


def test_no_page_calls_an_action_at_top_level():
    """Actions run from a button, a form or an upload, never because a page was drawn: in a
    page, every ``actions.x(...)`` call sits inside a function or an ``if``/``with`` block."""
    offenders = []
    for page in sorted((ROOT / "dashboard" / "views").glob("*.py")):
        for stmt in ast.parse(page.read_text()).body:
            if isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign)):
                calls = [n for n in ast.walk(stmt) if isinstance(n, ast.Call)]
                for call in calls:
                    f = call.func
                    if isinstance(f, ast.Attribute) and getattr(f.value, "id", "") == "actions":
                        offenders.append(f"{page.name}:{stmt.lineno} actions.{f.attr}")
    assert offenders == []
