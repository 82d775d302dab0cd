"""A download whole or nothing: streamed to a temporary file and hashed on the way, its length
checked against ``Content-Length``, within an overall deadline and a size cap
(:class:`DownloadLimits`); a short, late or oversized download is a SourceError and leaves no
file. The exchange itself (TLS, redirects, deadline, French messages) is ``ingest.sources.https``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from balise.errors import SourceError
from balise.formatting import fr_int, fr_seconds
from ingest.sources.https import (
    HEADERS,
    MSG_LATE,
    MSG_PLAIN_HTTP,
    TIMEOUT_S,
    Deadline,
    host_of,
    network_failure,
    open_request,
)

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_DEADLINE_S = 600.0
DEFAULT_MAX_MB = 2048

MSG_SHORT = (
    "Le téléchargement depuis {host} est incomplet : {received} octets reçus sur {expected} "
    "annoncés ; rien n'est importé."
)
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
    request = urllib.request.Request(url, headers={**HEADERS, **(conditions or {})})
    with Deadline(limits.deadline_s) as deadline:
        response = open_request(request, ca_bundle, deadline)
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


def head_generated_at(url: str, ca_bundle: str | None = None) -> str | None:
    """The file name the server announces in ``Content-Disposition`` for a HEAD request
    (the ANS puts the generation time in it), or None. Lets a scheduler skip a download."""
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise SourceError(MSG_PLAIN_HTTP.format(url=url))
    request = urllib.request.Request(url, method="HEAD", headers=HEADERS)
    with Deadline(TIMEOUT_S) as deadline, open_request(request, ca_bundle, deadline) as response:
        name = response.headers.get_filename()  # an unconditional request: never None
    return Path(name).name if name else None


def _receive(response, path: Path, limits: DownloadLimits, deadline: Deadline) -> str:
    """Write the body to ``path``; its sha256. SourceError when it is longer than the cap,
    shorter than announced, cut, or late."""
    host = host_of(response.url)
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
        raise SourceError(network_failure(response.url, exc, deadline)) from None
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
