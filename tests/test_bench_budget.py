"""The budget bench of the FiNESS+ flow times the reading inside the real commands: it must see
the reading of both files (a hook that missed it would print a budget out of nothing), inside
the command it times from outside, and the command must still do its whole job."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.demo import write_demo

BENCH = Path(__file__).resolve().parents[1] / "bench" / "finess_plus_budget.py"
sys.path.insert(0, str(BENCH.parent))
import finess_plus_budget  # noqa: E402


@pytest.fixture(scope="module")
def small_national_files(tmp_path_factory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("budget")
    files = write_demo(work / "national", national=True, scale=0.01)
    return work, Path(files.finess), Path(files.finess_json)


@pytest.mark.parametrize("which", ["csv", "flow"])
def test_each_command_is_split_around_its_reading(small_national_files, which):
    work, csv, flow = small_national_files
    db = work / f"{which}.db"
    timed = finess_plus_budget.command(csv if which == "csv" else flow, db, work)
    assert min(timed["start"], timed["read"], timed["after"]) > 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM establishments").fetchone()[0] > 500


def test_the_bench_finds_the_files_and_prints_the_budget(small_national_files):
    work, _, _ = small_national_files
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--workdir", str(work)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.search(r"^\(f\) / \(a\) now: \d+\.\d\d; target <= 1\.5", done.stdout, re.M)
    assert re.search(r"^reading allowed: -?\d+\.\d\d s .* it takes \d+\.\d\d s$", done.stdout, re.M)
