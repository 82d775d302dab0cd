"""Pages lay out widgets only: no SQL text and no SQLAlchemy import under dashboard/views/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[1] / "dashboard" / "views").glob("*.py"))
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*?\bFROM|INSERT\s+INTO|UPDATE\b[\s\S]*?\bSET|DELETE\s+FROM)\b", re.IGNORECASE
)


def sql_problems(source: str) -> list[str]:
    """What in ``source`` is SQL or reaches the database directly."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        problems += [
            f"imports {n}" for n in names if n.split(".")[0] in {"sqlalchemy", "sqlite3", "psycopg"}
        ]
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL.search(node.value)
        ):
            problems.append(f"SQL text: {node.value[:60]!r}")
    return problems


def test_there_are_pages():
    assert len(PAGES) >= 6


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_has_no_sql(page):
    assert sql_problems(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy",
        "from sqlalchemy import select",
        "from sqlalchemy.orm import Session",
        "q = 'select name from establishments'",
        "q = '''DELETE FROM mailboxes'''",
        "q = 'INSERT INTO t VALUES (1)'",
        "q = 'update snapshots set is_demo = 1'",
    ],
)
def test_the_check_catches_sql(source):
    assert sql_problems(source)


def test_french_prose_is_not_sql():
    assert sql_problems("st.info('Sélectionnez un département à partir de la liste')") == []
