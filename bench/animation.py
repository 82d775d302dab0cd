"""Territorial animation benchmark (onboarding, events, pack) on the regional demo (ARA, ~2,100 ESMS, ~36,000
current mailboxes, 4 directory snapshots).

    .venv/bin/python bench/animation.py [--lines 300]

Measures, on a fresh SQLite store filled by ``balise demo``:
  (a) ``advance_from_facts`` the first time (every equipped ESMS moves) and again (nothing moves);
  (b) the attendance import of a sheet of ``--lines`` lines (a third with a FINESS, a third with a
      misspelt name and its commune, a third with the name only), matched by
      ``balise.services.attendance_match`` (commune index, difflib's cheap bounds);
  (c) the naive baseline, written here: difflib's ratio of each line against the ESMS of the
      commune it names (every ESMS when it names none, or none is there), as Balise can;
and prints the ratio (c) / (b) (target >= 5) and whether both give the same structures.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from balise.db import make_engine  # noqa: E402
from balise.models import Establishment  # noqa: E402
from balise.referentials.attendance_sheet import normalise_commune, normalise_name  # noqa: E402
from balise.services import events, onboarding  # noqa: E402
from balise.services.access import SYSTEM  # noqa: E402

ARA = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")


def _typo(name: str, rng: random.Random) -> str:
    """One letter dropped in the longest word: what a sign-in sheet does to a name."""
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) > 4:
        j = rng.randrange(1, len(w) - 1)
        words[i] = w[:j] + w[j + 1 :]
    return " ".join(words)


def sheet(esms: list[tuple], n: int) -> tuple[bytes, list[str]]:
    rng = random.Random(7)
    picked = rng.sample(esms, n)
    lines, expected = ["FINESS;Structure;Commune"], []
    for k, (finess, name, city) in enumerate(picked):
        if k % 3 == 0:
            lines.append(f"{finess};;")
        elif k % 3 == 1:
            lines.append(f";{_typo(name, rng)};{city.title()}")
        else:
            lines.append(f";{name.lower()};")
        expected.append(finess)
    return ("\n".join(lines) + "\n").encode(), expected


def naive(esms: list[tuple], data: bytes) -> list[str | None]:
    """difflib's ratio against every candidate, as a plain script would do it, using the commune
    the way Balise's matcher can: a line that names a commune is compared with the ESMS of that
    commune first (found by scanning the list), and with every ESMS only when none is there."""
    rows = [r.split(";") for r in data.decode().splitlines()[1:]]
    names = [(f, normalise_name(n), normalise_commune(c)) for f, n, c in esms]
    out = []
    for finess, name, commune in rows:
        if finess:
            out.append(finess)
            continue
        target, town = normalise_name(name), normalise_commune(commune) if commune else ""
        candidates = [e for e in names if town and e[2] == town] or names
        best = max(candidates, key=lambda e: SequenceMatcher(None, target, e[1]).ratio())
        out.append(best[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/balise.db"
        subprocess.run([str(Path(sys.executable).parent / "balise"), "--database-url", url, "demo",
                        "--out", f"{tmp}/files"], check=True, capture_output=True, cwd=ROOT)  # fmt: skip
        engine = make_engine(url)
        t = time.perf_counter()
        moved = onboarding.advance_from_facts(engine)
        first = time.perf_counter() - t
        t = time.perf_counter()
        onboarding.advance_from_facts(engine)
        again = time.perf_counter() - t
        print(f"(a) advance_from_facts: {moved} structures moved in {first * 1000:.0f} ms; "
              f"nothing to move: {again * 1000:.0f} ms")  # fmt: skip
        with engine.connect() as conn:
            esms = [tuple(r) for r in conn.execute(
                select(Establishment.finess_et, Establishment.name, Establishment.city)
                .where(Establishment.is_medico_social.is_(True)).order_by(Establishment.finess_et)
            )]  # fmt: skip
        data, expected = sheet(esms, args.lines)
        event = events.create_event(
            engine, SYSTEM, events.EventInput("Banc", date.today(), departments=ARA)
        )
        t = time.perf_counter()
        report = events.import_attendance(engine, SYSTEM, event, data, "banc.csv")
        ours = time.perf_counter() - t
        got = events.attendance(engine, SYSTEM, event)["finess_et"].tolist()
        t = time.perf_counter()
        baseline = naive(esms, data)
        slow = time.perf_counter() - t
        right = sum(g == e for g, e in zip(got, expected, strict=True))
        wrong = sum(isinstance(g, str) and g != e for g, e in zip(got, expected, strict=True))
        naive_wrong = sum(g != e for g, e in zip(baseline, expected, strict=True))
        print(f"(b) attendance import, {args.lines} lines: {ours * 1000:.0f} ms; {report.summary()} "
              f"Right structure {right}, wrong {wrong}, left to a person {args.lines - right - wrong}")  # fmt: skip
        print(f"(c) naive difflib, commune first: {slow * 1000:.0f} ms; right {args.lines - naive_wrong}, "
              f"wrong {naive_wrong} (it always guesses)")  # fmt: skip
        print(f"ratio (c)/(b) = {slow / ours:.1f} (target >= 5)")
        engine.dispose()


if __name__ == "__main__":
    main()
