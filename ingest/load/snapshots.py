"""The snapshot record of an ingest and what a load reports about it.

A snapshot row is opened before the rows are written and closed with the counts once they are:
both in the ingest's one transaction. ``LoadResult`` is what a writer (``directory``,
``finess``) reports; ``Drop`` is what it would close in a department, for the deletion gate
(``ingest.gate``). An import of some departments only closes versions of those departments
(``scope_sql``): the others keep their last imported state.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, insert, select, text, update

from balise.clock import utc_now
from balise.models.tables import snapshots
from balise.referentials.lifecycles import DataSource
from ingest.sources.rows import ReadStats, Rejected

MAX_EXAMPLES = 50


@dataclass
class RejectLog:
    """Bad rows: counted by reason, the first ones kept with their line numbers."""

    reasons: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, rejected: Rejected) -> None:
        self.reasons[rejected.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((rejected.line, rejected.reason))

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def to_json(self) -> str:
        return json.dumps(
            {"reasons": dict(self.reasons), "examples": self.examples}, ensure_ascii=False
        )


@dataclass
class SnapshotMeta:
    source: DataSource
    file_name: str
    sha256: str
    departments: tuple[str, ...] | None  # None = every department
    is_demo: bool = False


@dataclass(frozen=True)
class Drop:
    """What an import closes in one department: ``closing`` of its ``current`` mailboxes (or
    establishments, for FINESS) are no longer in the file."""

    department: str
    current: int
    closing: int


@dataclass
class LoadResult:
    snapshot_id: int
    offered: int = 0
    kept: int = 0
    created: int = 0
    removed: int = 0
    changed: int = 0
    rejects: RejectLog = field(default_factory=RejectLog)
    drops: list[Drop] = field(default_factory=list)  # departments where something closes
    # FINESS numbers kept with a wrong Luhn key: how many, the first few (for the summary).
    wrong_keys: int = 0
    wrong_key_examples: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.offered - self.kept


def scope_label(departments: tuple[str, ...] | None) -> str:
    return "*" if departments is None else ",".join(departments)


def scope_sql(departments: tuple[str, ...] | None, column: str) -> tuple[str, dict]:
    """A SQL condition on ``column`` for the selected departments (None: all), its parameters."""
    if departments is None:
        return "1=1", {}
    names = [f"d{i}" for i in range(len(departments))]
    return (
        f"{column} IN ({', '.join(':' + n for n in names)})",
        dict(zip(names, departments, strict=True)),
    )


def find_same_snapshot(conn: Connection, meta: SnapshotMeta) -> int | None:
    """The snapshot that already ingested this exact file for this selection, if any."""
    return conn.execute(
        select(snapshots.c.id).where(
            snapshots.c.source == meta.source,
            snapshots.c.sha256 == meta.sha256,
            snapshots.c.departments == scope_label(meta.departments),
        )
    ).scalar()


def open_snapshot(conn: Connection, meta: SnapshotMeta) -> int:
    now = utc_now()
    return conn.execute(
        insert(snapshots)
        .values(
            source=meta.source,
            file_name=meta.file_name,
            sha256=meta.sha256,
            ingested_at=now,
            departments=scope_label(meta.departments),
            is_demo=meta.is_demo,
        )
        .returning(snapshots.c.id)
    ).scalar_one()


def close_snapshot(conn: Connection, result: LoadResult, stats: ReadStats, duration: float) -> None:
    conn.execute(
        update(snapshots)
        .where(snapshots.c.id == result.snapshot_id)
        .values(
            generated_at=stats.generated_at,
            encoding=stats.encoding,
            rows_read=stats.lines,
            rows_kept=result.kept,
            rows_rejected=result.rejects.total,
            duplicates=result.duplicates,
            created=result.created,
            removed=result.removed,
            changed=result.changed,
            rejects=result.rejects.to_json(),
            duration_s=round(duration, 3),
        )
    )


def latest_directory_snapshot(conn: Connection) -> int | None:
    return conn.execute(
        select(snapshots.c.id)
        .where(snapshots.c.source == DataSource.ANNUAIRE)
        .order_by(snapshots.c.id.desc())
        .limit(1)
    ).scalar()


def count_drops(
    conn: Connection, table: str, current: str, closing: Counter, after: bool
) -> list[Drop]:
    """One ``Drop`` per department of ``closing`` (department -> rows closing), with the number
    of its rows of ``table`` matching ``current`` now; ``after``: the closing rows no longer
    match (they were closed already), so they are added back."""
    if not closing:
        return []
    counted = dict(
        conn.execute(
            text(
                f"SELECT department, count(*) FROM {table} WHERE {current} "
                "AND department IN :departments GROUP BY department"
            ).bindparams(bindparam("departments", expanding=True)),
            {"departments": sorted(closing)},
        ).all()
    )
    return [Drop(d, counted.get(d, 0) + (n if after else 0), n) for d, n in sorted(closing.items())]
