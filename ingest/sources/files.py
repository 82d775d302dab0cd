"""Where the bytes of an extract come from: a local file, a zip (as the ANS web service returns
it) or an https URL, downloaded with the certificate checked against a given CA bundle.

Pure I/O, no parsing: :func:`fetch_source` makes the source local and fingerprints it,
:func:`open_rows` opens its data stream for a reader (``ingest.sources.annuaire`` /
``ingest.sources.finess``). Errors are :class:`SourceError` with a French sentence.

Downloads are ``ingest.sources.download`` (whole or nothing, within :class:`DownloadLimits`).
Zips are checked by ``ingest.sources.archive`` (sizes and ratio before inflating, sizes and CRC
while reading).
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from balise.errors import SourceError
from ingest.sources.archive import data_member, is_zip, open_member, open_zip
from ingest.sources.download import CHUNK, DEFAULT_MAX_MB, DownloadLimits, download
from ingest.sources.https import MSG_PLAIN_HTTP

MSG_MISSING = "Fichier introuvable : {path}"
MSG_SCHEME = "Adresse non prise en charge : {url} (seules les adresses https:// sont acceptées)."


@dataclass(frozen=True)
class LocalSource:
    """A source made local: the file on disk, the name of the data file (the zip member's for a
    zip) and the sha256 of the bytes as received (the zip's for a zip)."""

    path: Path
    file_name: str
    sha256: str
    max_bytes: int = DEFAULT_MAX_MB << 20


def fetch_source(
    source: str,
    workdir: Path,
    ca_bundle: str | None = None,
    limits: DownloadLimits | None = None,
) -> LocalSource:
    """Make SOURCE (local path, ``.zip`` or ``https://`` URL) local and fingerprint it.

    URLs are downloaded into ``workdir`` with TLS verified (the system store, plus ``ca_bundle`` if
    given; never unverified), TLS 1.2 minimum, within ``limits``; ``http://`` is refused. A zip is
    checked here (readable, exactly one data file, sizes within bounds) so that a bad archive
    fails before anything is written.
    """
    limits = limits or DownloadLimits()
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme == "http":
        raise SourceError(MSG_PLAIN_HTTP.format(url=source))
    if scheme == "https":
        received = download(source, Path(workdir), ca_bundle, limits)
        assert received is not None  # an unconditional GET is never "not modified"
        path, sha256 = received.path, received.sha256
    elif "://" in source:
        raise SourceError(MSG_SCHEME.format(url=source))
    else:
        path = Path(source)
        if not path.is_file():
            raise SourceError(MSG_MISSING.format(path=source))
        sha256 = _sha256(path)
    file_name = path.name
    if is_zip(path):
        with open_zip(path) as archive:
            file_name = Path(data_member(archive, limits.max_bytes).filename).name
    return LocalSource(path, file_name, sha256, limits.max_bytes)


@contextmanager
def open_rows(source: LocalSource) -> Iterator[BinaryIO]:
    """The data stream of a source, for a reader: the file itself, or the zip member streamed
    (decompressed as it is read, never extracted). Corruption found while reading raises
    SourceError from the stream's read calls."""
    if not is_zip(source.path):
        with open(source.path, "rb") as fh:
            yield fh
        return
    with open_zip(source.path) as archive:
        member = data_member(archive, source.max_bytes)
        with open_member(archive, member) as stream:
            yield stream


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
