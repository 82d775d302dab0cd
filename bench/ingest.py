"""Ingest benchmark (issue 2): national-scale files, each approach in its own child process.

    .venv/bin/python bench/ingest.py [--workdir DIR] [--skip-postgres]

Measures wall time and peak RSS of:
  (a) `balise ingest finess --all` then `balise ingest annuaire --all` into a fresh SQLite
      database (the commands, run in-process: imports excluded, as for (b));
  (b) the naive baseline: pandas.read_csv then DataFrame.to_sql, both files, through a
      SQLAlchemy engine (the stack's way; DESIGN.md's 15.1 s baseline was measured like this:
      13.8 s here for the directory alone), and (b') the same through a bare sqlite3 connection
      (pandas' fallback, twice as fast), for the record;
  (c) the floor: the same rows streamed into SQLite with executemany (9 columns, primary key);
  (d) re-ingesting a copy of the directory with 1 % of the mailboxes changed, after (a);
  (e) (a) into PostgreSQL, for the record.
and prints the ratios against the targets: (a) ≤ 0.25 × (b); (a) ≤ 2 × (c); RSS (a) ≤ 250 MB;
(d) ≤ (a).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    """This process's own peak RSS. Not getrusage: Linux carries ru_maxrss across fork + exec,
    so a child would report the parent's peak; VmHWM belongs to the new image alone."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_balise(db_url: str, finess: str, annuaire: str) -> None:
    """The ``balise ingest`` commands themselves (in this process, through click's test runner,
    so that imports are excluded as they are from (b)): job, onboarding advance, summary."""
    from click.testing import CliRunner

    from balise.cli import cli
    from balise.db import make_engine, upgrade

    upgrade(make_engine(db_url))
    runner = CliRunner()
    runner.invoke(cli, ["ingest", "--help"], catch_exceptions=False)  # loads the plugins

    def ingest(*args: str) -> dict:
        argv = ["--database-url", db_url, "--json", "ingest", *args, "--all"]
        result = runner.invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    t0 = time.perf_counter()
    if finess:
        ingest("finess", finess)
    report = ingest("annuaire", annuaire)
    print(json.dumps({"wall": time.perf_counter() - t0, "rss": _peak_mb(), "kept": report["kept"],
                      "created": report["created"], "removed": report["removed"],
                      "changed": report["changed"]}))  # fmt: skip


def step_naive(db_path: str, finess: str, annuaire: str, through: str = "engine") -> None:
    import pandas as pd
    from sqlalchemy import create_engine

    t0 = time.perf_counter()
    con = create_engine(f"sqlite:///{db_path}") if through == "engine" else sqlite3.connect(db_path)
    directory = pd.read_csv(
        annuaire, sep="|", dtype=str, engine="c", quoting=csv.QUOTE_NONE, on_bad_lines="skip"
    )
    directory.to_sql("annuaire", con, index=False)
    with open(finess, encoding="cp1252") as fh:
        lines = [line for line in fh if line.startswith("structureet;")]
    establishments = pd.read_csv(
        io.StringIO("".join(lines)), sep=";", header=None, dtype=str, on_bad_lines="skip"
    )
    establishments.to_sql("finess", con, index=False)
    if through != "engine":
        con.commit()
    print(json.dumps({"wall": time.perf_counter() - t0, "rss": _peak_mb()}))


