"""Rebuild the history from the archive (``balise ingest annuaire|finess --from-archive``): every
archived file of a source, oldest first, goes through the ordinary import (readers, writer,
checks) as if it had just been published.

History is never rewritten: snapshots are ordered by import, so a file older than the latest
snapshot of its source is skipped with a sentence saying so (rebuild into an empty store, or
one that stops before the archive starts). A file already imported for this selection is
recognised by its fingerprint without being inflated. One file that fails is reported and the
next ones still run.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from balise.errors import BaliseError, SourceError
from balise.formatting import fr_date
from balise.models import Snapshot
from balise.referentials.lifecycles import DATA_SOURCES
from ingest import archive, jobs
from ingest.load.snapshots import scope_label
from ingest.sources.download import DownloadLimits

log = logging.getLogger(__name__)

MSG_NONE = "Aucun fichier archivé pour {label} dans {folder}{period}."
MSG_OLDER = (
    "{name} : antérieur au dernier instantané ({day}), ignoré : l'historique ne se réécrit pas "
    "(pour le reconstruire, partez d'une base vide)."
)
MSG_SAME = "{name} : déjà importé (instantané n° {snapshot}), rien à faire."


@dataclass
class Replayed:
    """One archived file: ``outcome`` is "imported", "already", "older" or "failed"; ``line``
    the sentence to print (for "imported", the ingest summary is the caller's)."""

    name: str
    outcome: str
    line: str = ""
    report: jobs.IngestReport | None = None

    def as_dict(self) -> dict:
        data = {"archive": self.name, "outcome": self.outcome, "message": self.line}
        return {**data, "ingest": self.report.as_dict() if self.report else None}


def replay(
    engine: Engine,
    kind: str,
    archive_dir: Path,
    departments: tuple[str, ...] | None,
    since: date | None = None,
    until: date | None = None,
    limits: DownloadLimits | None = None,
    on_file: Callable[[Replayed], None] | None = None,
    policy: jobs.Policy | None = None,
) -> list[Replayed]:
    """Replay the archived files of ``kind`` (from ``since`` to ``until``) into the store, each
    by ``policy`` (its audit line names the archived file)."""
    files = archive.listing(archive_dir, kind, since, until)
    if not files:
        period = _period(since, until)
        raise SourceError(
            MSG_NONE.format(label=DATA_SOURCES[kind], folder=archive_dir / kind, period=period)
        )
    limits = limits or DownloadLimits()
    done = []
    for archived in files:
        outcome = _replay_one(engine, archived, departments, limits, policy or jobs.Policy())
        if on_file:
            on_file(outcome)
        done.append(outcome)
    return done


def _replay_one(
    engine: Engine,
    archived: archive.Archived,
    departments,
    limits: DownloadLimits,
    policy: jobs.Policy,
) -> Replayed:
    name = archived.path.name
    same, newest = _store_position(engine, archived, departments)
    if same is not None:
        return Replayed(name, "already", MSG_SAME.format(name=name, snapshot=same))
    # A file that carried no date was archived under its import day: that is its date now, or
    # its snapshot would be dated by the replay and every later file look older.
    when = archived.file_date or datetime.combine(archived.day, datetime.min.time())
    if newest is not None and when < newest:
        return Replayed(name, "older", MSG_OLDER.format(name=name, day=fr_date(newest)))
    try:
        with tempfile.TemporaryDirectory(prefix="balise-ingest-") as workdir:
            path = archive.restore(archived, Path(workdir), limits.max_bytes)
            report = jobs.ingest(
                engine, archived.source, str(path), departments, limits=limits, generated_at=when,
                policy=replace(policy, detail={"archive": name}),
            )  # fmt: skip
    except BaliseError as exc:
        log.warning("replay of %s failed: %s", name, exc)
        return Replayed(name, "failed", f"{name} : {exc}")
    return Replayed(name, "imported", report=report)


def _store_position(engine: Engine, archived: archive.Archived, departments):
    """(the snapshot that already holds this file for this selection, or None; the date of the
    newest snapshot of its source, or None)."""
    scope = scope_label(departments)
    with engine.connect() as conn:
        same = conn.scalar(
            select(Snapshot.id).where(
                Snapshot.source == archived.source,
                Snapshot.departments == scope,
                Snapshot.sha256.startswith(archived.sha8, autoescape=True),
            )
        )
        newest = conn.scalar(
            select(func.coalesce(Snapshot.generated_at, Snapshot.ingested_at))
            .where(Snapshot.source == archived.source)
            .order_by(Snapshot.id.desc())
            .limit(1)
        )
    return same, newest


def _period(since: date | None, until: date | None) -> str:
    if since and until:
        return f" du {fr_date(since)} au {fr_date(until)}"
    if since:
        return f" depuis le {fr_date(since)}"
    return f" jusqu'au {fr_date(until)}" if until else ""
