"""Writer of the demo directory extracts (``Extraction_Correspondance_MSSante_*.txt``): UTF-8,
``|``, one header line, no quoting; with the quirks of the real file injected (duplicated
addresses, sometimes re-cased, and malformed lines)."""

from __future__ import annotations

import random
from pathlib import Path

from ingest.demo.mailboxes import Box
from ingest.demo.tables import BAD_LINES_PER_EXTRACT, DUPLICATE_RATE
from ingest.demo.world import World, pick
from ingest.sources.annuaire import DIRECTORY_HEADER

# --------------------------------------------------------------------------- extract quirks


def _bad_lines(lines: list[str], rng: random.Random) -> list[str]:
    """BAD_LINES_PER_EXTRACT malformed copies of real lines: 2 with a wrong number of fields,
    2 with the unknown BAL type "XYZ", 2 whose address has no @."""
    src = [pick(rng, lines).split("|") for _ in range(BAD_LINES_PER_EXTRACT)]
    return [
        "|".join(src[0][:28]),  # truncated line
        "|".join(src[1]) + "|commentaire|hors format",  # two extra fields
        "|".join(["XYZ", *src[2][1:]]),
        "|".join(["XYZ", *src[3][1:]]),
        "|".join([src[4][0], src[4][1].replace("@", "."), *src[4][2:]]),
        "|".join([src[5][0], src[5][1].replace("@", ""), *src[5][2:]]),
    ]


def _recase(line: str) -> str:
    """The same line with its address in another case ("Camille.Loremier@Medecin...")."""
    kind, addr, rest = line.split("|", 2)
    return f"{kind}|{addr.title()}|{rest}"


def _with_quirks(lines: list[str], rng: random.Random) -> list[str]:
    """Duplicated addresses (every other one re-cased) at a fixed rate, and the bad lines spread
    through the file."""
    if not lines:
        return _bad_lines(["ORG|x@y.mssante.fr"], rng)
    period = max(1, round(1 / DUPLICATE_RATE))
    offset = rng.randrange(min(period, len(lines)))
    bad = _bad_lines(lines, rng)
    bad_every = max(1, len(lines) // (len(bad) + 1))
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % period == offset:
            out.append(_recase(line) if (i // period) % 2 else line)
        if bad and i % bad_every == bad_every - 1:
            out.append(bad.pop())
    return out + bad


def write_extract(path: Path, lines: list[str], header: str = "|".join(DIRECTORY_HEADER)) -> None:
    """UTF-8, LF, header line then data; written in large blocks (national files are ~110 MB)."""
    block = 50_000
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        for i in range(0, len(lines), block):
            fh.write("\n".join(lines[i : i + block]) + "\n")


def _snapshot_lines(boxes: list[Box], s: int) -> list[str]:
    return [alt if alt is not None and s >= ch else line for st, end, line, alt, ch in boxes
            if st <= s < end]  # fmt: skip


def write_directory(
    world: World, boxes: list[Box], out_dir: Path, stamps: tuple[str, ...]
) -> list[Path]:
    paths = []
    for s, stamp in enumerate(stamps):
        path = out_dir / f"Extraction_Correspondance_MSSante_{stamp}.txt"
        write_extract(path, _with_quirks(_snapshot_lines(boxes, s), world.rng))
        paths.append(path)
    return paths
