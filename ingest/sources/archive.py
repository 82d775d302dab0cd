"""The zip archives extracts come in (the ANS web service returns one): find the one data file,
check its sizes before inflating anything, and stream it with every size and CRC check on the way.

Nothing is ever extracted to memory or disk. Bounds, all checked before inflating:

- the central directory: at most ``MAX_MEMBERS`` entries and ``MAX_DIRECTORY_BYTES`` (zipfile
  holds it in memory; a million tiny entries is a bomb of its own);
- the data file: its declared size at most the caller's ``max_bytes``, its compressed bytes inside
  the archive, and no more than ``MAX_RATIO`` times its compressed size once past ``RATIO_FLOOR``
  (extracts compress about 7 to 1; a gigabyte of zeros, 1000 to 1);
- while streaming (:class:`SafeZipStream`): never more bytes than declared, exactly as many at the
  end, and the CRC (zipfile checks it at the end of the member). A failure there is a
  SourceError raised from ``read``, which rolls the ingest back.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from balise.errors import SourceError
from balise.formatting import fr_int

DATA_SUFFIXES = (".txt", ".csv", ".json")
MAX_MEMBERS = 1000
MAX_DIRECTORY_BYTES = 1 << 20
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20

MSG_ZIP_BROKEN = "L'archive ZIP est tronquée ou illisible."
MSG_ZIP_EMPTY = "L'archive ZIP est vide."
MSG_ZIP_NONE = "L'archive ZIP ne contient aucun fichier .txt, .csv ou .json."
MSG_ZIP_SEVERAL = (
    "L'archive ZIP contient plusieurs fichiers de données ({names}) : un seul est attendu."
)
MSG_ZIP_CORRUPT = "L'archive ZIP est corrompue : la lecture de {name} s'est interrompue."
MSG_ZIP_ENCRYPTED = "L'archive ZIP est chiffrée : {name} ne peut pas être lu sans mot de passe."
MSG_ZIP_TOO_MANY = (
    "L'archive ZIP est refusée : son répertoire est démesuré ({entries} entrées ou plus, "
    "{limit} au plus)."
)
MSG_ZIP_TOO_BIG = (
    "L'archive ZIP est refusée : {name} ferait {size} Mo une fois décompressé "
    "(au plus {limit} Mo, réglage BALISE_MAX_DOWNLOAD_MB)."
)
MSG_ZIP_RATIO = (
    "L'archive ZIP est refusée : {name} se décompresse {ratio} fois (au plus {limit} fois pour un "
    "extrait ; c'est la marque d'une « bombe » de décompression)."
)

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def is_zip(path: Path) -> bool:
    """By content (a local file header, or the end record of an empty archive) or by name."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return magic in (b"PK\x03\x04", _EOCD) or path.suffix.lower() == ".zip"


@contextmanager
def open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """The archive, once its central directory is known to be of sane size."""
    _check_directory_size(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError):
        raise SourceError(MSG_ZIP_BROKEN) from None
    with archive:
        yield archive


def data_member(archive: zipfile.ZipFile, max_bytes: int) -> zipfile.ZipInfo:
    """The one data file of the archive (folders and macOS/hidden entries do not count), checked
    against the bounds before anything is inflated."""
    files = [
        m
        for m in archive.infolist()
        if not m.is_dir()
        and not m.filename.startswith("__MACOSX/")
        and not Path(m.filename).name.startswith(".")
    ]
    if not files:
        raise SourceError(MSG_ZIP_EMPTY)
    data = [m for m in files if Path(m.filename).suffix.lower() in DATA_SUFFIXES]
    if not data:
        raise SourceError(MSG_ZIP_NONE)
    if len(data) > 1:
        names = ", ".join(Path(m.filename).name for m in data)
        raise SourceError(MSG_ZIP_SEVERAL.format(names=names))
    _check_member(archive, data[0], max_bytes)
    return data[0]


