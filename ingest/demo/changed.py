"""A directory extract with a fraction of its mailboxes changed: the re-ingest benchmark's input."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path

from balise.errors import SourceError
from ingest.demo.annuaire_file import write_extract

_STAMP = re.compile(r"(\d{12})")


def _later_name(name: str) -> str:
    match = _STAMP.search(name)
    if not match:
        raise SourceError(
            f"Le nom du fichier « {name} » ne porte pas d'horodatage AAAAMMJJhhmm : "
            "impossible de nommer la copie modifiée."
        )
    later = datetime.strptime(match.group(1), "%Y%m%d%H%M") + timedelta(days=1)
    return name[: match.start()] + later.strftime("%Y%m%d%H%M") + name[match.end() :]


def changed_copy(src: Path, dst: Path, fraction: float = 0.01, seed: int = 7) -> Path:
    """Copy a directory extract with ``fraction`` of its mailboxes changed: a third removed, a
    third with a modified service, a third added (new addresses). ``dst`` is the file to write,
    or a directory: then the copy is named like ``src`` one day later. Returns the path written.
    Malformed lines of ``src`` are kept as they are."""
    src, dst = Path(src), Path(dst)
    if dst.is_dir() or not dst.suffix:
        dst = dst / _later_name(src.name)
    rng = random.Random(seed)
    header, *lines = src.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    good = [i for i, line in enumerate(lines) if line.count("|") == 30 and "@" in line]
    picked = rng.sample(good, min(len(good), round(len(good) * fraction)))
    third = len(picked) // 3
    removed = set(picked[:third])
    for i in picked[third : 2 * third]:
        f = lines[i].split("|")
        f[7] = (f[7] + " (réorganisé)").strip()
        lines[i] = "|".join(f)
    added = []
    for n, i in enumerate(picked[2 * third :]):
        kind, addr, rest = lines[i].split("|", 2)
        added.append(f"{kind}|nouveau{n}.{addr}|{rest}")
    kept = [line for i, line in enumerate(lines) if i not in removed]
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_extract(dst, kept + added, header)
    return dst
