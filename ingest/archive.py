"""The archive of what was read: each imported file kept, compressed, so that the history can be
rebuilt (``balise ingest … --from-archive``) and shared between regions.

Only the latest directory file is online: Balise's snapshots are the only history there is, and
these files are what they were made from. Layout, one file per import:

    <BALISE_ARCHIVE_DIR>/<source>/<source>-<AAAA-MM-JJ>-<sha8>.<ext>.gz

where the date is the one the file carries (else the day it was imported), ``sha8`` the first 8
hex digits of the sha256 of the bytes as received (what the snapshot records) and ``ext`` the
file's own extension (``txt``, ``zip``, ``csv``, ``json.gz``). The gzip header keeps the file's
original name (FNAME) and its date (MTIME, the naive date read as UTC): ``gzip -dN`` gives the
file back as it was named, and a replay gives the ingest the same name, date and fingerprint.

Writing is idempotent (same source, date and fingerprint: same name, written once) and atomic
(a ``.part`` file renamed when complete). Reading checks the fingerprint and bounds the inflated
size: an archive from elsewhere is input like any other.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from balise.errors import SourceError
from balise.formatting import fr_int

# zlib level 3: a national directory file (116 MB) in about 1 s, to 18 MB (level 6: 2 s, 15 MB).
LEVEL = 3
# A file that is already compressed (zip, gzip: the FiNESS+ flow is published as .json.gz) is
# only wrapped: deflate's stored blocks cost a copy, where level 3 would spend seconds on bytes
# it cannot shrink. The wrapper still carries the original name and date in its header.
STORED = 0
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"PK\x03\x04")
CHUNK = 1 << 20

MSG_BROKEN = "L'archive {name} est illisible ou tronquée ; rien n'est importé."
MSG_ALTERED = (
    "L'archive {name} ne correspond pas à son empreinte (fichier altéré) ; rien n'est importé."
)
MSG_TOO_BIG = (
    "L'archive {name} dépasse une fois décompressée la taille maximale de {limit} Mo "
    "(réglage BALISE_MAX_DOWNLOAD_MB) ; rien n'est importé."
)

_NAME = re.compile(
    r"^(?P<source>[a-z]+)-(?P<day>\d{4}-\d{2}-\d{2})-(?P<sha8>[0-9a-f]{8})\.(?P<ext>.+)\.gz$"
)
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}")


@dataclass(frozen=True)
class Archived:
    """One archived file, as its name and gzip header describe it."""

    path: Path
    source: str
    day: date
    sha8: str
    original_name: str
    file_date: datetime | None


def archive_name(source: str, day: date, sha256: str, original_name: str) -> str:
    return f"{source}-{day.isoformat()}-{sha256[:8]}.{_extension(original_name)}.gz"


def keep(
    archive_dir: Path,
    source: str,
    path: Path,
    sha256: str,
    file_date: datetime | None,
    original_name: str | None = None,
) -> Path:
    """Archive the file at ``path`` (bytes as received, fingerprint ``sha256``) for ``source``;
    the archived path. An archive already there is kept as it is."""
    name = _safe_name(original_name or path.name)
    day = (file_date or datetime.now(UTC)).date()
    target = archive_dir / source / archive_name(source, day, sha256, name)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with open(path, "rb") as src, open(partial, "wb") as raw:
            # GzipFile writes the basename of ``filename`` less ".gz" as FNAME.
            with gzip.GzipFile(
                filename=name + ".gz", mode="wb", fileobj=raw, compresslevel=_level_for(src),
                mtime=_mtime(file_date),
            ) as out:  # fmt: skip
                shutil.copyfileobj(src, out, CHUNK)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def listing(
    archive_dir: Path, source: str, since: date | None = None, until: date | None = None
) -> list[Archived]:
    """The archived files of ``source`` from ``since`` to ``until`` (both included), oldest
    first (by date, then by the time in the header, then by name). Other files are ignored."""
    found = []
    for path in sorted((archive_dir / source).glob(f"{source}-*.gz")):
        match = _NAME.match(path.name)
        if not match or match["source"] != source:
            continue
        try:
            day = date.fromisoformat(match["day"])
        except ValueError:
            continue
        if (since and day < since) or (until and day > until):
            continue
        original, stamp = read_header(path)
        found.append(Archived(path, source, day, match["sha8"], original or path.stem, stamp))
    return sorted(found, key=lambda a: (a.day, a.file_date or datetime.min, a.path.name))


def restore(archived: Archived, workdir: Path, max_bytes: int) -> Path:
    """Inflate ``archived`` into ``workdir`` under its original name, at most ``max_bytes``,
    checking that its sha256 starts as its name says. SourceError (nothing left) otherwise."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / _safe_name(archived.original_name)
    name = archived.path.name
    digest, size = hashlib.sha256(), 0
    try:
        with gzip.open(archived.path, "rb") as src, open(target, "wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(MSG_TOO_BIG.format(name=name, limit=fr_int(max_bytes >> 20)))
                digest.update(chunk)
                out.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        raise SourceError(MSG_BROKEN.format(name=name)) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if not digest.hexdigest().startswith(archived.sha8):
        target.unlink(missing_ok=True)
        raise SourceError(MSG_ALTERED.format(name=name))
    return target


def _level_for(src) -> int:
    """STORED for bytes that are already compressed, LEVEL otherwise; ``src`` stays at 0."""
    head = src.read(4)
    src.seek(0)
    return STORED if head.startswith(_COMPRESSED_MAGIC) else LEVEL


def read_header(path: Path) -> tuple[str | None, datetime | None]:
    """(original name, date) from a gzip header (RFC 1952: FNAME, MTIME); (None, None) when the
    header is not a gzip one. MTIME 0 means no date."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(10)
            if len(head) < 10 or head[:3] != b"\x1f\x8b\x08":
                return None, None
            flags, mtime = head[3], struct.unpack("<I", head[4:8])[0]
            if flags & 4:  # FEXTRA: a length, then that many bytes
                (extra,) = struct.unpack("<H", fh.read(2))
                fh.read(extra)
            name = _zero_terminated(fh) if flags & 8 else None
    except (OSError, struct.error):
        return None, None
    stamp = datetime.fromtimestamp(mtime, UTC).replace(tzinfo=None) if mtime else None
    return name, stamp


def _zero_terminated(fh, limit: int = 1024) -> str | None:
    raw = bytearray()
    while len(raw) < limit and (byte := fh.read(1)) not in (b"", b"\0"):
        raw += byte
    return raw.decode("latin-1") or None


def _mtime(file_date: datetime | None) -> int:
    """The date as gzip's MTIME: seconds since 1970, the naive date read as UTC (0 = none)."""
    if file_date is None:
        return 0
    seconds = int(file_date.replace(tzinfo=UTC).timestamp())
    return seconds if 0 < seconds < 1 << 32 else 0


def _extension(name: str) -> str:
    suffixes = [s.lower() for s in Path(name).suffixes if _SUFFIX.fullmatch(s)][-2:]
    return "".join(suffixes).lstrip(".") or "dat"


def _safe_name(name: str) -> str:
    """A bare file name in ASCII (gzip's FNAME is Latin-1): no directory, no accent."""
    name = Path(name.replace("\\", "/")).name.strip()
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)
    return ascii_name if ascii_name.strip("._") else "fichier"
