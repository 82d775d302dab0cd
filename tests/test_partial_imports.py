"""Imports of some departments only keep the history right (SQLite and PostgreSQL): a department
outside the import keeps its last imported state in the trend, the headline, the « Évolutions »
comparison and the exports; a department whose first import comes later joins the sums then,
without counting as change."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from balise.referentials.departments import region_departments
from balise.services import adoption, changes, pack, snapshots
from balise.services.access import SYSTEM
from ingest import jobs
from ingest.demo import write_demo
from tests.support.apptest import app_as
from tests.support.extracts import directory_line, finess_line, write_directory, write_finess

ARA = tuple(sorted(region_departments("84")))
DEPARTMENT_FIELD = 29  # « Département », the 30th column of a directory line


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    """Demo files at a small scale (FINESS + four monthly extracts), written once."""
    return write_demo(tmp_path_factory.mktemp("demo"), scale=0.15)


@pytest.fixture
def demo_world(empty_db, demo_files):
    """The demo imported as ``balise demo`` does: FINESS, then the four extracts, region 84."""
    jobs.ingest(empty_db, "finess", str(demo_files.finess), ARA, is_demo=True)
    for path in demo_files.annuaire:
        jobs.ingest(empty_db, "annuaire", str(path), ARA, is_demo=True)
    return empty_db


def views(engine) -> dict:
    """Everything the regional figures are made of, for the whole region."""
    days = snapshots.directory_snapshots(engine)
    before, after = (int(s) for s in days["snapshot_id"].tolist()[-2:])
    return {
        "trend": adoption.trend(engine, SYSTEM, ARA).drop(columns="snapshot_id"),
        "headline": adoption.headline(engine, SYSTEM, ARA),
        "evolution.csv": pack.table_csv(engine, SYSTEM, ARA, "evolution"),
        "changements.csv": pack.table_csv(engine, SYSTEM, ARA, "changements"),
        "days": days["date"].tolist(),
        "changes": changes.totals(engine, SYSTEM, ARA, before, after),
    }


def test_reimporting_one_department_keeps_every_regional_figure(demo_world, demo_files):
    engine = demo_world
    full = views(engine)
    assert len(full["trend"]) == 4 and full["headline"]["equipped_delta"] > 0
    assert set(full["trend"]["departments"]) == {12}
    report = jobs.ingest(engine, "annuaire", str(demo_files.annuaire[-1]), ("38",), is_demo=True)
    assert not report.already_ingested and report.removed == 0  # the same file, for 38 only
    again = views(engine)
    pd.testing.assert_frame_equal(again.pop("trend"), full.pop("trend"))
    assert again == full  # headline and its deltas, CSV exports, days, « Évolutions » totals


def later_extract_for(path: Path, out: Path, department: str, drop: int) -> tuple[Path, int]:
    """A copy of the extract ``path`` dated a month later, with the first ``drop`` lines of
    ``department`` removed; returns it and how many lines of that department it keeps."""
    lines = path.read_text(encoding="utf-8").splitlines()
    body = [(i, line.split("|")) for i, line in enumerate(lines[1:], start=1)]
    ours = [
        i
        for i, cells in body
        if len(cells) > DEPARTMENT_FIELD and cells[DEPARTMENT_FIELD] == department
    ]
    gone = set(ours[:drop])
    kept = [line for i, line in enumerate(lines) if i not in gone]
    target = out / path.name.replace("202611010312", "202612010312")
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target, len(ours) - drop


def test_a_later_import_of_one_department_changes_that_department_only(
    demo_world, demo_files, tmp_path
):
    engine = demo_world
    before = adoption.trend(engine, SYSTEM, ARA)
    per_dep_before = adoption.coverage(engine, SYSTEM, ARA).set_index("department")
    december, _ = later_extract_for(demo_files.annuaire[-1], tmp_path, "38", drop=10)
    report = jobs.ingest(engine, "annuaire", str(december), ("38",), is_demo=True)
    assert (report.removed, report.created, report.changed) == (10, 0, 0)

    after = adoption.trend(engine, SYSTEM, ARA)
    assert len(after) == 5 and after["date"].iloc[-1] == pd.Timestamp(2026, 12, 1, 3, 12)
    pd.testing.assert_frame_equal(after.iloc[:4], before)  # history unchanged
    now = adoption.coverage(engine, SYSTEM, ARA).set_index("department")
    others = [d for d in ARA if d != "38"]
    pd.testing.assert_frame_equal(now.loc[others], per_dep_before.loc[others])
    assert int(after["structures"].iloc[-1]) == int(now["structures"].sum())
    assert int(after["equipped"].iloc[-1]) == int(now["equipped"].sum())
    lost = int(per_dep_before.loc["38", "equipped"] - now.loc["38", "equipped"])
    head = adoption.headline(engine, SYSTEM, ARA)
    assert head["equipped_delta"] == -lost
    assert head["share_delta"] == pytest.approx(after["share"].iloc[-1] - before["share"].iloc[-1])

    days = snapshots.directory_snapshots(engine)["snapshot_id"].tolist()
    by_dep = changes.changes(engine, SYSTEM, ARA, days[-2], days[-1])
    assert by_dep.to_dict("records") == [{"department": "38", "created": 0, "removed": 10}]
    evolution = pd.read_csv(
        io.BytesIO(pack.table_csv(engine, SYSTEM, ARA, "evolution")), sep=";", decimal=","
    )
    assert evolution["ESMS équipés"].tolist() == after["equipped"].tolist()
    assert evolution["Date des données"].tolist()[-2:] == ["01/11/2026", "01/12/2026"]


# --- a department whose first import comes later: exact, hand-checked figures -------------
E1, E2, E3 = "380000001", "380000002", "690000001"  # two EHPAD in 38, one in 69


def _extract(tmp_path: Path, stamp: str, lines: list[str]) -> str:
    name = f"Extraction_Correspondance_MSSante_{stamp}0312.txt"
    return str(write_directory(tmp_path / name, lines))


def stagger(engine, tmp_path: Path, steps: int) -> list[int]:
    """FINESS for 38 and 69; then the first ``steps`` of: the directory of 38 imported on
    01/10, that of 69 first on 01/11, 38 again on 01/12 with a mailbox for E2. Returns the
    directory snapshot ids."""
    finess = write_finess(tmp_path / "finess.csv", [
        finess_line(E1, "380000100", "500"), finess_line(E2, "380000200", "500"),
        finess_line(E3, "690000100", "500", department="69", postcode="69001"),
    ])  # fmt: skip
    jobs.ingest(engine, "finess", str(finess), ("38", "69"))
    e1 = directory_line("ORG", "accueil@e1.mssante.fr", E1, department="38")
    e2 = directory_line("ORG", "accueil@e2.mssante.fr", E2, department="38")
    e3 = directory_line("ORG", "accueil@e3.mssante.fr", E3, "69001", "69")
    imports = [
        ("20261001", [e1], ("38",)), ("20261101", [e3], ("69",)), ("20261201", [e1, e2], ("38",)),
    ][:steps]  # fmt: skip
    return [
        jobs.ingest(engine, "annuaire", _extract(tmp_path, stamp, lines), departments).snapshot_id
        for stamp, lines, departments in imports
    ]


@pytest.fixture
def staggered(empty_db, tmp_path):
    return empty_db, stagger(empty_db, tmp_path, 3)


def test_a_department_first_imported_later_joins_the_sums_without_counting_as_change(staggered):
    engine, (october, november, december) = staggered
    both = ("38", "69")
    points = adoption.trend(engine, SYSTEM, both)
    assert points[["structures", "equipped", "departments"]].values.tolist() == [
        [2, 1, 1],  # 01/10: 38 only (69 had no directory import yet)
        [3, 2, 2],  # 01/11: 38 as of 01/10, 69 first imported
        [3, 3, 2],  # 01/12: 38 again (E2 equipped), 69 as of 01/11
    ]
    # 01/11 -> 01/12: E2 equipped, 69 unchanged.
    head = adoption.headline(engine, SYSTEM, both)
    assert (head["equipped"], head["equipped_delta"]) == (3, 1)
    assert head["share_delta"] == pytest.approx(100 / 3)
    # 69's first import is no creation; 38 compared with its own previous import.
    assert changes.totals(engine, SYSTEM, both, october, november) == {"created": 0, "removed": 0}
    assert changes.totals(engine, SYSTEM, both, november, december) == {"created": 1, "removed": 0}
    assert changes.changes(engine, SYSTEM, both, october, december).to_dict("records") == [
        {"department": "38", "created": 1, "removed": 0}
    ]


def test_headline_after_a_first_import_of_a_department_shows_no_change(empty_db, tmp_path):
    stagger(empty_db, tmp_path, 2)  # as of 01/11: 69 just imported for the first time
    head = adoption.headline(empty_db, SYSTEM, ("38", "69"))
    assert (head["structures"], head["equipped"]) == (3, 2)
    assert (head["equipped_delta"], head["share_delta"]) == (0, 0.0)


def test_pages_after_a_one_department_reimport(demo_world, demo_files, monkeypatch):
    """The tester's path: the Vue régionale keeps its figures and deltas, « Évolutions » opens
    on the last two days of data (not « 01/11 → 01/11 »)."""
    monkeypatch.setenv("BALISE_REGION", "84")

    def regional() -> dict:
        at = app_as(demo_world, monkeypatch, SYSTEM, page="regional")
        assert not at.exception, at.exception
        return {m.label: (m.value, m.delta) for m in at.metric}

    before = regional()
    jobs.ingest(demo_world, "annuaire", str(demo_files.annuaire[-1]), ("38",), is_demo=True)
    assert regional() == before
    assert before["ESMS équipés"][1].startswith("+")
    at = app_as(demo_world, monkeypatch, SYSTEM, page="changes")
    assert not at.exception, at.exception
    chosen = [
        at.selectbox(key=k).format_func(at.selectbox(key=k).value)
        for k in ("changes_before", "changes_after")
    ]
    assert chosen == ["Extraction du 01/10/2026", "Extraction du 01/11/2026"]
    assert {m.label: m.value for m in at.metric}["BAL créées"] != "0"
