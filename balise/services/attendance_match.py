"""Matching the lines of an attendance sheet to FINESS establishments.

1. A FINESS number that exists -> ``exact``.
2. Else the normalised name and commune: the same name in the same commune -> ``exact``; a close
   name in the same commune, or a very close (or the same) name elsewhere in the event's
   departments -> ``fuzzy``, which a person confirms or rejects (review step); else ``none``.

Similarity is difflib's ratio, raised to 1 when every word of the shorter name is in the longer
one (« EHPAD Les Tilleuls » in « EHPAD Résidence Les Tilleuls »), because sign-in sheets
shorten names far more often than they misspell them.
"""

from __future__ import annotations

from collections import defaultdict
from difflib import SequenceMatcher
from typing import NamedTuple

from sqlalchemy import Connection, select

from balise.models import Establishment
from balise.referentials.attendance_sheet import AttendanceRow, normalise_commune, normalise_name
from balise.services.queries import in_departments

SAME_COMMUNE_MIN = 0.6  # a close name in the named commune
ANYWHERE_MIN = 0.9  # without the commune, only a near-identical name


class Match(NamedTuple):
    finess_et: str | None
    kind: str  # exact | fuzzy | none
    score: float | None


def similarity(a: str, b: str, floor: float = 0.0) -> float:
    """Similarity of two normalised names, 0..1 (module docstring); 0 when it is surely below
    ``floor`` (difflib's cheap upper bounds skip most of a region's names)."""
    if not a or not b:
        return 0.0
    wa, wb = set(a.split()), set(b.split())
    if min(len(wa), len(wb)) >= 2 and (wa <= wb or wb <= wa):
        return 1.0
    matcher = SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


class Matcher:
    """Loads the candidate establishments once, then matches rows one by one."""

    def __init__(self, conn: Connection, departments: tuple[str, ...] | None):
        self.conn = conn
        rows = conn.execute(
            select(Establishment.finess_et, Establishment.name, Establishment.city).where(
                Establishment.is_medico_social.is_(True),
                in_departments(Establishment.department, departments),
            )
        ).all()
        self.by_commune: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.everywhere: list[tuple[str, str]] = []
        for finess, name, city in rows:
            entry = (finess, normalise_name(name))
            self.by_commune[normalise_commune(city)].append(entry)
            self.everywhere.append(entry)

    def _known_finess(self, finess: str) -> bool:
        return bool(
            self.conn.scalar(
                select(Establishment.finess_et).where(Establishment.finess_et == finess)
            )
        )

    def match(self, row: AttendanceRow) -> Match:
        finess = (
            row.finess.zfill(9) if row.finess.isdigit() and len(row.finess) == 8 else row.finess
        )
        if finess and self._known_finess(finess):
            return Match(finess, "exact", 1.0)
        name = normalise_name(row.name)
        if not name:
            return Match(None, "none", None)
        local = self.by_commune.get(normalise_commune(row.commune), []) if row.commune else []
        same = [f for f, n in local if n == name]
        if len(same) == 1:
            return Match(same[0], "exact", 1.0)
        best = _best(name, local, SAME_COMMUNE_MIN) or _best(name, self.everywhere, ANYWHERE_MIN)
        if best is None:
            return Match(None, "none", None)
        finess, score, tied = best
        # Two structures as close as each other (same name in two communes of the same name):
        # guessing would be wrong half the time, so the line is left for a person to assign.
        return Match(None if tied else finess, "none" if tied else "fuzzy", round(score, 3))


def _best(
    name: str, candidates: list[tuple[str, str]], floor: float
) -> tuple[str, float, bool] | None:
    """The closest candidate at or above ``floor``, its score, and whether another candidate
    scores the same."""
    scored = sorted(
        ((similarity(name, other, floor), finess) for finess, other in candidates), reverse=True
    )
    if not scored or scored[0][0] < floor:
        return None
    tied = len(scored) > 1 and scored[1][0] >= scored[0][0] - 1e-9
    return scored[0][1], scored[0][0], tied
