"""Where the bytes of an extract come from: a local file, a zip (as the ANS web service returns
it) or an https URL, downloaded with the certificate checked against a given CA bundle.

Pure I/O, no parsing: :func:`fetch_source` makes the source local and fingerprints it,
:func:`open_rows` opens its data stream for a reader (``ingest.sources.annuaire`` /
``ingest.sources.finess``). Errors are :class:`SourceError` with a French sentence.

A download is whole or nothing: streamed to a temporary file, its length checked against
``Content-Length``, within an overall deadline and a size cap (:class:`DownloadLimits`); a short,
late or oversized download is a SourceError and leaves no file. Zips are checked by
``ingest.sources.archive`` (sizes and ratio before inflating, sizes and CRC while reading).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from balise.errors import ConfigurationError, SourceError
from balise.formatting import fr_int, fr_seconds
from ingest.sources.archive import data_member, is_zip, open_member, open_zip

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# Longest wait for any one network operation; the whole download has its own deadline.
TIMEOUT_S = 60.0
DEFAULT_DEADLINE_S = 600.0
DEFAULT_MAX_MB = 2048

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
MSG_LATE = (
    "Le téléchargement depuis {host} a dépassé le délai de {seconds} (option --timeout) : "
    "abandonné, rien n'est importé."
)
MSG_SHORT = (
    "Le téléchargement depuis {host} est incomplet : {received} octets reçus sur {expected} "
    "annoncés ; rien n'est importé."
)
MSG_CUT = "Le téléchargement depuis {host} s'est interrompu ; rien n'est importé."
MSG_TOO_BIG = (
    "Le fichier proposé par {host} dépasse la taille maximale de {limit} Mo "
    "(réglage BALISE_MAX_DOWNLOAD_MB) ; rien n'est importé."
)


@dataclass(frozen=True)
class DownloadLimits:
    """How long a whole download may take, and how many bytes it (or the data file of a zip,
    once inflated) may hold."""

    deadline_s: float = DEFAULT_DEADLINE_S
    max_bytes: int = DEFAULT_MAX_MB << 20

    @classmethod
    def of(cls, deadline_s: float, max_mb: int) -> DownloadLimits:
        return cls(float(deadline_s), int(max_mb) << 20)


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


def head_generated_at(url: str, ca_bundle: str | None = None) -> str | None:
    """The file name the server announces in ``Content-Disposition`` for a HEAD request
    (the ANS puts the generation time in it), or None. Lets a scheduler skip a download."""
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise SourceError(MSG_PLAIN_HTTP.format(url=url))
    request = urllib.request.Request(url, method="HEAD", headers=_HEADERS)
    with _Deadline(TIMEOUT_S) as deadline, _request(request, ca_bundle, deadline) as response:
        name = response.headers.get_filename()  # an unconditional request: never None
    return Path(name).name if name else None


# --- download ----------------------------------------------------------------------------------

_HEADERS = {"User-Agent": "balise (ingest MSSante/FINESS)"}


class _Deadline:
    """A wall-clock limit for a whole exchange. When it passes, the sockets opened for it are
    shut down: that wakes a read blocked on a server that trickles bytes or says nothing (a
    per-read timeout alone lets one byte every few seconds go on for ever)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._watched:
                sock.close()
            self._watched.clear()

    def watch(self, sock: socket.socket) -> None:
        """Watch ``sock`` through a duplicate of its descriptor: TLS wrapping detaches the
        original object, the duplicate stays ours (and open) until the deadline is left."""
        with self._lock:
            self._watched.append(sock.dup())
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        for sock in self._watched:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _WatchedConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose socket a :class:`_Deadline` can cut, from the TCP connect on
    (so a handshake or headers sent a byte at a time are cut too)."""

    def __init__(self, *args, deadline: _Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        plain = self._create_connection  # http.client's hook for making the TCP socket

        def create_connection(*a, **k) -> socket.socket:
            sock = plain(*a, **k)
            deadline.watch(sock)
            return sock

        self._create_connection = create_connection


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, deadline: _Deadline):
        super().__init__(context=context)
        self._tls = context
        self._deadline = deadline

    def https_open(self, req):
        connection = partial(_WatchedConnection, deadline=self._deadline)
        return self.do_open(connection, req, context=self._tls)


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to plain http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() != "https":
            raise SourceError(MSG_PLAIN_HTTP.format(url=newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_bundle`` when given: one setting serves the ANS
    server (IGC-Santé, in no public store) and the data.gouv.fr mirror (a public authority)."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError):
            raise ConfigurationError(MSG_CA_MISSING.format(path=ca_bundle)) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def _request(request: urllib.request.Request, ca_bundle: str | None, deadline: _Deadline):
    """Open ``request`` with certificate checks, cut at ``deadline``; network failures become
    French SourceErrors. A conditional request the server answers ``304 Not Modified`` (after
    any redirect) gives None."""
    host = _host(request.full_url)
    opener = urllib.request.build_opener(
        _DeadlineHTTPSHandler(_tls_context(ca_bundle), deadline), _HttpsOnlyRedirects
    )
    try:
        return opener.open(request, timeout=min(TIMEOUT_S, deadline.seconds))
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and _is_conditional(request):
            return None
        raise SourceError(MSG_STATUS.format(host=host, status=exc.code)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise SourceError(_network_failure(request.full_url, exc, deadline)) from None


def _network_failure(url: str, exc: Exception, deadline: _Deadline) -> str:
    """The French sentence for a failed exchange with the server of ``url``."""
    log.warning("download of %s failed: %r", url, exc)
    host = _host(url)
    if deadline.expired:
        return MSG_LATE.format(host=host, seconds=fr_seconds(deadline.seconds, None))
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return MSG_CERT.format(host=host)
    if isinstance(reason, ssl.SSLError):
        return MSG_TLS.format(host=host)
    if isinstance(reason, TimeoutError):
        return MSG_TIMEOUT.format(host=host)
    if isinstance(exc, urllib.error.URLError):  # no connection was made
        return MSG_UNREACHABLE.format(host=host)
    return MSG_CUT.format(host=host)


@dataclass(frozen=True)
class Received:
    """A completed download: the file, the sha256 of its bytes, and what the final response
    (after redirects) said about it: its URL and its validators for the next conditional GET."""

    path: Path
    sha256: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


def download(
    url: str,
    workdir: Path,
    ca_bundle: str | None = None,
    limits: DownloadLimits | None = None,
    conditions: dict[str, str] | None = None,
) -> Received | None:
    """Stream ``url`` into ``workdir`` (temporary name, renamed only when complete), hashing on
    the way; the whole of it within ``limits``, redirects included. ``conditions``
    (``If-None-Match``, ``If-Modified-Since``) make it a conditional GET: None when the server
    answers that nothing changed."""
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise SourceError(MSG_PLAIN_HTTP.format(url=url))
    limits = limits or DownloadLimits()
    workdir.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={**_HEADERS, **(conditions or {})})
    with _Deadline(limits.deadline_s) as deadline:
        response = _request(request, ca_bundle, deadline)
        if response is None:
            return None
        with response:
            target = workdir / _download_name(response)
            partial_file = target.with_name(target.name + ".part")
            try:
                digest = _receive(response, partial_file, limits, deadline)
            except BaseException:
                partial_file.unlink(missing_ok=True)
                raise
            headers = response.headers
    os.replace(partial_file, target)
    return Received(target, digest, response.url, headers.get("ETag"), headers.get("Last-Modified"))


def _is_conditional(request: urllib.request.Request) -> bool:
    return any(request.has_header(h) for h in ("If-none-match", "If-modified-since"))


def _receive(response, path: Path, limits: DownloadLimits, deadline: _Deadline) -> str:
    """Write the body to ``path``; its sha256. SourceError when it is longer than the cap,
    shorter than announced, cut, or late."""
    host = _host(response.url)
    expected = _content_length(response)
    too_big = MSG_TOO_BIG.format(host=host, limit=fr_int(limits.max_bytes >> 20))
    if expected is not None and expected > limits.max_bytes:
        raise SourceError(too_big)
    digest, received = hashlib.sha256(), 0
    started = time.monotonic()
    try:
        with open(path, "wb") as out:
            while chunk := response.read1(CHUNK):
                received += len(chunk)
                if received > limits.max_bytes:
                    raise SourceError(too_big)
                digest.update(chunk)
                out.write(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise SourceError(_network_failure(response.url, exc, deadline)) from None
    if deadline.expired:  # the shut-down socket read as a clean end
        raise SourceError(MSG_LATE.format(host=host, seconds=fr_seconds(deadline.seconds, None)))
    if expected is not None and received != expected:
        log.warning("download of %s: %d bytes of %d", response.url, received, expected)
        raise SourceError(
            MSG_SHORT.format(host=host, received=fr_int(received), expected=fr_int(expected))
        )
    log.info(
        "downloaded %s: %d bytes in %.1f s", response.url, received, time.monotonic() - started
    )
    return digest.hexdigest()


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


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