def step_floor(db_path: str, finess: str, annuaire: str) -> None:
    t0 = time.perf_counter()
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE m (a TEXT PRIMARY KEY, t, s1, s2, sv, pc, rs, cp, d)")
    with open(annuaire, encoding="utf-8") as fh:
        next(fh)
        rows = (
            (f[1].lower(), f[0], f[5], f[6], f[7], f[13], f[18], f[28], f[29])
            for f in (line.rstrip("\n").split("|") for line in fh)
            if len(f) == 31
        )
        con.executemany("INSERT OR IGNORE INTO m VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.execute("CREATE TABLE e (et TEXT PRIMARY KEY, ej, rs, cp, dep, cat, siret, ouv, maj)")
    with open(finess, encoding="cp1252", newline="") as fh:
        rows = (
            (f[1], f[2], f[3], f[15], f[13], f[18], f[22], f[28], f[30])
            for f in csv.reader(fh, delimiter=";")
            if f and f[0] == "structureet"
        )
        con.executemany("INSERT OR IGNORE INTO e VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    print(json.dumps({"wall": time.perf_counter() - t0, "rss": _peak_mb()}))


STEPS = {"balise": step_balise, "naive": step_naive, "floor": step_floor}


def run_child(step: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def generate(workdir: Path) -> tuple[Path, Path, Path]:
    from ingest.demo import changed_copy, write_demo

    t0 = time.perf_counter()
    files = write_demo(workdir / "national", national=True)
    annuaire = files.annuaire[-1]
    changed = changed_copy(annuaire, workdir / "changed" / _later_name(annuaire.name))
    size = annuaire.stat().st_size / 1e6
    with open(annuaire, "rb") as fh:
        lines = sum(1 for _ in fh)
    print(f"files: {lines:,} directory lines ({size:.0f} MB), "
          f"generated in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    return files.finess, annuaire, changed


def _later_name(name: str) -> str:
    return name.replace("_2026", "_2027") if "_2026" in name else "changed_" + name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--skip-postgres", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="balise-bench-") as tmp:
        work = opts.workdir or Path(tmp)
        (work / "changed").mkdir(parents=True, exist_ok=True)
        finess, annuaire, changed = generate(work)
        db = work / "a.db"
        for old in work.glob("*.db*"):  # a --workdir kept from an earlier run
            old.unlink()
        a = run_child("balise", f"sqlite:///{db}", str(finess), str(annuaire))
        d = run_child("balise", f"sqlite:///{db}", "", str(changed))
        b = run_child("naive", str(work / "b.db"), str(finess), str(annuaire))
        b_raw = run_child("naive", str(work / "b2.db"), str(finess), str(annuaire), "sqlite3")
        c = run_child("floor", str(work / "c.db"), str(finess), str(annuaire))
        e = None if opts.skip_postgres else _postgres(finess, annuaire)
        report(a, b, b_raw, c, d, e)


def _postgres(finess: Path, annuaire: Path) -> dict:
    from ingest.demo.postgres import start_postgres

    server = start_postgres()
    try:
        return run_child("balise", server.admin_url, str(finess), str(annuaire))
    finally:
        server.stop()


def report(a: dict, b: dict, b_raw: dict, c: dict, d: dict, e: dict | None) -> None:
    rows = [
        ("(a) balise ingest, SQLite", a),
        ("(b) naive: read_csv + to_sql (engine)", b),
        ("(b') naive, bare sqlite3 connection", b_raw),
        ("(c) floor: executemany into SQLite", c),
        ("(d) re-ingest, 1 % changed", d),
    ] + ([("(e) balise ingest, PostgreSQL", e)] if e else [])
    print(f"{'approach':40} {'wall s':>8} {'peak RSS MB':>12}")
    for label, r in rows:
        print(f"{label:40} {r['wall']:8.2f} {r['rss']:12.0f}")
    print(f"(d) diff: {d['created']} created, {d['removed']} removed, {d['changed']} changed")
    checks = [
        ("(a) / (b) wall", a["wall"] / b["wall"], 0.25),
        ("(a) / (b') wall", a["wall"] / b_raw["wall"], 0.25),
        ("(a) / (c) wall", a["wall"] / c["wall"], 2.0),
        ("(a) peak RSS MB", a["rss"], 250),
        ("(d) / (a) wall", d["wall"] / a["wall"], 1.0),
    ]
    for label, value, target in checks:
        verdict = "OK" if value <= target else "MISSED"
        print(f"{label:20} {value:8.2f}  target <= {target:<6} {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--step":
        STEPS[sys.argv[2]](*sys.argv[3:])
    else:
        main()
