"""Referent territorial animators of each department (``data/animateurs.csv``, an example with
fictitious people on example.org and phone numbers from the range ARCEP keeps for fiction).

The CSV is loaded into the ``animators`` table by :func:`load_animators` (after an edit); until
then the referents are read from the file itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from balise.config import DEFAULT_DATA_DIR
from balise.errors import SourceError
from balise.models import Animator
from balise.services.queries import frame

DEFAULT_FILE = DEFAULT_DATA_DIR / "animateurs.csv"
COLUMNS = ("nom", "email", "telephone", "departements")


def read_animators(text: str) -> list[dict]:
    """Pure reader: CSV text -> rows for the ``animators`` table."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SourceError(
            f"Colonnes manquantes dans le fichier des animateurs : {', '.join(missing)}."
        )
    rows = []
    for r in reader:
        departments = ",".join(d.strip() for d in (r["departements"] or "").split(",") if d.strip())
        rows.append({"name": r["nom"].strip(), "email": r["email"].strip().lower(),
                     "phone": (r["telephone"] or "").strip() or None, "departments": departments})  # fmt: skip
    return rows


def load_animators(engine: Engine, path: Path = DEFAULT_FILE) -> int:
    """Replace the table's content with the file's; returns the number of animators."""
    rows = read_animators(path.read_text(encoding="utf-8"))
    with engine.begin() as conn:
        conn.execute(delete(Animator))
        if rows:
            conn.execute(insert(Animator), rows)
    return len(rows)


def referents(
    engine: Engine, departments: Iterable[str], path: Path = DEFAULT_FILE
) -> pd.DataFrame:
    """(department, name, email, phone) of the referents of ``departments`` (public contacts:
    no permission needed). While the table is empty, the example file is read as is: a page
    view never writes (it would wait for the write lock while an ingest runs)."""
    stmt = select(Animator.departments, Animator.name, Animator.email, Animator.phone).order_by(
        Animator.name
    )
    wanted = list(departments)
    people = frame(engine, stmt, ["departments", "name", "email", "phone"])
    if people.empty and path.exists():
        people = pd.DataFrame(read_animators(path.read_text(encoding="utf-8")))
    rows = [(d, p.name, p.email, p.phone) for p in people.itertuples()
            for d in p.departments.split(",") if d in wanted]  # fmt: skip
    out = pd.DataFrame(rows, columns=["department", "name", "email", "phone"])
    return out.sort_values(["department", "name"], ignore_index=True)
