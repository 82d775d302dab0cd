"""The webinar pack as it is projected and printed: charts sized for a slide and sorted, the
« Accompagnement » and « Activité » sheets, print titles, the file name — read back with openpyxl
and checked in a real LibreOffice (its PDF, and the xlsx it saves again)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import insert

from balise.cli import cli
from balise.exports import Chart, Sheet, build_workbook
from balise.models import DailyActivity, Establishment, WatchedMailbox
from balise.referentials.departments import region_departments
from balise.services import onboarding, pack, pack_animation
from balise.services.access import SYSTEM, Actor
from balise.services.onboarding import FollowUp
from tests.support.libreoffice import (
    libreoffice_pdf,
    libreoffice_resaved,
    pdf_page_image,
    pdf_pages,
)
from tests.support.programme_seed import E3, WATCHED, seed_programme

ANIM38 = Actor("anim38", "animator", ("38",))
RHONE_WATCHED = "direction@bellecour.mssante.fr"  # E5's mailbox, an EHPAD like WATCHED's
E4 = "690000001"
EXTRA = 150  # more ESMS in the Isère: the structure list runs over several printed pages
TODAY = date(2026, 11, 30)
EMU_PER_CM = 360_000


@pytest.fixture
def db_with_follow_up(empty_db):
    """The programme dataset, plus: E3 (38) contacted and E4 (69) made aware, each with an
    action planned for 05/01/2026 (late); a watched mailbox in the Rhône with 60 messages on
    10/11/2026; 150 more EHPAD in the Isère."""
    seed_programme(empty_db)
    onboarding.move(empty_db, SYSTEM, E3, "contacte")
    onboarding.move(empty_db, SYSTEM, E4, "sensibilise")
    for finess in (E3, E4):
        late = FollowUp("Rappeler la direction", date(2026, 1, 5), None, None)
        onboarding.plan_follow_up(empty_db, SYSTEM, finess, late)
    extra = [{"finess_et": f"38100{i:04d}", "finess_ej": "380000100", "name": f"EHPAD n° {i}",
              "city": "GRENOBLE", "department": "38", "category_code": "500",
              "is_medico_social": True, "snapshot_id": 1} for i in range(EXTRA)]  # fmt: skip
    with empty_db.begin() as conn:
        conn.execute(insert(Establishment), extra)
        conn.execute(insert(WatchedMailbox).values(
            id=2, address=RHONE_WATCHED, department="69", imap_host="imap.exemple.fr",
            imap_port=143, tls_mode="starttls", auth_mode="password", folders="", enabled=True,
        ))  # fmt: skip
        conn.execute(insert(DailyActivity).values(
            mailbox_id=2, day=date(2026, 11, 10), direction="in", counterpart_category="500",
            messages=60, bytes=60_000,
        ))  # fmt: skip
    return empty_db


def _book(engine, actor=SYSTEM, departments=("38", "69")):
    return load_workbook(io.BytesIO(pack.build_pack(engine, actor, departments)))


def _rows(ws, header_row: int, last_row: int | None = None) -> list[tuple]:
    return list(ws.iter_rows(min_row=header_row, max_row=last_row, values_only=True))


# --- charts ---


def test_every_chart_is_a_slide_with_readable_text_and_one_legend_rule(db_with_follow_up):
    book = _book(db_with_follow_up)
    charts = {ws.title: ws._charts for ws in book if ws._charts}
    assert list(charts) == ["Départements", "Catégories", "Types de BAL", "Évolution",
                            "Créations-suppressions", "Accompagnement", "Activité", "Événements"]  # fmt: skip
    for name, (chart,) in charts.items():
        size = chart.anchor.ext
        assert (size.width / EMU_PER_CM, size.height / EMU_PER_CM) == pytest.approx(
            (25.4, 14.29), abs=0.01
        ), name
        assert size.width / size.height == pytest.approx(16 / 9, abs=0.01)
        title = chart.title.tx.rich.p[0].r[0]
        assert title.rPr.sz >= 2000 and chart.x_axis.txPr.p[0].pPr.defRPr.sz >= 1200, name
        # A legend only where there is more than one series to tell apart.
        assert (chart.legend is None) == (len(chart.series) == 1), name
        assert chart.y_axis.scaling.min == 0, name
    assert len(charts["Créations-suppressions"][0].series) == 2


def test_categories_and_types_come_largest_first(db_with_follow_up):
    book = _book(db_with_follow_up)
    categories = [r[:2] for r in _rows(book["Catégories"], 2)]
    # EHPAD: E1, E3, E8 and 150 more in the Isère, E5 in the Rhône; SSIAD: E2 and E9.
    assert categories == [("EHPAD", 154), ("SSIAD", 2), ("IME", 1)]
    # ORG m1 and m10 first; then, equal, in the usual order PER m2, APP m3, CAB m6.
    assert _rows(book["Types de BAL"], 2) == [
        ("Organisationnelle", 2), ("Personnelle", 1), ("Applicative", 1), ("Cabinet", 1)
    ]  # fmt: skip


def test_the_category_chart_keeps_the_fifteen_largest(db_with_follow_up):
    # 20 categories of 20, 19, ... 1 ESMS: the chart plots the first 15 rows and says so.
    rows = [{"finess_et": f"01{c:03d}{i:04d}", "finess_ej": "010000100", "name": f"ESMS {c}-{i}",
             "city": "BOURG", "department": "01", "category_code": str(c),
             "is_medico_social": True, "snapshot_id": 1}
            for c in range(100, 120) for i in range(c - 99)]  # fmt: skip
    with db_with_follow_up.begin() as conn:
        conn.execute(insert(Establishment), rows)
    ws = _book(db_with_follow_up, departments=("01",))["Catégories"]
    assert [r[1] for r in _rows(ws, 2)] == list(range(20, 0, -1))
    (chart,) = ws._charts
    assert chart.series[0].cat.numRef.f == "'Catégories'!$A$2:$A$16"
    assert chart.title.tx.rich.p[0].r[0].t.endswith("(les 15 qui comptent le plus d'ESMS)")


@pytest.mark.parametrize(("days", "corner", "breaks"), [(40, (42, 0), [42]), (41, (0, 4), [])])
def test_a_chart_goes_below_a_short_table_and_beside_a_long_one(days, corner, breaks):
    # 40 rows fit on a screen: the chart follows them on a page of its own; a 41st row moves it
    # beside the table (row 1, two columns right), where it is seen without scrolling.
    frame = pd.DataFrame({"Date": pd.date_range("2026-01-01", periods=days).date,
                          "ESMS": range(days), "Part": [0.5] * days})  # fmt: skip
    chart = Chart("line", "Part équipée", "Date", ("Part",))
    data = build_workbook("x", [], [Sheet("Évolution", frame, {"Part": "pct"}, chart)])
    ws = load_workbook(io.BytesIO(data))["Évolution"]
    (drawn,) = ws._charts
    assert (drawn.anchor._from.row, drawn.anchor._from.col) == corner
    assert [b.id for b in ws.row_breaks.brk] == breaks
    assert ws.print_title_rows == "$1:$1"


# --- the animation sheets ---


def test_accompaniment_sheet_has_the_stages_and_the_structures_to_call_back(db_with_follow_up):
    ws = _book(db_with_follow_up)["Accompagnement"]
    header, *stages = _rows(ws, 3, 10)
    assert header[:6] == ("Étape", "Structures", "Part des ESMS", "38 – Isère", "69 – Rhône", None)
    by_stage = {r[0]: r[1:5] for r in stages}
    assert list(by_stage) == list(onboarding.STAGES.values())
    total = 5 + EXTRA + 2
    assert by_stage["À contacter"][:1] + by_stage["À contacter"][2:] == (total - 2, 4 + EXTRA, 1)
    assert by_stage["Contacté"] == (1, pytest.approx(1 / total), 1, 0)
    assert by_stage["Sensibilisé"] == (1, pytest.approx(1 / total), 0, 1)
    title_row = int(ws.print_title_rows.split(":")[0].lstrip("$"))
    assert ws.cell(title_row - 1, 1).value == "À relancer : 2 structures"
    late = _rows(ws, title_row)
    assert late[0][:5] == ("Échéance", "Structure", "FINESS", "Département", "Étape")
    assert {(r[2], r[4]) for r in late[1:]} == {(E3, "Contacté"), (E4, "Sensibilisé")}
    assert {r[0] for r in late[1:]} == {datetime(2026, 1, 5)}
    assert ws.cell(title_row + 1, 1).number_format == "dd/mm/yyyy"


def test_activity_sheet_has_months_and_peers(db_with_follow_up):
    sheet = pack_animation.activity_sheet(db_with_follow_up, SYSTEM, ("38", "69"), TODAY)
    table = sheet.frame
    assert list(table.columns[3:9]) == ["06/2026", "07/2026", "08/2026", "09/2026", "10/2026",
                                        "11/2026"]  # fmt: skip
    rows = table.to_dict("records")
    # The busiest first: 25 messages a month (30 + 20 + 25 over 90 days) before 20 (60 / 3).
    assert [r["Adresse"] for r in rows] == [WATCHED, RHONE_WATCHED]
    assert list(table.iloc[0, 3:9]) == [0, 0, 100, 30, 20, 25]
    assert list(table.iloc[1, 3:9]) == [0, 0, 0, 0, 0, 60]
    assert [(r["Messages par mois (90 jours)"], r["Médiane de la catégorie"],
             r["BAL suivies comparées"]) for r in rows] == [(25.0, 22.5, 2), (20.0, 22.5, 2)]  # fmt: skip
    assert sheet.chart.values == ("Messages par mois (90 jours)", "Médiane de la catégorie")


def test_an_animator_pack_holds_only_their_departments(db_with_follow_up):
    book = _book(db_with_follow_up, ANIM38, None)
    ws = book["Accompagnement"]
    assert [c.value for c in ws[3]][:4] == ["Étape", "Structures", "Part des ESMS", None]
    title_row = int(ws.print_title_rows.split(":")[0].lstrip("$"))
    assert [r[2] for r in _rows(ws, title_row + 1)] == [E3]
    activity = _rows(book["Activité"], 4)
    # Alone among the mailboxes the animator may read: its own median, one peer.
    assert [(r[0], r[1], r[-2]) for r in activity] == [(WATCHED, "38 – Isère", 1)]
    departments = {r[4] for r in _rows(book["Structures"], 2)}
    assert departments == {"38 – Isère"}


def test_activity_sheet_without_watched_mailboxes_says_how_to_add_one(db_with_follow_up):
    sheet = pack_animation.activity_sheet(db_with_follow_up, SYSTEM, ("75",), TODAY)
    assert sheet.frame.empty and "balise mailbox add" in sheet.note


# --- on paper, in LibreOffice ---


def _blue_pixels(image) -> int:
    """Pixels of the charts' bars (saturated blue; the header fill is a pale blue)."""
    r, g, b = np.asarray(image).astype(int).transpose(2, 0, 1)
    return int(((b > 150) & (r < 120) & (g < 170)).sum())


