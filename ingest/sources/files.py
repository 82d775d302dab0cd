"""Where the bytes of an extract come from: a local file, a zip (as the ANS web service returns
it) or an https URL, downloaded with the certificate checked against a given CA bundle.

Pure I/O, no parsing: :func:`fetch_source` makes the source local and fingerprints it,
:func:`open_rows` opens its data stream for a reader (``ingest.sources.annuaire`` /
``ingest.sources.finess``). Errors are :class:`SourceError` with a French sentence.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from balise.errors import ConfigurationError, SourceError

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".txt", ".csv", ".json")
CHUNK = 1 << 20
TIMEOUT_S = 60

MSG_MISSING = "Fichier introuvable : {path}"
MSG_PLAIN_HTTP = "Adresse refusée : {url} n'est pas chiffrée ; utilisez une adresse https://."
MSG_SCHEME = "Adresse non prise en charge : {url} (seules les adresses https:// sont acceptées)."
MSG_CA_MISSING = "Fichier d'autorités de certification illisible : {path}"
MSG_CERT = (
    "Le certificat du serveur {host} n'est pas reconnu : indiquez l'autorité de certification "
    "qui l'a émis (option --ca-bundle ; pour l'ANS, l'AC racine IGC-Santé)."
)
MSG_TLS = "La connexion sécurisée avec {host} a échoué (TLS 1.2 minimum)."
MSG_STATUS = "Le serveur {host} a refusé le téléchargement (code HTTP {status})."
MSG_UNREACHABLE = "Le serveur {host} est injoignable."
MSG_TIMEOUT = "Le serveur {host} n'a pas répondu à temps."
MSG_ZIP_BROKEN = "L'archive ZIP est tronquée ou illisible."
MSG_ZIP_EMPTY = "L'archive ZIP est vide."
MSG_ZIP_NONE = "L'archive ZIP ne contient aucun fichier .txt, .csv ou .json."
MSG_ZIP_SEVERAL = (
    "L'archive ZIP contient plusieurs fichiers de données ({names}) : un seul est attendu."
)
MSG_ZIP_CORRUPT = "L'archive ZIP est corrompue : la lecture de {name} s'est interrompue."


@dataclass(frozen=True)
class LocalSource:
    """A source made local: the file on disk, the name of the data file (the zip member's for a
    zip) and the sha256 of the bytes as received (the zip's for a zip)."""

    path: Path
    file_name: str
    sha256: str


def fetch_source(source: str, workdir: Path, ca_bundle: str | None = None) -> LocalSource:
    """Make SOURCE (local path, ``.zip`` or ``https://`` URL) local and fingerprint it.

    URLs are downloaded into ``workdir`` with TLS verified (``ca_bundle`` if given, else the system
    store; never unverified), TLS 1.2 minimum; ``http://`` is refused. A zip is checked here
    (readable, exactly one data file) so that a bad archive fails before anything is written.
    """
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme == "http":
        raise SourceError(MSG_PLAIN_HTTP.format(url=source))
    if scheme == "https":
        path, sha256 = _download(source, Path(workdir), ca_bundle)
    elif "://" in source:
        raise SourceError(MSG_SCHEME.format(url=source))
    else:
        path = Path(source)
        if not path.is_file():
            raise SourceError(MSG_MISSING.format(path=source))
        sha256 = _sha256(path)
    file_name = path.name
    if is_zip(path):
        with _open_zip(path) as archive:
            file_name = Path(_data_member(archive).filename).name
    return LocalSource(path=path, file_name=file_name, sha256=sha256)


@contextmanager
def open_rows(source: LocalSource) -> Iterator[BinaryIO]:
    """The data stream of a source, for a reader: the file itself, or the zip member streamed
    (decompressed as it is read, never extracted). Corruption found while reading raises
    SourceError from the stream's read calls."""
    if not is_zip(source.path):
        with open(source.path, "rb") as fh:
            yield fh
        return
    with _open_zip(source.path) as archive:
        member = _data_member(archive)
        try:
            inner = archive.open(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError):
            raise SourceError(MSG_ZIP_BROKEN) from None
        with inner:
            yield io.BufferedReader(SafeZipStream(inner, Path(member.filename).name), CHUNK)


def head_generated_at(url: str, ca_bundle: str | None = None) -> str | None:
    """The file name the server announces in ``Content-Disposition`` for a HEAD request
    (the ANS puts the generation time in it), or None. Lets a scheduler skip a download."""
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise SourceError(MSG_PLAIN_HTTP.format(url=url))
    request = urllib.request.Request(url, method="HEAD", headers=_HEADERS)
    with _request(request, ca_bundle) as response:
        name = response.headers.get_filename()
    return Path(name).name if name else None


def is_zip(path: Path) -> bool:
    """By content (a local file header, or the end record of an empty archive) or by name."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return magic in (b"PK\x03\x04", b"PK\x05\x06") or path.suffix.lower() == ".zip"


class SafeZipStream(io.RawIOBase):
    """A raw stream over a zip member that turns decompression failures found mid-stream
    (zlib error, truncated data, bad CRC) into SourceError, so the ingest stops cleanly."""

    def __init__(self, inner: BinaryIO, name: str):
        self._inner = inner
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            raise SourceError(MSG_ZIP_CORRUPT.format(name=self._name)) from None
        buffer[: len(data)] = data
        return len(data)


# --- zip ---------------------------------------------------------------------------------------


@contextmanager
def _open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError):
        raise SourceError(MSG_ZIP_BROKEN) from None
    with archive:
        yield archive


def _data_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The one data file of the archive (folders and macOS/hidden entries do not count)."""
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
    return data[0]


# --- download ----------------------------------------------------------------------------------

_HEADERS = {"User-Agent": "balise (ingest MSSante/FINESS)"}


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to plain http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() != "https":
            raise SourceError(MSG_PLAIN_HTTP.format(url=newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError):
        raise ConfigurationError(MSG_CA_MISSING.format(path=ca_bundle)) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _request(request: urllib.request.Request, ca_bundle: str | None):
    """Open ``request`` with certificate checks; network failures become French SourceErrors."""
    host = urllib.parse.urlsplit(request.full_url).hostname or request.full_url
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=_tls_context(ca_bundle)), _HttpsOnlyRedirects
    )
    try:
        return opener.open(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise SourceError(MSG_STATUS.format(host=host, status=exc.code)) from None
    except urllib.error.URLError as exc:
        log.warning("download of %s failed: %r", request.full_url, exc.reason)
        if isinstance(exc.reason, ssl.SSLCertVerificationError):
            raise SourceError(MSG_CERT.format(host=host)) from None
        if isinstance(exc.reason, ssl.SSLError):
            raise SourceError(MSG_TLS.format(host=host)) from None
        if isinstance(exc.reason, TimeoutError):
            raise SourceError(MSG_TIMEOUT.format(host=host)) from None
        raise SourceError(MSG_UNREACHABLE.format(host=host)) from None
    except TimeoutError:
        raise SourceError(MSG_TIMEOUT.format(host=host)) from None


def _download(url: str, workdir: Path, ca_bundle: str | None) -> tuple[Path, str]:
    """Stream ``url`` into ``workdir`` (temporary name, renamed when complete), hashing on
    the way."""
    workdir.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers=_HEADERS)
    digest = hashlib.sha256()
    with _request(request, ca_bundle) as response:
        target = workdir / _download_name(response)
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as out:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (TimeoutError, OSError) as exc:
            partial.unlink(missing_ok=True)
            log.warning("download of %s interrupted: %r", url, exc)
            host = urllib.parse.urlsplit(url).hostname
            raise SourceError(MSG_UNREACHABLE.format(host=host)) from None
    os.replace(partial, target)
    return target, digest.hexdigest()


def _download_name(response) -> str:
    """Content-Disposition file name, else the last segment of the (redirected) URL path;
    reduced to a bare name so a server cannot write outside ``workdir``."""
    name = response.headers.get_filename() or ""
    if not name:
        name = urllib.parse.unquote(urllib.parse.urlsplit(response.url).path.rsplit("/", 1)[-1])
    name = Path(name.replace("\\", "/")).name.strip()
    return name if name and name not in (".", "..") else "telechargement"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
