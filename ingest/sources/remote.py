"""Has a published source changed since the last look? Ask the server, download only what is new.

A conditional GET (RFC 9110: ``If-None-Match`` with the last ``ETag``, ``If-Modified-Since`` with
the last ``Last-Modified``) costs nothing when the file is unchanged: the server answers ``304``.
A ``200`` is downloaded whole or nothing (:func:`ingest.sources.download.download`: TLS verified,
redirects followed to https only, deadline, size cap and ``Content-Length`` check on the final
response); a file whose sha256 is the last one's is unchanged too. A server that gives no
validator but announces a dated file name (the ANS web service: ``Content-Disposition``) is asked
with a HEAD first, so that the same announced file is not downloaded again.

Pure I/O, no store: the caller keeps what :class:`Known` holds between checks.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from balise.errors import SourceError
from ingest.sources.download import DownloadLimits, Received, download, head_generated_at

log = logging.getLogger(__name__)

# A date in a file name or URL path: AAAAMMJJ, then optionally hhmm or hhmmss, with or without a
# separator (``..._MSSante_202611250312.txt``, ``...journalier-20260905.json.gz``, data.gouv's
# ``/resources/<dataset>/20260826-081543/<file>``, ``etalab-...-stock-20260504-0336.csv``).
_DATED = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?:[-_T]?(\d{2})(\d{2})(\d{2})?)?(?!\d)")

HOW_NOT_MODIFIED = "le serveur répond 304 à la requête conditionnelle"
HOW_SAME_CONTENT = "même empreinte SHA-256 que le dernier fichier"
HOW_SAME_NAME = "le serveur annonce le même fichier, {name}"


@dataclass(frozen=True)
class Known:
    """What the last successful check of a source at this URL learnt."""

    etag: str | None = None
    last_modified: str | None = None
    file_name: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Checked:
    """The answer: ``received`` holds the new file when the source changed, None otherwise
    (``how`` then says how that was known). ``etag`` / ``last_modified``: the validators to send
    next time. ``file_date``: the date the file carries in its name, its URL, or failing both
    the server's ``Last-Modified``."""

    received: Received | None
    how: str = ""
    etag: str | None = None
    last_modified: str | None = None
    file_name: str | None = None
    file_date: datetime | None = None

    @property
    def changed(self) -> bool:
        return self.received is not None


def check(
    url: str,
    workdir: Path,
    known: Known,
    ca_bundle: str | None = None,
    limits: DownloadLimits | None = None,
) -> Checked:
    """Ask ``url`` whether its file changed since ``known``; download it (into ``workdir``) if
    so. Errors are SourceErrors in French (nothing downloaded, ``known`` still valid)."""
    unchanged = Checked(None, "", known.etag, known.last_modified, known.file_name)
    if not (known.etag or known.last_modified) and file_date(known.file_name):
        announced = _announced_name(url, ca_bundle)
        if announced == known.file_name:
            return _replace_how(unchanged, HOW_SAME_NAME.format(name=announced))
    received = download(url, workdir, ca_bundle, limits, _conditions(known))
    if received is None:
        return _replace_how(unchanged, HOW_NOT_MODIFIED)
    etag, stamp = received.etag, received.last_modified
    name = received.path.name
    if received.sha256 == known.sha256:
        received.path.unlink(missing_ok=True)
        return Checked(None, HOW_SAME_CONTENT, etag, stamp, name)
    when = file_date(name) or file_date(urllib.parse.urlsplit(received.url).path)
    return Checked(received, "", etag, stamp, name, when or _http_date(stamp))


def file_date(text: str | None) -> datetime | None:
    """The last valid date (and time) written in a file name or URL path, else None."""
    for match in reversed(list(_DATED.finditer(text or ""))):
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            continue
    return None


def _announced_name(url: str, ca_bundle: str | None) -> str | None:
    """The file name a HEAD request announces; None when the server will not say (a server that
    refuses HEAD is then asked with a GET, as one that gives no name)."""
    try:
        return head_generated_at(url, ca_bundle)
    except SourceError as exc:
        log.info("HEAD %s refused (%s): asking with a GET", url, exc)
        return None


def _conditions(known: Known) -> dict[str, str]:
    conditions = {}
    if known.etag:
        conditions["If-None-Match"] = known.etag
    if known.last_modified:
        conditions["If-Modified-Since"] = known.last_modified
    return conditions


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date as a naive UTC datetime (the store's convention), or None."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _replace_how(checked: Checked, how: str) -> Checked:
    return Checked(None, how, checked.etag, checked.last_modified, checked.file_name)
