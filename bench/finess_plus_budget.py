"""What the FiNESS+ reading may cost for issue 14's target to hold, against its floor.

The target: the whole ``balise ingest finess`` command on the national FiNESS+ flow (``.json.gz``)
takes at most 1.5 x the same command on the national etalab CSV, each into a fresh SQLite store.

Both commands are run whole, as a user types them, in alternation (``--rounds`` pairs), with one
function timed inside them by an instrumented start (the command itself is unchanged): the
reading, ``stage_batches`` of ``ingest.load.finess``, through which every establishment of the
file goes, read and staged. Around it, measured from here: the start-up (process start to the
reading) and what follows it (the writes, the relinking, the commit, the exit). The floor (g) of
``bench/ingest.py`` runs in the same rounds: the flow inflated and every byte parsed as JSON,
no value kept, nothing written.

It prints the medians, then the budget: 1.5 x the CSV command, minus the FiNESS+ command's
start-up and what follows its reading (or the CSV command's, if the FiNESS+ extras were written
for free), is what its reading may take; minus the floor's own job, what is left to create,
check and stage the values. Usage::

    .venv/bin/python bench/finess_plus_budget.py [--rounds 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5
MARK = "BENCH-READING "
# The command, unchanged, with its reading timed: wall-clock times, comparable with the parent's.
BOOT = f"""
import atexit, json, sys, time
import ingest.load.finess as finess
from balise.launcher import main
timed = {{}}
def _reading(*args, _inner=finess.stage_batches, **kwargs):
    timed["from"] = time.time()
    try:
        return _inner(*args, **kwargs)
    finally:
        timed["to"] = time.time()
finess.stage_batches = _reading
atexit.register(lambda: print("{MARK}" + json.dumps(timed), file=sys.stderr))
sys.argv = ["balise", *sys.argv[1:]]
main()
"""


def command(source: Path, db: Path, data_dir: Path) -> dict[str, float]:
    """``balise --json ingest finess SOURCE --all`` into a fresh SQLite file, whole: its wall
    time, split around the reading."""
    db.unlink(missing_ok=True)
    argv = [sys.executable, "-c", BOOT, "--database-url", f"sqlite:///{db}", "--json",
            "ingest", "finess", str(source), "--all"]  # fmt: skip
    env = {**os.environ, "BALISE_ARCHIVE_DIR": "", "BALISE_DATA_DIR": str(data_dir)}
    started, cpu = time.time(), _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{source.name}: the command failed ({done.returncode}):\n{done.stderr}")
    mark = next(line for line in done.stderr.splitlines() if line.startswith(MARK))
    reading = json.loads(mark.removeprefix(MARK))
    return {
        "wall": ended - started,
        "start": reading["from"] - started,
        "read": reading["to"] - reading["from"],
        "after": ended - reading["to"],
        "cpu": _children_cpu() - cpu,
    }


def floor(flow: Path) -> dict[str, float]:
    """(g) of ``bench/ingest.py``: its whole process and its job (inflate and parse)."""
    argv = [sys.executable, str(ROOT / "bench" / "ingest.py"), "--step", "plus_floor", str(flow)]
    started, cpu = time.time(), _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    return {"wall": time.time() - started, "job": json.loads(done.stdout)["duration_s"],
            "cpu": _children_cpu() - cpu}  # fmt: skip


def _children_cpu() -> float:
    """User + system time of the children reaped so far (each run adds its own)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def national_files(work: Path) -> tuple[Path, Path]:
    """The national demo CSV and FiNESS+ flow (generated once into ``work``)."""
    csv = next(work.glob("national/etalab-*.csv"), None)
    flow = next(work.glob("national/finess-structures-*.json.gz"), None)
    if csv is None or flow is None:
        from ingest.demo import write_demo

        files = write_demo(work / "national", national=True)
        csv, flow = files.finess, files.finess_json
    return Path(csv), Path(flow)


def measure(csv: Path, flow: Path, work: Path, rounds: int) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, float]]] = {"a": [], "f": [], "g": []}
    for _ in range(rounds):
        runs["a"].append(command(csv, work / "budget-a.db", work))
        runs["f"].append(command(flow, work / "budget-f.db", work))
        runs["g"].append(floor(flow))
    return {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}


def report(med: dict[str, dict[str, float]]) -> None:
    a, f, g = med["a"], med["f"], med["g"]
    print(f"medians, s       {'wall':>6} {'start':>6} {'read':>6} {'after':>6} {'cpu':>6}")
    for label, m in (("(a) CSV", a), ("(f) FiNESS+", f)):
        parts = (m[k] for k in ("wall", "start", "read", "after", "cpu"))
        print(f"{label:16}" + "".join(f" {v:6.2f}" for v in parts))
    print(f"{'(g) floor':16} {g['wall']:6.2f}    job {g['job']:6.2f}        {g['cpu']:6.2f}")
    allowed = TARGET * a["wall"]
    own = allowed - f["start"] - f["after"]
    free_extras = allowed - f["start"] - a["after"]
    print(f"(f) / (a) now: {f['wall'] / a['wall']:.2f}; target <= {TARGET} x (a) = {allowed:.2f} s")
    print(f"reading allowed: {own:.2f} s (its own writes after it), "
          f"{free_extras:.2f} s (if they cost the CSV command's); it takes {f['read']:.2f} s")  # fmt: skip
    print(f"left for the values once the flow is parsed, (g) job {g['job']:.2f} s: "
          f"{own - g['job']:.2f} s and {free_extras - g['job']:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path)
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="balise-budget-") as tmp:
        work = opts.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv, flow = national_files(work)
        print(f"load average at the start {os.getloadavg()[0]:.2f}")
        report(measure(csv, flow, work, opts.rounds))
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
