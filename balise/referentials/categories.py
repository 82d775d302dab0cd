"""FINESS establishment categories (``data/categories_finess.csv``): which are médico-social
(the structures animators follow) and which are partners (pharmacies, hospitals, PMI...)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR


@dataclass(frozen=True)
class Category:
    code: str
    short: str  # EHPAD, SSIAD...
    label: str
    medico_social: bool
    family: str


@cache
def load_categories(path: Path = DEFAULT_DATA_DIR / "categories_finess.csv") -> dict[str, Category]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {
            r["code"]: Category(
                r["code"], r["sigle"], r["libelle"], r["medico_social"] == "1", r["famille"]
            )
            for r in csv.DictReader(fh)
        }


def medico_social_codes() -> frozenset[str]:
    return frozenset(c.code for c in load_categories().values() if c.medico_social)


def category_short(code: str) -> str:
    cat = load_categories().get(code)
    return cat.short if cat else code
