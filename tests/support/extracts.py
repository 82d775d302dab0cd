"""Tiny extracts in the real formats, written by the tests that need exact, known contents."""

from __future__ import annotations

from pathlib import Path

from stdnum import luhn

from ingest.sources.annuaire import DIRECTORY_HEADER


def directory_line(
    bal_type: str,
    address: str,
    structure: str = "",
    postcode: str = "38000",
    department: str = "",
    service: str = "",
    structure_type: str = "1",
    dematerialisation: str = "",
) -> str:
    cells = [""] * 31
    cells[0], cells[1] = bal_type, address
    if bal_type == "PER":
        cells[2], cells[3], cells[4] = "8", "10003456789", "810003456789"
    cells[5], cells[6], cells[7] = (structure_type if structure else ""), structure, service
    cells[17], cells[18] = dematerialisation, "STRUCTURE FICTIVE"
    cells[27], cells[28], cells[29], cells[30] = f"{postcode} VILLE", postcode, department, "FR"
    return "|".join(cells)


def write_directory(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["|".join(DIRECTORY_HEADER), *lines]) + "\n", encoding="utf-8")
    return path


def finess_line(
    et: str,
    ej: str,
    category: str,
    department: str = "38",
    postcode: str = "38000",
    name: str = "STRUCTURE FICTIVE",
) -> str:
    fields = [
        "structureet",
        et,
        ej,
        name,
        name,
        "",
        "",
        "1",
        "R",
        "DES LILAS",
        "",
        "",
        "185",
        department,
        "ISERE",
        f"{postcode} GRENOBLE",
        "",
        "",
        category,
        "LIBELLE",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "2001-01-01",
        "2001-01-01",
        "2024-01-01",
        "",
    ]
    return ";".join(fields)  # fmt: skip


def write_finess(path: Path, lines: list[str], date: str = "2026-11-01") -> Path:
    body = [f"finess;etalab;{len(lines)};{date}", *lines]
    path.write_bytes(("\n".join(body) + "\n").encode("cp1252"))
    return path


def luhn_complete(stem8: str) -> str:
    """A FINESS number: 8 digits + their Luhn key."""
    return stem8 + luhn.calc_check_digit(stem8)
