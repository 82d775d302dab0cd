"""Streamlit's widgets speak English unless told otherwise: every selection list names its
placeholder (not « Choose an option »), no multiselect offers « Select all », every date field
reads JJ/MM/AAAA, every file uploader explains itself in French. Enumerated over the dashboard's
sources, not remembered page by page (the browser test reads what is shown)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# keyword -> required value (None: present, whatever its value)
RULES = {
    "selectbox": {"placeholder": None},
    "multiselect": {"placeholder": None, "select_all": False},
    "date_input": {"format": "DD/MM/YYYY"},
    "file_uploader": {"help": None},
}
# Pages other sessions rewrite at the same time (issue 15's points 2 to 4); the lead removes
# them from this set when merging their work.
IN_OTHER_HANDS: set[str] = set()


def _problems(path: Path, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        rules = RULES.get(node.func.attr)
        if rules is None:
            continue
        given = {k.arg: k.value for k in node.keywords}
        for keyword, wanted in rules.items():
            value = given.get(keyword)
            if value is None or (
                wanted is not None
                and not (isinstance(value, ast.Constant) and value.value == wanted)
            ):
                found.append(f"{name}:{node.lineno}: {node.func.attr} without {keyword}={wanted!r}")
    return found


def test_every_widget_is_told_to_speak_french():
    paths = sorted((ROOT / "dashboard").rglob("*.py"))
    assert len(paths) > 20  # the walk sees the pages
    found = [
        p
        for path in paths
        if (name := path.relative_to(ROOT).as_posix()) not in IN_OTHER_HANDS
        for p in _problems(path, name)
    ]
    assert found == []


def test_the_walk_finds_a_widget_left_in_english(tmp_path):
    page = tmp_path / "probe.py"
    page.write_text(
        'import streamlit as st\nst.multiselect("Départements", ["01"], placeholder="Choisir")\n'
        'st.date_input("Date", format="YYYY/MM/DD")\n',
        encoding="utf-8",
    )
    assert _problems(page, "probe.py") == [
        "probe.py:2: multiselect without select_all=False",
        "probe.py:3: date_input without format='DD/MM/YYYY'",
    ]
