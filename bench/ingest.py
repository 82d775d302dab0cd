"""Ingest benchmark: national-scale files, every approach timed as a whole process.

    .venv/bin/python bench/ingest.py [--workdir DIR] [--skip-postgres]

Each measure is a child process started here and timed from here, process start and imports
included, its peak memory read from the kernel's accounting of that child (``os.wait4``):
  (a) the commands as a user runs them, `balise ingest finess --all` then `balise ingest annuaire
      --all`, into a fresh SQLite database (each command: schema check, import, onboarding
      advance, audit line, JSON summary);
  (a') the same commands in the other order (directory first, then FINESS);
  (b) the naive baseline: a Python script, pandas.read_csv then DataFrame.to_sql, both files,
      through a SQLAlchemy engine (the stack's way; DESIGN.md's 15.1 s baseline), and (b') the
      same through a bare sqlite3 connection (pandas' fallback, about twice as fast);
  (c) the floor: a Python script streaming the same rows into SQLite with executemany;
  (d) `balise ingest annuaire --all` of a copy with 1 % of the mailboxes changed, after (a);
  (e) (a) into PostgreSQL, for the record;
  (f) `balise ingest finess --all` of the FiNESS+ flow of the same establishments (the national
      demo's ``finess-structures-journalier-*.json.gz``: ~175,000 establishments under ~110,000
      legal entities with their events, contacts and roles, ~770 MB once inflated), fresh SQLite,
      and (f') the same flow inflated beforehand (plain ``.json``);
  (g) the floor of any reader of that flow: a Python script that only inflates it and checks its
      JSON syntax (the stream cut into batches of legal entities, each decoded by msgspec into
      objects with no field: every byte parsed, no value kept, nothing written).
and prints the ratios against the targets: whole commands (a) and (a') ≤ 0.25 × (b) (and the
same ratio to (b'), which no import writing the same rows reaches on this machine); peak memory
≤ 250 MB for every command; (a) ≤ 2 × (c); (d) ≤ (a); (f) and (f') ≤ 1.5 × the CSV's FINESS
command of (a). For the record, it also prints the import
job's own time (``duration_s`` of the summary: no process start, no imports, no advance).

The parent stays small on purpose (the files are generated in a child): a child started by
``fork``/``vfork`` + ``exec`` inherits its parent's peak RSS in ``ru_maxrss``; the parent's own
peak is printed as the floor of every memory figure.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BALISE = Path(sys.executable).parent / "balise"
TARGET_RATIO, TARGET_PEAK_MB = 0.25, 250


@dataclass
class Run:
    """One child process: wall time seen from here, its peak RSS, what it printed, its CPU
    time (user + system: what it costs when the machine is busy and the wall time also counts
    the wait for a core)."""

    wall: float
    peak_mb: float
    out: dict
    cpu: float = 0.0


def run_process(argv: list[str], env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True
    )
    # Read the pipes first (a child blocked on a full pipe never exits), then reap it with
    # wait4, which gives that child's own resource usage.
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr}")
    lines = stdout.strip().splitlines()
    out = json.loads(lines[-1]) if lines else {}
    return Run(wall, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime)


def run_step(step: str, *args: str) -> Run:
    return run_process([sys.executable, __file__, "--step", step, *args])


def balise_ingest(db_url: str, kind: str, source: Path, data_dir: Path) -> Run:
    """``balise --json ingest KIND SOURCE --all``, as typed in a shell."""
    env = {**os.environ, "BALISE_DATA_DIR": str(data_dir)}
    argv = [str(BALISE), "--database-url", db_url, "--json", "ingest", kind, str(source), "--all"]
    return run_process(argv, env)


def own_peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------- child steps


def step_generate(workdir: str) -> None:
    from ingest.demo import changed_copy, write_demo

    work = Path(workdir)
    t0 = time.perf_counter()
    files = write_demo(work / "national", national=True)
    annuaire = files.annuaire[-1]
    changed = changed_copy(annuaire, work / "changed" / annuaire.name.replace("_2026", "_2027"))
    with open(annuaire, "rb") as fh:
        lines = sum(1 for _ in fh)
    print(json.dumps({"finess": str(files.finess), "annuaire": str(annuaire),
                      "finess_plus": str(files.finess_json),
                      "changed": str(changed), "lines": lines,
                      "mb": annuaire.stat().st_size / 1e6,
                      "seconds": time.perf_counter() - t0}))  # fmt: skip


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
    print(json.dumps({"duration_s": time.perf_counter() - t0}))


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
    print(json.dumps({"duration_s": time.perf_counter() - t0}))


def step_plus_floor(source: str) -> None:
    import msgspec

    # Only the cutter and the inflater: not the reader's modules (Arrow, the referentials).
    from ingest.sources.gzip_stream import gunzip_if_compressed
    from ingest.sources.json_stream import Batch, members

    class Item(msgspec.Struct):  # no field: msgspec skips every value, builds an empty object
        pass

    t0 = time.perf_counter()
    decoder = msgspec.json.Decoder(list[Item])
    items = 0
    with open(source, "rb") as raw:
        markers = (b'"informationsGeneralesPMEJ"', b'"informationsGeneralesPmej"')
        fast = (markers, decoder.decode)  # the reader's fast cut, proven by this decoder
        for event in members(gunzip_if_compressed(raw), {"pmej"}, {"gco", "gcc"}, fast=fast):
            if isinstance(event, Batch):
                decoded = event.decoded
                items += len(decoded if isinstance(decoded, list) else decoder.decode(event.data))
    print(json.dumps({"duration_s": time.perf_counter() - t0, "items": items}))


def step_gunzip(source: str, target: str) -> None:
    import gzip
    import shutil

    with gzip.open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    print(json.dumps({"mb": Path(target).stat().st_size / 1e6}))


STEPS = {
    "generate": step_generate,
    "naive": step_naive,
    "floor": step_floor,
    "gunzip": step_gunzip,
    "plus_floor": step_plus_floor,
}

# --------------------------------------------------------------------------- the measures


def both_orders(work: Path, files: dict) -> dict[str, Run]:
    """(a) FINESS then directory, (d) the changed directory on top, (a') directory then FINESS;
    each into its own fresh SQLite file."""
    finess, annuaire = Path(files["finess"]), Path(files["annuaire"])
    a_url, a2_url = f"sqlite:///{work / 'a.db'}", f"sqlite:///{work / 'a2.db'}"
    runs = {"a finess": balise_ingest(a_url, "finess", finess, work)}
    runs["a annuaire"] = balise_ingest(a_url, "annuaire", annuaire, work)
    runs["d annuaire"] = balise_ingest(a_url, "annuaire", Path(files["changed"]), work)
    runs["a' annuaire"] = balise_ingest(a2_url, "annuaire", annuaire, work)
    runs["a' finess"] = balise_ingest(a2_url, "finess", finess, work)
    return runs


def finess_plus(work: Path, files: dict) -> dict[str, Run]:
    """(f) the FiNESS+ flow as published (gzip) and (f') inflated, each into a fresh SQLite;
    (g) the floor of reading the published flow."""
    packed = Path(files["finess_plus"])
    plain = work / packed.name.removesuffix(".gz")
    run_step("gunzip", str(packed), str(plain))
    return {
        "f finess": balise_ingest(f"sqlite:///{work / 'f.db'}", "finess", packed, work),
        "f' finess": balise_ingest(f"sqlite:///{work / 'f2.db'}", "finess", plain, work),
        "g": run_step("plus_floor", str(packed)),
    }


def baselines(work: Path, files: dict) -> dict[str, Run]:
    finess, annuaire = files["finess"], files["annuaire"]
    return {
        "b": run_step("naive", str(work / "b.db"), finess, annuaire),
        "b'": run_step("naive", str(work / "b2.db"), finess, annuaire, "sqlite3"),
        "c": run_step("floor", str(work / "c.db"), finess, annuaire),
    }


def postgres(work: Path, files: dict) -> dict[str, Run]:
    from sandbox.postgres import start_postgres

    server = start_postgres()
    try:
        return {
            "e finess": balise_ingest(server.admin_url, "finess", Path(files["finess"]), work),
            "e annuaire": balise_ingest(
                server.admin_url, "annuaire", Path(files["annuaire"]), work
            ),
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--skip-postgres", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="balise-bench-") as tmp:
        work = opts.workdir or Path(tmp)
        (work / "changed").mkdir(parents=True, exist_ok=True)
        for old in work.glob("*.db*"):  # a --workdir kept from an earlier run
            old.unlink()
        gen = run_step("generate", str(work))
        files = gen.out
        print(f"files: {files['lines']:,} directory lines ({files['mb']:.0f} MB), "
              f"generated in {files['seconds']:.1f} s; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        runs = both_orders(work, files)
        runs.update(finess_plus(work, files))
        runs.update(baselines(work, files))
        floor = own_peak_mb()  # before the PostgreSQL step imports the sandbox package here
        if not opts.skip_postgres:
            runs.update(postgres(work, files))
        report(runs, floor)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


# --------------------------------------------------------------------------- the report


def _line(label: str, wall: float, job: float | None, peak: float | None, cpu: float) -> str:
    job_s = f"{job:8.2f}" if job is not None else f"{'':8}"
    peak_s = f"{peak:9.0f}" if peak is not None else f"{'':9}"
    return f"{label:52} {wall:8.2f} {job_s} {peak_s} {cpu:8.2f}"


def report(runs: dict[str, Run], floor: float) -> None:
    print(f"peak RSS of this parent process (floor of the SQLite memory figures): {floor:.0f} MB; "
          f"{own_peak_mb():.0f} MB for the PostgreSQL ones")  # fmt: skip
    print(f"{'whole process':52} {'wall s':>8} {'job s':>8} {'peak MB':>9} {'cpu s':>8}")
    labels = {
        "a finess": "(a)  balise ingest finess --all (fresh SQLite)",
        "a annuaire": "(a)  then balise ingest annuaire --all",
        "a' annuaire": "(a') balise ingest annuaire --all (fresh SQLite)",
        "a' finess": "(a') then balise ingest finess --all",
        "d annuaire": "(d)  balise ingest annuaire, 1 % changed, after (a)",
        "f finess": "(f)  FiNESS+ .json.gz: balise ingest finess --all",
        "f' finess": "(f') FiNESS+ .json (inflated): balise ingest finess",
        "e finess": "(e)  PostgreSQL: balise ingest finess --all",
        "e annuaire": "(e)  then balise ingest annuaire --all",
        "b": "(b)  naive: read_csv + to_sql (SQLAlchemy engine)",
        "b'": "(b') naive: read_csv + to_sql (bare sqlite3)",
        "c": "(c)  floor: executemany into SQLite",
        "g": "(g)  FiNESS+ floor: inflate + JSON syntax only",
    }
    for key, label in labels.items():
        if key in runs:
            r = runs[key]
            print(_line(label, r.wall, r.out.get("duration_s"), r.peak_mb, r.cpu))
    pairs = {"a": ("a finess", "a annuaire"), "a'": ("a' annuaire", "a' finess"),
             "e": ("e finess", "e annuaire")}  # fmt: skip
    totals = {k: sum(runs[p].wall for p in v) for k, v in pairs.items() if v[0] in runs}
    jobs = {k: sum(runs[p].out["duration_s"] for p in v) for k, v in pairs.items() if v[0] in runs}
    cpus = {k: sum(runs[p].cpu for p in v) for k, v in pairs.items() if v[0] in runs}
    for k in totals:
        print(_line(f"({k}) both commands", totals[k], jobs[k], None, cpus[k]))
    d = runs["d annuaire"].out
    print(f"(d) diff: {d['created']} created, {d['removed']} removed, {d['changed']} changed")
    checks(runs, totals, jobs)
    a_cpu, a2_cpu = cpus["a"] / runs["b"].cpu, cpus["a'"] / runs["b"].cpu
    print(f"for the record, in CPU time: (a) / (b) {a_cpu:.2f}, (a') / (b) {a2_cpu:.2f}")


def checks(runs: dict[str, Run], totals: dict[str, float], jobs: dict[str, float]) -> None:
    b, b_raw, c = runs["b"].wall, runs["b'"].wall, runs["c"].wall
    rows = [
        ("(a) / (b), whole commands", totals["a"] / b, TARGET_RATIO),
        ("(a') / (b), whole commands", totals["a'"] / b, TARGET_RATIO),
        ("(a) / (b'), whole commands", totals["a"] / b_raw, TARGET_RATIO),
        ("(a') / (b'), whole commands", totals["a'"] / b_raw, TARGET_RATIO),
        ("(a) / (c), whole processes", totals["a"] / c, 2.0),
        ("(d) / (a) annuaire command", runs["d annuaire"].wall / runs["a annuaire"].wall, 1.0),
        ("(f) / (a) finess command (.json.gz)", runs["f finess"].wall / runs["a finess"].wall, 1.5),
        ("(f') / (a) finess command (.json)", runs["f' finess"].wall / runs["a finess"].wall, 1.5),
    ]
    commands = [k for k in runs if k[0] in "adef"]
    rows += [(f"peak MB, {k}", runs[k].peak_mb, TARGET_PEAK_MB) for k in commands]
    for label, value, target in rows:
        verdict = "OK" if value <= target else "MISSED"
        print(f"{label:34} {value:8.2f}  target <= {target:<6} {verdict}")
    if "g" in runs:
        g_ratio = runs["g"].wall / runs["a finess"].wall
        print(f"for the record, (g) / (a) finess command {g_ratio:.2f}: what reading the flow costs "
              "before any value is kept or written")  # fmt: skip
    job_a, job_a2 = jobs["a"] / b, jobs["a'"] / b
    print(f"for the record, the import jobs alone (in-process: no start, no imports, no advance): "
          f"(a) / (b) {job_a:.2f}, (a') / (b) {job_a2:.2f}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--step":
        STEPS[sys.argv[2]](*sys.argv[3:])
    else:
        main()
