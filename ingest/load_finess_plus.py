"""Writer of what the FiNESS+ flow adds to the establishments: legal entities, inactive
establishments (kept apart) and groupings. The establishments themselves go through
``load.load_finess`` like the etalab CSV's; this module only taps the chunks on their way
there (:func:`collect`) and writes the rest once they are all read (:func:`write_extras`), in
the same transaction. An etalab CSV carries none of this: then nothing here is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, bindparam, delete, select

from balise.models import FinessGroup, FinessGroupMember, InactiveEstablishment, LegalEntity
from ingest.sources.finess_plus import (
    GROUP_FIELDS,
    INACTIVE_FIELDS,
    LEGAL_ENTITY_FIELDS,
    MEMBER_FIELDS,
    PlusChunk,
)
from ingest.sources.rows import Chunk
from ingest.staging import insert_batches, insert_rows

_LEGAL_TYPES = [pa.string()] * 6 + [pa.bool_(), pa.date32()]
_INACTIVE_TYPES = [pa.string()] * 5 + [pa.date32(), pa.string()]


@dataclass
class Extras:
    """What the chunks of one FiNESS+ file carried besides establishment rows, held as Arrow
    columns (a national file: ~100,000 legal entities, ~70,000 inactive establishments). Rows
    wait in small lists and become Arrow by FLUSH_ROWS: one small Arrow batch per chunk of the
    flow (a hundred rows) would cost some 40 MB more in allocation overhead nationally."""

    FLUSH_ROWS = 10_000

    seen: bool = False
    legal: list[pa.RecordBatch] = field(default_factory=list)
    inactive: list[pa.RecordBatch] = field(default_factory=list)
    groups: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    _legal_rows: list[tuple] = field(default_factory=list)
    _inactive_rows: list[tuple] = field(default_factory=list)

    def add(self, chunk: PlusChunk) -> None:
        self.seen = True
        self._legal_rows += chunk.legal_entities
        self._inactive_rows += chunk.inactive
        self.groups.extend(chunk.groups)
        self.members.extend(chunk.members)
        self.flush(self.FLUSH_ROWS)

    def flush(self, at_least: int = 1) -> None:
        if len(self._legal_rows) >= at_least:
            self.legal.append(_batch(self._legal_rows, LEGAL_ENTITY_FIELDS, _LEGAL_TYPES))
            self._legal_rows = []
        if len(self._inactive_rows) >= at_least:
            self.inactive.append(_batch(self._inactive_rows, INACTIVE_FIELDS, _INACTIVE_TYPES))
            self._inactive_rows = []


def _batch(rows: list[tuple], names: tuple[str, ...], types: list[pa.DataType]) -> pa.RecordBatch:
    columns = zip(*rows, strict=True)
    arrays = [pa.array(values, t) for values, t in zip(columns, types, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def collect(chunks: Iterable[Chunk], extras: Extras) -> Iterator[Chunk]:
    """``chunks`` unchanged, with what FiNESS+ chunks add kept in ``extras``."""
    for chunk in chunks:
        if isinstance(chunk, PlusChunk):
            extras.add(chunk)
        yield chunk


def write_extras(
    conn: Connection, extras: Extras, snapshot_id: int, departments: tuple[str, ...] | None
) -> None:
    """Replace the legal entities of the file, the inactive establishments of the selected
    departments and (on a national ingest) the groupings."""
    if not extras.seen:
        return
    extras.flush()
    legal = _unique(extras.legal, "finess_ej")
    if legal is not None and conn.execute(select(LegalEntity.finess_ej).limit(1)).first():
        numbers = legal.column("finess_ej")
        for start in range(0, len(numbers), 5_000):
            part = bindparam("n", numbers.slice(start, 5_000).to_pylist(), expanding=True)
            conn.execute(delete(LegalEntity).where(LegalEntity.finess_ej.in_(part)))
    _insert(conn, LegalEntity.__tablename__, legal, snapshot_id)
    scope = delete(InactiveEstablishment)
    if departments is not None:
        scope = scope.where(InactiveEstablishment.department.in_(departments))
    conn.execute(scope)
    _insert(conn, InactiveEstablishment.__tablename__, _unique(extras.inactive, "finess_et"),
            snapshot_id)  # fmt: skip
    if departments is None:  # groupings span departments: only a national file replaces them
        _replace_groupings(conn, extras, snapshot_id)


def _unique(batches: list[pa.RecordBatch], key: str) -> pa.Table | None:
    """The batches as one table, the first row of each ``key`` kept (repeats are rare: the
    check is done in Arrow, Python only sees the keys when there is one)."""
    if not batches:
        return None
    table = pa.Table.from_batches(batches)
    if pc.count_distinct(table.column(key)).as_py() == table.num_rows:
        return table
    seen: set[str] = set()
    first = [not (k in seen or seen.add(k)) for k in table.column(key).to_pylist()]
    return table.filter(pa.array(first, pa.bool_()))


def _insert(conn: Connection, table: str, rows: pa.Table | None, snapshot_id: int) -> None:
    """Through the bulk path of the establishments (Arrow batches written in C, see
    ``staging``): no Python object per value."""
    if rows is not None and rows.num_rows:
        insert_batches(conn, table, _with_snapshot(rows, snapshot_id))


def _with_snapshot(rows: pa.Table, snapshot_id: int) -> Iterator[pa.RecordBatch]:
    """Dates as ISO text (what SQLAlchemy's Date reads back on SQLite, and COPY accepts) and
    the snapshot id, 20,000 rows at a time."""
    for batch in rows.to_batches(max_chunksize=20_000):
        arrays = [pc.cast(c, pa.string()) if pa.types.is_date(c.type) else c for c in batch.columns]
        arrays.append(pa.array(np.full(batch.num_rows, snapshot_id, dtype=np.int64)))
        yield pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, "snapshot_id"])


def _replace_groupings(conn: Connection, extras: Extras, snapshot_id: int) -> None:
    conn.execute(delete(FinessGroupMember))
    conn.execute(delete(FinessGroup))
    groups = {g[0]: g for g in extras.groups}  # a repeated id keeps its first occurrence
    if groups:
        rows = ((*g, snapshot_id) for g in sorted(groups.values(), key=lambda g: g[0]))
        insert_rows(conn, FinessGroup.__tablename__, [*GROUP_FIELDS, "snapshot_id"], rows)
    members = [m for m in extras.members if m[0] in groups]
    if members:
        insert_rows(conn, FinessGroupMember.__tablename__, list(MEMBER_FIELDS), members)
