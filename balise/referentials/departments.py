"""French departments and regions (``data/departements.csv``) and the rules that derive a
department from a postcode or a FINESS department code."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR
from balise.errors import SelectionError


@dataclass(frozen=True)
class Department:
    code: str  # INSEE code: "01".."95", "2A", "2B", "971".."988"
    name: str
    region_code: str
    region_name: str
    finess_code: str  # the 2-character code FINESS uses ("9A" for 971...), "" if unknown


@cache
def load_departments(path: Path = DEFAULT_DATA_DIR / "departements.csv") -> dict[str, Department]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh)
        return {
            r["code"]: Department(
                r["code"], r["nom"], r["region_code"], r["region_nom"], r["finess_code"]
            )
            for r in rows
        }


def department_name(code: str) -> str:
    dep = load_departments().get(code)
    return dep.name if dep else code


def region_departments(region_code: str) -> tuple[str, ...]:
    codes = tuple(d.code for d in load_departments().values() if d.region_code == region_code)
    if not codes:
        raise SelectionError(f"La région {region_code} n'existe pas dans le référentiel.")
    return codes


def department_from_postcode(postcode: str) -> str | None:
    """INSEE department of a French postcode, or None when it cannot be one.

    Corsica: 200xx-201xx is Corse-du-Sud (2A), 202xx-206xx Haute-Corse (2B). Overseas postcodes
    start with the three-digit code (971..988); 97133 and 97150 are Saint-Barthélemy and
    Saint-Martin, which FINESS still files under Guadeloupe.
    """
    pc = (postcode or "").strip()
    if len(pc) != 5 or not pc.isdigit():
        return None
    if pc.startswith("20"):
        return "2A" if pc < "20200" else "2B"
    if pc.startswith(("97", "98")):
        if pc in ("97133",):
            return "977"
        if pc in ("97150",):
            return "978"
        code = pc[:3]
        return code if code in load_departments() else None
    code = pc[:2]
    return code if code != "00" and code in load_departments() else None


@cache
def _finess_to_insee() -> dict[str, str]:
    return {d.finess_code: d.code for d in load_departments().values() if d.finess_code}


def department_from_finess(finess_code: str, postcode: str = "") -> str | None:
    """INSEE department for a FINESS ``departement`` field ("01", "2A", "9A"...).

    Where one FINESS code covers several territories (9A = Guadeloupe, Saint-Barthélemy,
    Saint-Martin) the postcode decides.
    """
    code = (finess_code or "").strip().upper()
    insee = _finess_to_insee().get(code)
    if insee and insee.startswith("97"):
        from_pc = department_from_postcode(postcode)
        if from_pc and from_pc.startswith("97"):
            return from_pc
    return insee


def normalise_department(value: str, postcode: str = "") -> str | None:
    """Department from a directory ``Département`` cell (a code or a label), else the postcode."""
    raw = (value or "").strip()
    departments = load_departments()
    if raw:
        code = raw.upper()
        if len(code) == 1 and code.isdigit():
            code = "0" + code
        if code in departments:
            return code
        head = code.split(" ", 1)[0].split("-", 1)[0]
        if head in departments and len(head) >= 2:
            return head
        by_name = {d.name.upper(): d.code for d in departments.values()}
        if code in by_name:
            return by_name[code]
    return department_from_postcode(postcode)


def resolve_selection(
    departments: str | None = None,
    region: str | None = None,
    all_departments: bool = False,
    default_region: str = "84",
    default_departments: tuple[str, ...] = (),
) -> tuple[str, ...] | None:
    """The departments a command works on; None means every department (``--all``)."""
    if all_departments:
        return None
    if departments:
        return parse_departments(departments)
    if region:
        return region_departments(region)
    if default_departments:
        return parse_departments(",".join(default_departments))
    return region_departments(default_region)


def parse_departments(text: str) -> tuple[str, ...]:
    """The codes of a ``01,38`` list, checked: an unknown code or a list naming none (``","``,
    spaces) is a SelectionError rather than a selection of nothing."""
    cells = (c.strip().upper() for c in text.split(","))
    codes = tuple(dict.fromkeys("0" + c if len(c) == 1 and c.isdigit() else c for c in cells if c))
    if not codes:
        raise SelectionError(
            f"Aucun département dans « {text} » : indiquez des codes séparés par des virgules "
            "(ex. 01,38), ou --region, ou --all."
        )
    unknown = [c for c in codes if c not in load_departments()]
    if unknown:
        raise SelectionError(f"Département inconnu : {', '.join(unknown)}.")
    return codes
