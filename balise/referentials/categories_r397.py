"""The FINESS category nomenclature TRE-R397 (``data/categories_tre_r397.csv``): the codes the
FiNESS+ flow puts in ``categorieentiteGeographiqueExercice``, their official labels, their place
in the four-level hierarchy (level 4: the categories, levels 1-3: their aggregates) and the
dashboard family each falls in. Where it comes from is written in the file's header."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR
from balise.referentials.categories import load_categories

OTHER_FAMILY = "Autres"


@dataclass(frozen=True)
class R397Code:
    code: str
    label: str
    level: int  # 1-3: aggregates, 4: a category of establishment
    parent: str  # the code one level up ("" at level 1)
    status: str  # active | deprecated (a deprecated code may remain on old establishments)
    family: str  # the dashboard family (own or inherited from the nearest aggregate)


@cache
def load_r397(path: Path = DEFAULT_DATA_DIR / "categories_tre_r397.csv") -> dict[str, R397Code]:
    """Code -> entry. Lines starting with # are comments (the sources)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    own = {r["code"]: r["famille"] for r in rows}
    parents = {r["code"]: r["parent"] for r in rows}
    return {
        r["code"]: R397Code(
            r["code"], r["libelle"], int(r["niveau"]), r["parent"], r["statut"],
            _family(r["code"], own, parents),
        )
        for r in rows
    }  # fmt: skip


def _family(code: str, own: dict[str, str], parents: dict[str, str]) -> str:
    """The dashboard family: the followed category's (data/categories_finess.csv), else the
    nearest family written on the code or one of its aggregates."""
    followed = load_categories().get(code)
    if followed is not None:
        return followed.family
    seen = set()
    while code and code not in seen:
        seen.add(code)
        if own.get(code):
            return own[code]
        code = parents.get(code, "")
    return OTHER_FAMILY


def category_label_r397(code: str) -> str | None:
    entry = load_r397().get(code)
    return entry.label if entry else None
