"""Ingest jobs: fetch a source, read it with the pure reader, write it with the one writer, inside
one transaction holding the store's ingest lock. A failure anywhere rolls everything back, so the
previous snapshot stays exactly as it was.

One transaction per fact: the snapshot, the deletion gate's verdict (``ingest.gate``), the
import's audit line, the onboarding advance its facts bring and the alerts it settles commit
together or not at all; a crash at any point leaves nothing for a re-run to call « déjà
importé ». A snapshot that lacks its audit line all the same (written by the former two-step
writer) gets it, with the advance, from the « déjà importé » re-run."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, select

from balise.db import write_transaction
from balise.errors import SourceError
from balise.formatting import fr_count, fr_int
from balise.models.tables import audit_log
from balise.referentials.lifecycles import DATA_SOURCES, DataSource
from balise.services import audit, ingest_alerts
from balise.services.access import SYSTEM, Actor
from balise.services.onboarding import advance_in
from ingest import archive, arrow_setup, gate  # noqa: F401 (arrow_setup: first, on import)
from ingest.load import snapshots
from ingest.sources.files import DownloadLimits, fetch_source, open_rows
from ingest.sources.rows import ReadStats

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    source: str
    file_name: str
    snapshot_id: int
    already_ingested: bool
    lines: int = 0
    kept: int = 0
    duplicates: int = 0
    out_of_scope: int = 0
    rejects: snapshots.RejectLog | None = None
    created: int = 0
    removed: int = 0
    changed: int = 0
    encoding: str = "utf-8"
    duration_s: float = 0.0
    # Where the file was archived, or why it could not be (the import stands either way).
    archived: str | None = None
    archive_error: str | None = None
    # Drops over the gate's threshold that --accept-drop let through, alerts it settled.
    accepted_drops: list[snapshots.Drop] = field(default_factory=list)
    settled_alerts: list[int] = field(default_factory=list)
    onboarding_moved: int = 0
    # An « already ingested » file whose audit line (and onboarding advance) was missing.
    completed: bool = False
    # What the reader and the writer noticed (unknown categories, repaired coordinates, wrong
    # Luhn keys, establishments set apart...): one French sentence each, told in the summary.
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k not in ("rejects", "accepted_drops")}
        data["accepted_drops"] = [d.__dict__ for d in self.accepted_drops]
        data["rejected"] = self.rejects.total if self.rejects else 0
        data["rejected_by_reason"] = dict(self.rejects.reasons) if self.rejects else {}
        data["rejected_examples"] = self.rejects.examples[:10] if self.rejects else []
        return data


@dataclass(frozen=True)
class Policy:
    """Who imports and what they accept: ``actor`` signs the audit line (``detail`` adds to
    it); the deletion gate refuses drops over ``max_drop_pct`` % unless ``accept_drop``;
    ``advance`` moves the onboarding pipeline from the new facts in the same transaction."""

    actor: Actor = SYSTEM
    max_drop_pct: float = 5.0
    accept_drop: bool = False
    advance: bool = True
    detail: dict = field(default_factory=dict)


def ingest(
    engine: Engine,
    kind: str,
    source: str,
    departments: tuple[str, ...] | None,
    *,
    ca_bundle: str | None = None,
    is_demo: bool = False,
    progress: Callable[[int], None] | None = None,
    on_size: Callable[[int], None] | None = None,
    lock_wait_s: float | None = None,
    limits: DownloadLimits | None = None,
    generated_at: datetime | None = None,
    archive_dir: Path | None = None,
    policy: Policy | None = None,
) -> IngestReport:
    """Ingest one directory or FINESS ``source`` for ``departments`` (None = all); a URL is
    downloaded within ``limits`` (deadline, size cap). ``generated_at``: the file's date when it
    carries none itself (a download's URL, an archive's header). Once committed, the file is
    archived in ``archive_dir`` (None = not kept; a failure there leaves the import as it is).
    ``policy``: who imports, what the gate accepts (default: the local operator, no drop)."""
    policy = policy or Policy()
    if kind not in DATA_SOURCES:
        raise SourceError(f"Source inconnue : {kind} (attendu : annuaire ou finess).")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="balise-ingest-") as workdir:
        local = fetch_source(source, Path(workdir), ca_bundle=ca_bundle, limits=limits)
        meta = snapshots.SnapshotMeta(kind, local.file_name, local.sha256, departments, is_demo)
        with write_transaction(engine, "ingest", wait_s=lock_wait_s, bulk=True) as conn:
            same = snapshots.find_same_snapshot(conn, meta)
            if same is not None:
                return _already_ingested(conn, kind, local.file_name, same, departments, policy)
            if on_size:
                on_size(local.path.stat().st_size)
            stats = ReadStats()
            with open_rows(local) as raw:
                stream = CountingReader(raw, progress) if progress else raw
                result = _load(conn, meta, stream, stats)
            if kind == DataSource.ANNUAIRE and stats.generated_at is None:
                from ingest.sources.annuaire import parse_generated_at

                stats.generated_at = parse_generated_at(local.file_name)
            stats.generated_at = stats.generated_at or generated_at
            if result.kept == 0:
                raise SourceError(_nothing_kept(kind, stats, result))
            accepted = gate.check(
                kind, local.file_name, result.drops, policy.max_drop_pct, policy.accept_drop
            )
            duration = time.perf_counter() - started
            snapshots.close_snapshot(conn, result, stats, duration)
            report = IngestReport(
                kind, local.file_name, result.snapshot_id, False, stats.lines, result.kept,
                result.duplicates, stats.out_of_scope, result.rejects, result.created,
                result.removed, result.changed, stats.encoding, duration, accepted_drops=accepted,
                notes=_notes(stats, result),
            )  # fmt: skip
            _settle(conn, report, departments, policy)
        kept = _archive(None if is_demo else archive_dir, kind, local, stats.generated_at)
        report.archived, report.archive_error = kept
    log.info("ingested %s %s as snapshot %s", kind, local.file_name, result.snapshot_id)
    return report


def _already_ingested(
    conn, kind: str, file_name: str, snapshot_id: int, departments, policy: Policy
) -> IngestReport:
    """The report of a file already ingested. A snapshot without its audit line (committed
    apart from it by an earlier version, then interrupted) gets it now, with the onboarding
    advance, so that a re-run completes what is missing."""
    report = IngestReport(kind, file_name, snapshot_id, already_ingested=True)
    audited = conn.execute(
        select(audit_log.c.id)
        .where(
            audit_log.c.action == f"ingest.{kind}",
            audit_log.c.outcome == "ok",
            audit_log.c.detail.like(f'{{"snapshot": {snapshot_id},%'),
        )
        .limit(1)
    ).first()
    if audited is None:
        _settle(conn, report, departments, policy)
        report.completed = True
    return report


def _settle(
    conn, report: IngestReport, departments: tuple[str, ...] | None, policy: Policy
) -> None:
    """What the import brings besides its rows, in its transaction: the alerts an accepted
    drop settles, the onboarding advance and the audit line."""
    if policy.accept_drop:
        report.settled_alerts = ingest_alerts.accept_open(
            conn, policy.actor, report.source, departments
        )
    if policy.advance:
        report.onboarding_moved = advance_in(conn, departments)
    detail: dict = {"snapshot": report.snapshot_id, "départements": departments or "*"}
    detail |= policy.detail
    if policy.accept_drop:
        detail["suppressions acceptées"] = [d.__dict__ for d in report.accepted_drops]
        detail["alertes closes"] = report.settled_alerts
    audit.record(conn, policy.actor, f"ingest.{report.source}", report.file_name, detail=detail)


MSG_NOT_ARCHIVED = "Fichier importé, mais non archivé dans {folder} : {reason}."


def _archive(
    archive_dir: Path | None, kind: str, local, file_date: datetime | None
) -> tuple[str | None, str | None]:
    """Keep the imported file (after the commit: the snapshot stands whatever happens here);
    (archived path, None), or (None, the French reason) when the archive cannot be written."""
    if archive_dir is None:
        return None, None
    try:
        return str(archive.keep(archive_dir, kind, local.path, local.sha256, file_date)), None
    except OSError as exc:
        log.warning("archive of %s in %s failed: %r", local.path.name, archive_dir, exc)
        return None, MSG_NOT_ARCHIVED.format(folder=archive_dir, reason=exc.strerror or exc)


def _load(conn, meta: snapshots.SnapshotMeta, stream, stats: ReadStats) -> snapshots.LoadResult:
    """Read ``stream`` with the reader of the snapshot's source, write it with its writer. Each
    source's modules load for its own imports only (a directory import skips the FINESS and
    FiNESS+ readers and writers: msgspec, the geography, the R397 nomenclature...)."""
    if meta.source == DataSource.ANNUAIRE:
        from ingest.load.directory import load_directory
        from ingest.sources.annuaire import read_extract_chunks

        return load_directory(conn, meta, read_extract_chunks(stream, meta.departments, stats))
    from ingest.load.finess import load_finess
    from ingest.sources.finess import read_finess_chunks

    return load_finess(conn, meta, read_finess_chunks(stream, meta.departments, stats))


class CountingReader:
    """A binary stream that tells ``progress`` how many bytes were read (for progress bars)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]):
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._raw.readline(size)
        self._progress(len(data))
        return data

    def __iter__(self):
        for line in self._raw:
            self._progress(len(line))
            yield line

    def __getattr__(self, name):
        return getattr(self._raw, name)


