"""Formula injection: every spreadsheet file the tool writes keeps hostile
text inert, every writer goes through ``balise.spreadsheets``, and a real LibreOffice shows the
text of an operator request instead of computing it."""

from __future__ import annotations

import ast
import csv
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import insert

from balise.cli import cli
from balise.mail.provision import REQUEST_COLUMNS, RequestBackend
from balise.models import Establishment
from balise.referentials.bal_rules import BalRequest
from balise.services import audit, events, pack
from balise.services.access import SYSTEM
from balise.spreadsheets import (
    DANGEROUS_START,
    append,
    csv_bytes,
    frame_csv,
    new_workbook,
    put,
    workbook_bytes,
)
from tests.support.adoption_seed import seed_small_adoption
from tests.support.libreoffice import libreoffice_csv

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
DOMAIN = "ehpad-lilas.mssante.fr"

# Each module that turns cells into a file, and the file kinds it writes (all checked below).
WRITERS = {
    "balise/exports.py": "pack xlsx",
    "balise/services/pack.py": "csv of each pack table",
    "balise/services/audit_log.py": "audit csv",
    "balise/mail/provision.py": "operator request xlsx + csv",
    "balise/referentials/bal_sheet.py": "BAL import template xlsx",
}
# Files written with csv.writer on purpose, outside the writer, and why.
ALLOWED_RAW_WRITERS = {
    "balise/spreadsheets.py": "the writer itself",
    "ingest/demo/finess_file.py": "a synthetic FINESS *source* extract in its published format, generated "
    "values only, read back by the ingest and never handed to a person",
}
FILE_FUNCTIONS = {"workbook_bytes", "csv_bytes", "frame_csv"}


# --- what "inert" means, checked on the files as written ---


def _formula_cells(path: Path) -> list[str]:
    book = load_workbook(path)
    return [f"{ws.title}!{c.coordinate}" for ws in book for row in ws.iter_rows() for c in row
            if c.data_type == "f"]  # fmt: skip


def _text_cells(path: Path) -> dict[str, object]:
    """Every text cell of the workbook by value (the cell itself, for its type and style)."""
    book = load_workbook(path)
    return {c.value: c for ws in book for row in ws.iter_rows() for c in row
            if isinstance(c.value, str)}  # fmt: skip


def _csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh, delimiter=";") for cell in row]