def test_printed_lists_repeat_their_header_and_charts_print_alone(db_with_follow_up, tmp_path):
    out = tmp_path / "pack.xlsx"
    out.write_bytes(pack.build_pack(db_with_follow_up, SYSTEM, ["38", "69"]))
    pdf = libreoffice_pdf(out, tmp_path)
    pages = pdf_pages(pdf)
    footers = [re.search(r"(\S[^\n]*?) — page (\d+) / (\d+)", p) for p in pages]
    assert all(footers) and {int(f[3]) for f in footers} == {len(pages)}
    by_sheet: dict[str, list[int]] = {}
    for number, footer in enumerate(footers, start=1):
        by_sheet.setdefault(footer[1], []).append(number)
    structures = [pages[n - 1] for n in by_sheet["Structures"]]
    assert len(structures) >= 3  # 157 ESMS: the list runs over several pages...
    assert all(_first_line(p).startswith("FINESS") and " Nom " in p for p in structures)
    # ... each one under the header row, and every ESMS printed once.
    assert sum(len(re.findall(r"^\s*\d{9}\s", p, re.M)) for p in structures) == 157
    # Each chart on a page of its own after its table: the table's page shows no bar.
    for sheet in ("Départements", "Accompagnement"):
        table, chart, *_ = by_sheet[sheet]
        assert _blue_pixels(pdf_page_image(pdf, table, tmp_path)) == 0, sheet
        assert _blue_pixels(pdf_page_image(pdf, chart, tmp_path)) > 200, sheet
    assert "Part des ESMS équipés par département" in pages[by_sheet["Départements"][1] - 1]
    accompaniment = by_sheet["Accompagnement"]
    assert "À relancer : 2 structures" in pages[accompaniment[-1] - 1]
    assert _first_line(pages[accompaniment[-1] - 1]).startswith("À relancer")