def _notes(stats: ReadStats, result: snapshots.LoadResult) -> list[str]:
    """The reader's notes, then the writer's: numbers kept with a wrong Luhn key."""
    notes = list(stats.notes)
    if result.wrong_keys:
        examples = ", ".join(result.wrong_key_examples)
        more = "…" if result.wrong_keys > len(result.wrong_key_examples) else ""
        notes.append(
            "Numéros FINESS dont la clé de Luhn est fausse (gardés) : "
            f"{fr_int(result.wrong_keys)} ({examples}{more})."
        )
    return notes


def _nothing_kept(kind: str, stats: ReadStats, result: snapshots.LoadResult) -> str:
    """Why an ingest that kept no row is refused (the store is left unchanged)."""
    if stats.lines == 0:
        return f"Le fichier {DATA_SOURCES[kind]} ne contient aucune ligne de données."
    if stats.out_of_scope and not result.rejects.total:
        return (
            f"Aucune ligne du fichier {DATA_SOURCES[kind]} ne concerne les départements choisis "
            f"({fr_count(stats.out_of_scope, 'ligne', 'lignes')} hors sélection)."
        )
    return (
        f"Aucune ligne valide dans le fichier {DATA_SOURCES[kind]} "
        f"({fr_count(result.rejects.total, 'ligne rejetée', 'lignes rejetées')})."
    )
