"""The directory reader's two paths give the same rows: Arrow's column-wise path on clean blocks,
the line reader (the specification) on the others. Each test reads the same bytes both ways and
compares rows, rejections (with their line numbers) and counts."""

from __future__ import annotations

import io
import random

import pytest

from ingest.demo import write_demo
from ingest.sources import annuaire
from ingest.sources.annuaire import DIRECTORY_HEADER, column_positions, read_extract
from ingest.sources.rows import ReadStats
from tests.support.spy import spy

HEADER = "|".join(DIRECTORY_HEADER)
# Values that look like the file's and hit every branch of the column-wise normalisation:
# surrounding and non-ASCII whitespace, case, invalid addresses of every kind, structure ids
# with and without their type prefix, departments from the column or only from the postcode.
TYPES = ["ORG", "org ", " PER", "APP", "CAB", "MSS", "", "Organisationnelle"]
ADDRESSES = [
    "accueil@ehpad.mssante.fr",
    "  Dr.Martin@Exemple.MSSANTE.FR ",
    "élodie.durand@exemple.mssante.fr",
    "\xa0secretariat@ime.mssante.fr\u2003",
    "sans-arobase.mssante.fr",
    "a@b",
    "double@@x.fr",
    "x@.exemple.fr",
    "x@exemple.fr.",
    "es pace@exemple.fr",
    "tab\t@exemple.fr",
    "@exemple.fr",
    "\x1cctl@exemple.fr\x1f",
    "İstanbul@exemple.fr",
    "",
]
STRUCTURES = [
    "1010000024",
    "010000024",
    "3 123 456 789 01234",
    "12345678901234",
    "",
    " ",
    "1é0000024",
]
POSTCODES = ["01000", " 38000 ", "20000", "20200", "97400", "", "99999", "2A000"]
DEPARTMENTS = ["01", "", "38", "2A", "2B", "974", "9", "1", " 69"]
FREE_TEXT = ["", "  ", "Accueil ", "\u00a0Pédiatrie\u00a0", "CARDIO", "\x1e"]
DEMATERIALISATION = ["O", "N", " o ", "", "Oui", "n", "Ö"]


def line(rng: random.Random) -> str:
    cells = [""] * 31
    cells[0], cells[1] = rng.choice(TYPES), rng.choice(ADDRESSES)
    if rng.random() < 0.3:  # unique addresses too, so that de-duplication has work
        cells[1] = f"u{rng.randrange(10**6)}@exemple.mssante.fr"
    cells[5], cells[6] = rng.choice(["1", " 3 ", ""]), rng.choice(STRUCTURES)
    cells[7], cells[13], cells[18] = (rng.choice(FREE_TEXT) for _ in range(3))
    cells[28], cells[29] = rng.choice(POSTCODES), rng.choice(DEPARTMENTS)
    cells[17] = rng.choice(DEMATERIALISATION)
    return "|".join(cells)


def read_by_lines(data: bytes, departments=None) -> tuple[list, ReadStats]:
    """The line reader alone, on the whole file."""
    stats = ReadStats()
    fh = io.BytesIO(data)
    header = fh.readline().decode("utf-8-sig").rstrip("\r\n")
    scope = frozenset(departments) if departments is not None else None
    width = header.count("|") + 1
    return list(annuaire._rows(fh, column_positions(header), width, scope, stats)), stats


def read_by_blocks(data: bytes, departments=None) -> tuple[list, ReadStats]:
    """The public reader."""
    stats = ReadStats()
    rows = list(read_extract(io.BytesIO(data), departments, stats))
    return rows, stats


def assert_same(data: bytes, departments=None) -> list:
    expected, expected_stats = read_by_lines(data, departments)
    got, stats = read_by_blocks(data, departments)
    assert got == expected
    assert (stats.lines, stats.out_of_scope) == (expected_stats.lines, expected_stats.out_of_scope)
    return got


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few hundred lines, so that one file mixes clean and unclean blocks."""
    monkeypatch.setattr(annuaire, "BLOCK_BYTES", 20_000)


@pytest.fixture
def arrow_blocks(monkeypatch) -> list:
    """Arrow's parse of each block tried, None when the line reader took it (proves which path
    really ran)."""
    return spy(monkeypatch, annuaire, "_parse_clean")


def parsed(results: list) -> list[bool]:
    return [table is not None for table in results]


@pytest.mark.parametrize("departments", [None, ["01", "2A", "974"]])
def test_tricky_values_in_clean_blocks_read_as_the_line_reader_reads_them(
    small_blocks, arrow_blocks, departments
):
    rng = random.Random(7)
    data = "\n".join([HEADER] + [line(rng) for _ in range(3000)]) + "\n"
    rows = assert_same(data.encode(), departments)
    assert all(parsed(arrow_blocks)) and len(arrow_blocks) > 5
    assert len(rows) == 3000 if departments is None else len(rows) < 3000
    reasons = {getattr(r, "reason", None) for r in rows}
    assert {annuaire.REASON_TYPE, annuaire.REASON_ADDRESS, annuaire.REASON_DEPARTMENT} <= reasons


def test_bad_lines_send_only_their_neighbourhood_to_the_line_reader(small_blocks, arrow_blocks):
    rng = random.Random(11)
    lines = [line(rng) for _ in range(3000)]
    lines[100] = "ORG|trop|court"
    lines[1500] = ""  # a blank line
    lines[2200] = lines[2200] + "\r"  # CRLF on one line only
    lines[2201] = lines[2201].replace("|", "\r", 1)  # a lone CR
    lines[2600] = "ORG|x@y.fr|\udcff"  # one line that is not UTF-8 (a lone 0xFF byte)
    data = ("\n".join([HEADER] + lines) + "\n").encode("utf-8", "surrogateescape")
    rows = assert_same(data)
    assert annuaire.REASON_FIELDS in {getattr(r, "reason", None) for r in rows}
    assert annuaire.REASON_ENCODING in {getattr(r, "reason", None) for r in rows}
    assert parsed(arrow_blocks).count(True) > parsed(arrow_blocks).count(False) > 0


@pytest.mark.parametrize(
    ("eol", "bom", "last_newline"), [("\r\n", True, True), ("\n", False, False)]
)
def test_line_ends_bom_and_a_missing_last_newline(small_blocks, eol, bom, last_newline):
    rng = random.Random(3)
    text = eol.join([HEADER] + [line(rng) for _ in range(800)]) + (eol if last_newline else "")
    assert_same(("\ufeff" if bom else "").encode() + text.encode())


def test_the_demo_extract_reads_the_same_both_ways(tmp_path, arrow_blocks):
    files = write_demo(tmp_path / "demo")
    data = files.annuaire[-1].read_bytes()
    rows = assert_same(data)
    assert len(rows) > 10_000 and any(parsed(arrow_blocks))


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_blank_lines_alone_send_their_block_to_the_line_reader(small_blocks, arrow_blocks, eol):
    """No CR out of place, every byte UTF-8: Arrow's skipping of blank lines is what betrays
    them (first, last, doubled, in the middle of a block)."""
    rng = random.Random(19)
    lines = [line(rng) for _ in range(2000)]
    for at in (0, 700, 701, 1200):
        lines[at] = ""
    data = (eol.join([HEADER] + lines) + eol + eol).encode()
    rows = assert_same(data)
    assert len(rows) == 1996
    assert parsed(arrow_blocks).count(True) > parsed(arrow_blocks).count(False) > 0