def _first_line(page: str) -> str:
    return next(line for line in page.splitlines() if line.strip()).strip()


def test_print_titles_and_charts_survive_a_libreoffice_save(db_with_follow_up, tmp_path):
    out = tmp_path / "pack.xlsx"
    out.write_bytes(pack.build_pack(db_with_follow_up, SYSTEM, ["38", "69"]))
    ours, theirs = load_workbook(out), load_workbook(libreoffice_resaved(out, tmp_path / "lo"))
    assert theirs.sheetnames == ours.sheetnames
    for name in ours.sheetnames[1:]:
        mine, saved = ours[name], theirs[name]
        assert mine.print_title_rows and saved.print_title_rows == mine.print_title_rows, name
        assert saved.page_setup.orientation == "landscape", name
        assert saved.page_setup.fitToWidth in (1, None) and saved.page_setup.fitToHeight == 0
        assert [len(c.series) for c in saved._charts] == [len(c.series) for c in mine._charts]


# --- the file name ---


@pytest.mark.parametrize(
    ("departments", "words"),
    [
        (["63", "38"], "38-63"),
        (["38"], "38"),
        (region_departments("84"), "auvergne-rhone-alpes"),
        ([*region_departments("84"), "75"], "auvergne-rhone-alpes-75"),
        (region_departments("93"), "provence-alpes-cote-d-azur"),
        (["01", "02", "13", "29", "33"], "5-departements"),
        (None, "france"),
    ],
)
def test_the_file_name_says_the_selection_and_the_day(departments, words):
    # 23:30 UTC on 30/11 is already 01/12 in Paris.
    assert pack.file_name(departments, datetime(2026, 11, 30, 23, 30)) == (
        f"balise-pack-{words}-2026-12-01.xlsx"
    )


def test_export_xlsx_names_the_file_by_default(db_with_follow_up, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = db_with_follow_up.url.render_as_string(hide_password=False)
    args = ["--database-url", url, "export", "xlsx", "--department", "69", "--department", "38"]
    result = CliRunner().invoke(cli, args, env={"BALISE_USER": ""})
    day = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    name = f"balise-pack-38-69-{day}.xlsx"
    assert result.exit_code == 0, result.output
    assert result.output == f"Pack webinaire écrit dans {name} : 11 feuilles, 2 départements.\n"
    assert load_workbook(tmp_path / name).sheetnames[-1] == "Structures"