@contextmanager
def open_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    """The member, decompressed as it is read, through :class:`SafeZipStream`."""
    name = Path(member.filename).name
    try:
        inner = archive.open(member)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError):
        raise SourceError(MSG_ZIP_BROKEN) from None
    except RuntimeError:  # zipfile's "password required"
        raise SourceError(MSG_ZIP_ENCRYPTED.format(name=name)) from None
    with inner:
        yield io.BufferedReader(SafeZipStream(inner, name, member.file_size), 1 << 20)


class SafeZipStream(io.RawIOBase):
    """A raw stream over a zip member that turns every decompression failure found mid-stream
    (zlib error, truncated data, bad CRC, more or fewer bytes than declared) into SourceError,
    so the ingest stops cleanly."""

    def __init__(self, inner: BinaryIO, name: str, declared: int):
        self._inner = inner
        self._name = name
        self._left = declared

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            # One byte more than declared, asked for at the end, tells a member that goes on.
            data = self._inner.read(min(len(buffer), self._left + 1))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise SourceError(MSG_ZIP_CORRUPT.format(name=self._name)) from None
        self._left -= len(data)
        if self._left < 0 or (not data and self._left > 0 and len(buffer)):
            raise SourceError(MSG_ZIP_CORRUPT.format(name=self._name))
        buffer[: len(data)] = data
        return len(data)


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_bytes: int) -> None:
    name = Path(member.filename).name
    if member.flag_bits & 0x1:
        raise SourceError(MSG_ZIP_ENCRYPTED.format(name=name))
    archive_size = os.fstat(archive.fp.fileno()).st_size if archive.fp else 0
    if member.header_offset + member.compress_size > archive_size:
        raise SourceError(MSG_ZIP_BROKEN)
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
        raise SourceError(MSG_ZIP_RATIO.format(name=name, ratio=fr_int(ratio), limit=MAX_RATIO))
    if member.file_size > max_bytes:
        size, limit = fr_int(-(-member.file_size >> 20)), fr_int(max_bytes >> 20)
        raise SourceError(MSG_ZIP_TOO_BIG.format(name=name, size=size, limit=limit))


def _check_directory_size(path: Path) -> None:
    """Refuse an archive whose end record announces more entries or a bigger central directory
    than an extract's archive can have, before zipfile reads that directory into memory."""
    with open(path, "rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        tail_start = max(0, size - _EOCD_SIZE - 0xFFFF)  # the end record, then its comment
        fh.seek(tail_start)
        tail = fh.read()
        # Where zipfile looks: right at the end (no comment), else the last signature before it.
        at = len(tail) - _EOCD_SIZE if tail[-_EOCD_SIZE:].startswith(_EOCD) else tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < _EOCD_SIZE:
            return  # no end record: zipfile refuses the archive itself
        entries, directory = struct.unpack("<HI", tail[at + 10 : at + 16])
        locator = tail_start + at - 20
        if entries == 0xFFFF or directory == 0xFFFFFFFF:
            entries, directory = _zip64_sizes(fh, locator, entries, directory)
    if entries > MAX_MEMBERS or directory > MAX_DIRECTORY_BYTES:
        raise SourceError(MSG_ZIP_TOO_MANY.format(entries=fr_int(entries), limit=MAX_MEMBERS))


def _zip64_sizes(fh: BinaryIO, locator: int, entries: int, directory: int) -> tuple[int, int]:
    """Entry count and directory size from the ZIP64 end record, where the classic one
    overflows."""
    if locator < 0:
        return entries, directory
    fh.seek(locator)
    block = fh.read(20)
    if len(block) < 20 or block[:4] != _ZIP64_LOCATOR:
        return entries, directory
    (offset,) = struct.unpack("<Q", block[8:16])
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 56 or record[:4] != _ZIP64_EOCD:
        return entries, directory
    return struct.unpack("<QQ", record[32:48])
