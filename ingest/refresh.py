"""Refresh a configured source: ask its URL whether the file changed (conditional request), import
it only if so, and record the attempt whatever happens.

``balise ingest annuaire|finess`` without a file and the worker's daily refresh both come here.
A 304, or a download identical to the last one, costs no ingest. A failure (unreachable server,
refused download, a file the readers or the writer refuse) is recorded with its French reason
and raised; the validators and fingerprint of the last good file are kept, so the next check
asks again.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from balise.clock import utc_now
from balise.config import Settings
from balise.errors import BaliseError, ConfigurationError
from balise.referentials.lifecycles import DATA_SOURCES
from balise.services import sources
from ingest import jobs
from ingest.sources import remote
from ingest.sources.download import DownloadLimits

log = logging.getLogger(__name__)

MSG_NO_URL = (
    "Aucune adresse configurée pour {label} (réglage {setting}) : donnez un fichier ou une URL "
    "(balise ingest {source} SOURCE)."
)
MSG_UNEXPECTED = "erreur inattendue (voir le journal du serveur)"


@dataclass
class RefreshReport:
    """One refresh: ``outcome`` is "imported" (``ingest`` holds the import) or "unchanged"
    (``how`` says how that was known)."""

    source: str
    url: str
    outcome: str
    how: str = ""
    ingest: jobs.IngestReport | None = None

    def as_dict(self) -> dict:
        data = {"source": self.source, "url": self.url, "outcome": self.outcome, "how": self.how}
        data["ingest"] = self.ingest.as_dict() if self.ingest else None
        return data


def refresh(
    engine: Engine,
    kind: str,
    settings: Settings,
    departments: tuple[str, ...] | None,
    limits: DownloadLimits | None = None,
    ca_bundle: str | None = None,
    policy: jobs.Policy | None = None,
) -> RefreshReport:
    """Refresh ``kind`` from its configured URL for ``departments`` (None = all); an import is
    made by ``policy`` (who, what the deletion gate accepts: ``jobs.ingest``)."""
    url = settings.source_url(kind)
    if not url:
        label, setting = DATA_SOURCES[kind], f"BALISE_{kind.upper()}_URL"
        raise ConfigurationError(MSG_NO_URL.format(label=label, setting=setting, source=kind))
    checked_at = utc_now()
    try:
        with tempfile.TemporaryDirectory(prefix="balise-ingest-") as workdir:
            known = _known(engine, kind, url, departments)
            checked = remote.check(url, Path(workdir), known, ca_bundle, limits)
            report = None
            if checked.changed:
                report = jobs.ingest(
                    engine, kind, str(checked.received.path), departments, ca_bundle=ca_bundle,
                    limits=limits, generated_at=checked.file_date,
                    archive_dir=settings.resolved_archive_dir(), policy=policy,
                )  # fmt: skip
    except Exception as exc:
        reason = str(exc) if isinstance(exc, BaliseError) else MSG_UNEXPECTED
        sources.record_check(
            engine, kind, url, checked_at=checked_at, outcome="failed", message=reason
        )
        raise
    return _record(engine, kind, url, checked_at, checked, report)


def _known(
    engine: Engine, kind: str, url: str, departments: tuple[str, ...] | None
) -> remote.Known:
    """What the last good check learnt; its validators only if it asked the same URL. Nothing
    when its snapshot left out some of ``departments`` (or is gone): an unchanged file does
    not hold their rows in the store, so it is downloaded and imported for them."""
    last = sources.last_check(engine, kind)
    if last is None or not sources.snapshot_covers(engine, last.snapshot_id, departments):
        return remote.Known()
    if last.url != url:
        return remote.Known(sha256=last.sha256)
    return remote.Known(last.etag, last.last_modified, last.file_name, last.sha256)


def _record(engine, kind, url, checked_at, checked: remote.Checked, report) -> RefreshReport:
    values = {"checked_at": checked_at, "etag": checked.etag, "file_name": checked.file_name,
              "last_modified": checked.last_modified}  # fmt: skip
    if report is None:
        sources.record_check(engine, kind, url, outcome="unchanged", message=checked.how, **values)
        log.info("refresh %s: unchanged (%s)", kind, checked.how)
        return RefreshReport(kind, url, "unchanged", checked.how)
    how = f"déjà importé (instantané n° {report.snapshot_id})" if report.already_ingested else ""
    last = sources.last_check(engine, kind)
    if not (report.already_ingested and last and last.sha256 == checked.received.sha256):
        values["changed_at"] = checked_at  # the last check's file again is no change
    sources.record_check(
        engine, kind, url, outcome="imported", message=how or None,
        sha256=checked.received.sha256, snapshot_id=report.snapshot_id,
        file_date=sources.snapshot_date(engine, report.snapshot_id) or checked.file_date, **values,
    )  # fmt: skip
    return RefreshReport(kind, url, "imported", how, report)
