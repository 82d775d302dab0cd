"""Command-line start-up benchmark: how long a user waits for the commands that cron
and people run most, process start included, and how much memory they take.

    .venv/bin/python bench/cli_start.py [--runs 15]

Each command runs ``--runs`` times as a child process (wall time seen from here, peak RSS from
the kernel's accounting of that child, ``os.wait4``) on a store already at the schema's head:
  balise --help ; balise ins <an INS> ; balise mailbox list ; balise --json mailbox list
beside two floors in the same run: a bare interpreter (``python -c pass``) and one that imports
click (what any click command line pays). Targets: median ≤ 0.3 s and peak ≤ 60 MB per command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BALISE = Path(sys.executable).parent / "balise"
TARGET_S, TARGET_MB = 0.3, 60
INS = "285037728417346"  # the seed webinar's example


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr.decode()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float, float]:
    """(median wall, 95th percentile wall, max peak MB, median CPU) over ``runs`` runs after one
    warm-up. The CPU time (user + system) says what the command costs when the machine is
    busy, where the wall time also counts the wait for a core."""
    run_once(argv, env)  # the page cache, as for a user who ran it before
    results = [run_once(argv, env) for _ in range(runs)]
    walls = sorted(w for w, _, _ in results)
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    cpu = statistics.median(c for _, _, c in results)
    return statistics.median(walls), p95, max(mb for _, mb, _ in results), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="balise-bench-cli-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'balise.db'}"
        env = {**os.environ, "BALISE_DATABASE_URL": url}
        env.pop("BALISE_USER", None)
        # The first command migrates the new store; the measured ones find it at its head.
        # (This process imports nothing of Balise: a child's peak RSS would count the pages
        # it shares with a big parent at fork.)
        run_once([str(BALISE), "mailbox", "list"], env)
        floors = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import click'": [sys.executable, "-c", "import click"],
        }
        commands = {
            "balise --help": [str(BALISE), "--help"],
            f"balise ins {INS}": [str(BALISE), "ins", INS],
            "balise mailbox list": [str(BALISE), "mailbox", "list"],
            "balise --json mailbox list": [str(BALISE), "--json", "mailbox", "list"],
        }
        print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"{'command':32} {'median':>8} {'p95':>8} {'cpu':>8} {'peak':>8}   target")
        for label, argv in floors.items():
            median, p95, peak, cpu = measure(argv, env, args.runs)
            print(f"{label:32} {median:7.3f}s {p95:7.3f}s {cpu:7.3f}s {peak:6.1f}MB   (floor)")
        for label, argv in commands.items():
            median, p95, peak, cpu = measure(argv, env, args.runs)
            ok = median <= TARGET_S and peak <= TARGET_MB
            verdict = "met" if ok else "MISSED"
            print(f"{label:32} {median:7.3f}s {p95:7.3f}s {cpu:7.3f}s {peak:6.1f}MB   {verdict}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
