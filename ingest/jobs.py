"""Ingest jobs: fetch a source, read it with the pure reader, write it with the one writer, inside
one transaction holding the store's ingest lock. A failure anywhere rolls everything back, so the
previous snapshot stays exactly as it was."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
from sqlalchemy import Engine

from balise.db import write_transaction
from balise.errors import SourceError
from balise.formatting import fr_count
from ingest import archive, load
from ingest.sources import annuaire, finess
from ingest.sources.files import DownloadLimits, fetch_source, open_rows
from ingest.sources.rows import ReadStats

log = logging.getLogger(__name__)


def _lean_allocators() -> None:
    """Allocators for ingests, which run threads (Arrow's parsers, the read-ahead thread).
    Arrow: jemalloc gives freed blocks back where mimalloc (Arrow's default) keeps per-thread
    caches (about 60 MB less peak memory on the national files, at the same speed). glibc's
    malloc is set in ``ingest/__init__.py``, before any thread starts."""
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # an Arrow build without jemalloc
        pa.set_memory_pool(pa.system_memory_pool())


_lean_allocators()

SOURCES = {"annuaire": "Annuaire MSSanté", "finess": "FINESS"}


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
    rejects: load.RejectLog | None = None
    created: int = 0
    removed: int = 0
    changed: int = 0
    encoding: str = "utf-8"
    duration_s: float = 0.0
    # Where the file was archived, or why it could not be (the import stands either way).
    archived: str | None = None
    archive_error: str | None = None

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "rejects"}
        data["rejected"] = self.rejects.total if self.rejects else 0
        data["rejected_by_reason"] = dict(self.rejects.reasons) if self.rejects else {}
        data["rejected_examples"] = self.rejects.examples[:10] if self.rejects else []
        return data


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
    lock_wait_s: float = 30.0,
    limits: DownloadLimits | None = None,
    generated_at: datetime | None = None,
    archive_dir: Path | None = None,
) -> IngestReport:
    """Ingest one directory or FINESS ``source`` for ``departments`` (None = all); a URL is
    downloaded within ``limits`` (deadline, size cap). ``generated_at``: the file's date when it
    carries none itself (a download's URL, an archive's header). Once committed, the file is
    archived in ``archive_dir`` (None = not kept; a failure there leaves the import as it is)."""
    if kind not in SOURCES:
        raise SourceError(f"Source inconnue : {kind} (attendu : annuaire ou finess).")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="balise-ingest-") as workdir:
        local = fetch_source(source, Path(workdir), ca_bundle=ca_bundle, limits=limits)
        meta = load.SnapshotMeta(kind, local.file_name, local.sha256, departments, is_demo)
        with write_transaction(engine, "ingest", wait_s=lock_wait_s, bulk=True) as conn:
            same = load.find_same_snapshot(conn, meta)
            if same is not None:
                return IngestReport(kind, local.file_name, same, already_ingested=True)
            if on_size:
                on_size(local.path.stat().st_size)
            stats = ReadStats()
            with open_rows(local) as raw:
                stream = CountingReader(raw, progress) if progress else raw
                result = _WRITERS[kind](conn, meta, _read(kind, stream, departments, stats))
            if kind == "annuaire" and stats.generated_at is None:
                stats.generated_at = annuaire.parse_generated_at(local.file_name)
            stats.generated_at = stats.generated_at or generated_at
            if result.kept == 0:
                raise SourceError(_nothing_kept(kind, stats, result))
            duration = time.perf_counter() - started
            load.close_snapshot(conn, result, stats, duration)
        kept = _archive(None if is_demo else archive_dir, kind, local, stats.generated_at)
    log.info("ingested %s %s as snapshot %s", kind, local.file_name, result.snapshot_id)
    return IngestReport(
        kind, local.file_name, result.snapshot_id, False, stats.lines, result.kept,
        result.duplicates, stats.out_of_scope, result.rejects, result.created, result.removed,
        result.changed, stats.encoding, duration, *kept,
    )  # fmt: skip


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


def _read(kind: str, stream, departments: tuple[str, ...] | None, stats: ReadStats):
    read = annuaire.read_extract_chunks if kind == "annuaire" else finess.read_finess_chunks
    return read(stream, departments, stats)


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


_WRITERS = {"annuaire": load.load_directory, "finess": load.load_finess}


def _nothing_kept(kind: str, stats: ReadStats, result: load.LoadResult) -> str:
    """Why an ingest that kept no row is refused (the store is left unchanged)."""
    if stats.lines == 0:
        return f"Le fichier {SOURCES[kind]} ne contient aucune ligne de données."
    if stats.out_of_scope and not result.rejects.total:
        return (
            f"Aucune ligne du fichier {SOURCES[kind]} ne concerne les départements choisis "
            f"({fr_count(stats.out_of_scope, 'ligne', 'lignes')} hors sélection)."
        )
    return (
        f"Aucune ligne valide dans le fichier {SOURCES[kind]} "
        f"({fr_count(result.rejects.total, 'ligne rejetée', 'lignes rejetées')})."
    )