def _live_csv_cells(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would evaluate: a dangerous start that is not a plain number."""
    number = re.compile(r"-\d+(,\d+)?")
    return [c for c in cells if c.startswith(DANGEROUS_START) and not number.fullmatch(c)]


def _assert_hostile_inert_in_xlsx(path: Path) -> None:
    assert _formula_cells(path) == []
    cells = _text_cells(path)
    for value in HOSTILE:
        assert (cells[value].data_type, cells[value].quotePrefix) == ("s", True), value


# --- the files, written by the commands users run ---


@pytest.fixture
def db_with_hostile_text(empty_db):
    """The small adoption set plus structures, a category, an event and audit lines whose text
    is each hostile value."""
    seed_small_adoption(empty_db)
    rows = [{"finess_et": f"38000009{i}", "finess_ej": "380000100", "name": value, "city": value,
             "department": "38", "category_code": "-2+3", "is_medico_social": True,
             "snapshot_id": 1} for i, value in enumerate(HOSTILE)]  # fmt: skip
    with empty_db.begin() as conn:
        conn.execute(insert(Establishment), rows)
        for value in HOSTILE:
            audit.record(conn, SYSTEM, "bal.provision", value, "refused", "38")
    for value in HOSTILE:
        events.create_event(empty_db, SYSTEM, events.EventInput(value, date(2026, 10, 20), value))
    return empty_db


def _run(engine, tmp_path, *args: str):
    env = {"BALISE_USER": "", "BALISE_DATA_DIR": str(tmp_path), "BALISE_ALLOWED_DOMAINS": DOMAIN}
    url = ["--database-url", engine.url.render_as_string(hide_password=False)] if engine else []
    result = CliRunner().invoke(cli, [*url, *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def test_pack_xlsx_keeps_hostile_text_inert(db_with_hostile_text, tmp_path):
    out = tmp_path / "pack.xlsx"
    _run(db_with_hostile_text, tmp_path, "export", "xlsx", str(out), "--department", "38")
    _assert_hostile_inert_in_xlsx(out)
    # Real numbers stay numbers, and the native charts are still there.
    book = load_workbook(out)
    assert book["Départements"]["B2"].data_type == "n"
    assert len(book["Départements"]._charts) == len(book["Événements"]._charts) == 1


@pytest.mark.parametrize("table", pack.TABLES)
def test_each_csv_table_keeps_hostile_text_inert(db_with_hostile_text, tmp_path, table):
    out = tmp_path / f"{table}.csv"
    _run(db_with_hostile_text, tmp_path, "export", "csv", str(out), "--table", table)
    cells = _csv_cells(out)
    assert _live_csv_cells(cells) == []
    # Where the hostile text reaches a table, it is there with the OWASP quote.
    reached = {"structures": HOSTILE, "categories": ["-2+3"]}.get(table, [])
    assert {f"'{v}" for v in reached} <= set(cells)


def test_audit_csv_keeps_hostile_text_inert(db_with_hostile_text, tmp_path):
    out = tmp_path / "journal.csv"
    _run(db_with_hostile_text, tmp_path, "audit", "export", str(out))
    cells = _csv_cells(out)
    assert _live_csv_cells(cells) == []
    assert {f"'{v}" for v in HOSTILE} <= set(cells)


def test_operator_request_keeps_hostile_text_inert(db_with_ain_ehpad, tmp_path):
    fields = ["--service", HOSTILE[0], "--responsible", HOSTILE[1],
              "--structure-head", HOSTILE[2], "--software", HOSTILE[3], "--practice", HOSTILE[4]]  # fmt: skip
    _run(db_with_ain_ehpad, tmp_path, "bal", "provision", "--type", "ORG", "--department", "01",
         "--address", f"soins@{DOMAIN}", "--finess", "010001246", *fields,
         "--backend", "request")  # fmt: skip
    (xlsx,) = (tmp_path / "demandes").glob("demande-BAL-*.xlsx")
    _assert_hostile_inert_in_xlsx(xlsx)
    cells = _csv_cells(xlsx.with_suffix(".csv"))
    assert _live_csv_cells(cells) == []
    assert [f"'{v}" for v in HOSTILE] == [c for c in cells if c.startswith("'")]
    assert f"soins@{DOMAIN}" in cells and "010001246" in cells  # the rest is untouched


def test_import_template_has_no_formula_and_keeps_its_type_list(tmp_path):
    # No user text reaches the template: it is checked for formulas, and for what the writer
    # must not break (the type list and the text columns).
    out = tmp_path / "import_bal.xlsx"
    _run(None, tmp_path, "bal", "template", str(out))
    assert _formula_cells(out) == []
    sheet = load_workbook(out)["BAL"]
    assert sheet.data_validations.dataValidation[0].formula1 == '"PER,ORG,APP,CAB"'
    assert sheet["A1"].data_type == "s"


def test_request_file_shows_hostile_text_in_libreoffice(tmp_path):
    values = dict(zip(["service", "responsible", "structure_head", "software", "practice"],
                      HOSTILE, strict=True))  # fmt: skip
    request = BalRequest("ORG", "01", f"soins@{DOMAIN}", finess="010001246", **values)
    _, (xlsx, _) = RequestBackend(tmp_path / "demandes").provision([request])
    shown = libreoffice_csv(xlsx, tmp_path)["Demande"]
    labels = [label for _, label in REQUEST_COLUMNS]
    row = dict(zip(shown[0], shown[1], strict=False))
    assert shown[0] == labels
    # The text as typed, not « y », 2, 1 or an error: nothing was computed.
    assert [row[dict(REQUEST_COLUMNS)[k]] for k in values] == HOSTILE


# --- the writer's own rules ---


def test_numbers_dates_and_safe_text_keep_their_type(tmp_path):
    book = new_workbook()
    append(book.active, [-2, -2.5, date(2026, 11, 25), "EHPAD", "=1+1", pd.NA, None])
    out = tmp_path / "types.xlsx"
    out.write_bytes(workbook_bytes(book))
    row = next(load_workbook(out).active.iter_rows())
    assert [c.data_type for c in row[:5]] == ["n", "n", "d", "s", "s"]
    assert [row[0].value, row[1].value, row[3].quotePrefix, row[4].quotePrefix] == [
        -2, -2.5, False, True
    ]  # fmt: skip
    header = ["n", "x", "d", "t", "f", "na"]
    text = csv_bytes(header, [[-2, -2.5, datetime(2026, 11, 25, 9), "-", "\r=1", None]])
    assert text.decode("utf-8-sig") == "n;x;d;t;f;na\r\n-2;-2,5;25/11/2026;'-;\"'\r=1\";\r\n"


def test_cells_written_directly_are_sealed_on_save(tmp_path):
    book = new_workbook()
    book.active["A1"] = "=1+1"  # bypasses put/append: a formula cell for openpyxl
    book.active.cell(row=2, column=1, value="@x")
    out = tmp_path / "sealed.xlsx"
    out.write_bytes(workbook_bytes(book))
    cells = load_workbook(out).active
    assert [(c.value, c.data_type, c.quotePrefix) for (c,) in cells.iter_rows()] == [
        ("=1+1", "s", True),
        ("@x", "s", True),
    ]


def test_control_characters_do_not_stop_the_file(tmp_path):
    book = new_workbook()
    put(book.active, 1, 1, "Soins\x07 de nuit")
    out = tmp_path / "ctrl.xlsx"
    out.write_bytes(workbook_bytes(book))
    assert load_workbook(out).active["A1"].value == "Soins\ufffd de nuit"


def test_frame_csv_writes_header_and_missing_values():
    df = pd.DataFrame({"=col": ["a", None], "n": [1.5, float("nan")]})
    assert frame_csv(df).decode("utf-8-sig").splitlines() == ["'=col;n", "a;1,5", ";"]


# --- no writer bypasses the module ---


def _bypasses(source: str) -> list[str]:
    """Direct spreadsheet writing in ``source``: openpyxl's Workbook, csv writers, pandas'
    to_csv/to_excel/ExcelWriter, xlsxwriter."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.startswith("openpyxl") and "Workbook" in names:
                found.append(f"{node.lineno}: openpyxl Workbook")
            if node.module == "csv" and names & {"writer", "DictWriter"}:
                found.append(f"{node.lineno}: csv writer")
            if node.module.startswith("xlsxwriter"):
                found.append(f"{node.lineno}: xlsxwriter")
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: xlsxwriter" for a in node.names
                      if a.name.startswith("xlsxwriter")]  # fmt: skip
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if (owner, node.attr) in {("csv", "writer"), ("csv", "DictWriter"),
                                      ("openpyxl", "Workbook")}:  # fmt: skip
                found.append(f"{node.lineno}: {owner}.{node.attr}")
            elif node.attr in {"to_csv", "to_excel", "ExcelWriter"}:
                found.append(f"{node.lineno}: .{node.attr}")
    return found


def _project_modules() -> dict[str, str]:
    paths = [p for d in ("balise", "ingest", "dashboard") for p in (ROOT / d).rglob("*.py")]
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def test_the_bypass_finder_finds_each_way_around_the_writer():
    source = (
        "import csv\nimport xlsxwriter\nfrom openpyxl import Workbook\nfrom csv import writer\n"
        "csv.writer(f)\ncsv.DictWriter(f, [])\ndf.to_csv()\ndf.to_excel('x')\npd.ExcelWriter(p)\n"
    )
    assert len(_bypasses(source)) == 8


def test_no_spreadsheet_is_written_outside_the_writer():
    found = {path: hits for path, source in _project_modules().items()
             if path not in ALLOWED_RAW_WRITERS and (hits := _bypasses(source))}  # fmt: skip
    assert found == {}


def test_every_file_writer_is_checked_above():
    """The modules that produce a file through the writer are exactly those whose files the
    tests above check: a new one must add its file kind to WRITERS (and a test)."""
    producers = set()
    for path, source in _project_modules().items():
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.ImportFrom) and node.module == "balise.spreadsheets"
                    and FILE_FUNCTIONS & {a.name for a in node.names}):  # fmt: skip
                producers.add(path)
    assert producers == set(WRITERS)
