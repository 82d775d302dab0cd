"""Writer of what the FiNESS+ flow adds to the establishments: legal entities, inactive
establishments (kept apart) and groupings. The establishments themselves go through
``ingest.load.finess`` like the etalab CSV's; this module only taps the chunks on their way
there (:func:`collect`) and writes the rest once they are all read (:func:`write_extras`), in
the same transaction. An etalab CSV carries none of this: then nothing here is touched.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, delete, select

from balise.models.tables import (
    finess_group_members,
    finess_groups,
    inactive_establishments,
    legal_entities,
)
from ingest.sources.finess_plus import INACTIVE_SCHEMA, LEGAL_ENTITY_SCHEMA, PlusChunk
from ingest.sources.finess_plus_groups import GROUP_FIELDS, MEMBER_FIELDS
from ingest.sources.rows import Chunk
from ingest.staging import insert_batches, insert_rows, stage_batches


class _Spill:
    """Arrow batches written to an anonymous temporary file as they come and read back when
    written to the store: a national file's legal entities and inactive establishments (~20 MB
    as Arrow) stay out of memory while the establishments are read and written."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self._file = None
        self._writer = None
        self._closed = False

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self._writer is None:
            # Lives across calls (closed by close()); anonymous: gone with its descriptor.
            self._file = tempfile.TemporaryFile(prefix="balise-finess-plus-")  # noqa: SIM115
            self._writer = pa.ipc.new_stream(self._file, self.schema)
        self._writer.write_batch(batch)

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._writer is None:
            return
        if not self._closed:
            self._writer.close()
            self._closed = True
        self._file.seek(0)
        yield from pa.ipc.open_stream(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class Extras:
    """What the chunks of one FiNESS+ file carried besides establishment rows: the legal
    entities and inactive establishments spilled as they come, the groupings in lists."""

    seen: bool = False
    legal: _Spill = field(default_factory=lambda: _Spill(LEGAL_ENTITY_SCHEMA))
    inactive: _Spill = field(default_factory=lambda: _Spill(INACTIVE_SCHEMA))
    groups: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    groupings_given: set[str] = field(default_factory=set)

    def add(self, chunk: PlusChunk) -> None:
        self.seen = True
        self.legal.write(chunk.legal_batch)
        self.inactive.write(chunk.inactive_batch)
        self.groups.extend(chunk.groups)
        self.members.extend(chunk.members)
        self.groupings_given |= chunk.groupings_given

    def close(self) -> None:
        self.legal.close()
        self.inactive.close()


def collect(chunks: Iterable[Chunk], extras: Extras) -> Iterator[Chunk]:
    """``chunks`` unchanged, with what FiNESS+ chunks add kept in ``extras``."""
    for chunk in chunks:
        if isinstance(chunk, PlusChunk):
            extras.add(chunk)
        yield chunk


def write_extras(
    conn: Connection, extras: Extras, snapshot_id: int, departments: tuple[str, ...] | None
) -> None:
    """Replace the legal entities (all of them on a national ingest: the file lists every one,
    like the establishments; else those the file gives again), the inactive establishments of
    the selected departments and (on a national ingest) the groupings."""
    if not extras.seen:
        return
    try:
        if departments is None:  # one statement, whole pages dropped (0.29 s -> 0.01 s)
            conn.execute(delete(legal_entities))
        elif conn.execute(select(legal_entities.c.finess_ej).limit(1)).first():
            _delete_legal_entities_of(conn, extras.legal)
        _insert(conn, legal_entities.name, _unique(extras.legal, "finess_ej"), snapshot_id)
        scope = delete(inactive_establishments)
        if departments is not None:
            scope = scope.where(inactive_establishments.c.department.in_(departments))
        conn.execute(scope)
        inactive = _unique(extras.inactive, "finess_et")
        _insert(conn, inactive_establishments.name, inactive, snapshot_id)
        if departments is None:  # groupings span departments: only a national file replaces them
            _replace_groupings(conn, extras, snapshot_id)
    finally:
        extras.close()


def _delete_legal_entities_of(conn: Connection, legal: _Spill) -> None:
    """The stored legal entities that the file gives again go (it replaces them): their numbers
    staged, then one DELETE (a national file's 100,000 numbers as bound parameters, a few
    thousand per statement, took half a second)."""
    numbers = (pa.RecordBatch.from_arrays([b.column("finess_ej")], ["finess_ej"])
               for b in legal.batches())  # fmt: skip
    staged = stage_batches(conn, "stage_legal_numbers", numbers, {"finess_ej": "VARCHAR(9)"})
    conn.exec_driver_sql(
        f"DELETE FROM legal_entities WHERE finess_ej IN (SELECT finess_ej FROM {staged.table})"
    )


def _unique(spill: _Spill, key: str) -> Iterator[pa.RecordBatch]:
    """The spilled batches, the first row of each ``key`` kept (repeats are rare: the check is
    done in Arrow, Python only sees the keys when there is one)."""
    keys = [b.column(key) for b in spill.batches()]
    if not keys:
        return
    everything = pa.chunked_array(keys, pa.string())
    if pc.count_distinct(everything).as_py() == len(everything):
        yield from spill.batches()
        return
    seen: set[str] = set()
    for batch in spill.batches():
        first = [not (k in seen or seen.add(k)) for k in batch.column(key).to_pylist()]
        yield batch.filter(pa.array(first, pa.bool_()))


def _insert(conn: Connection, table: str, batches: Iterator[pa.RecordBatch], snapshot_id: int):
    """Through the bulk path of the establishments (Arrow batches written in C, see
    ``staging``): no Python object per value. Dates as ISO text (what SQLAlchemy's Date reads
    back on SQLite, and COPY accepts), the snapshot id added."""

    def prepared() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            arrays = [
                pc.cast(c, pa.string()) if pa.types.is_date(c.type) else c for c in batch.columns
            ]
            arrays.append(pa.array(np.full(batch.num_rows, snapshot_id, dtype=np.int64)))
            yield pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, "snapshot_id"])

    first = next(prepared_iter := prepared(), None)
    if first is not None:
        insert_batches(conn, table, chain([first], prepared_iter))


def _replace_groupings(conn: Connection, extras: Extras, snapshot_id: int) -> None:
    """The groupings of the kinds the file carries (``gcc``, ``gco``) replaced by its own; a
    kind it does not carry at all is kept (a flow without the list says nothing of them)."""
    kinds = sorted(extras.groupings_given)
    if not kinds:
        return
    replaced = select(finess_groups.c.group_id).where(finess_groups.c.kind.in_(kinds))
    conn.execute(delete(finess_group_members).where(finess_group_members.c.group_id.in_(replaced)))
    conn.execute(delete(finess_groups).where(finess_groups.c.kind.in_(kinds)))
    groups = {g[0]: g for g in extras.groups}  # a repeated id keeps its first occurrence
    if groups:
        rows = ((*g, snapshot_id) for g in sorted(groups.values(), key=lambda g: g[0]))
        insert_rows(conn, finess_groups.name, [*GROUP_FIELDS, "snapshot_id"], rows)
    members = [m for m in extras.members if m[0] in groups]
    if members:
        insert_rows(conn, finess_group_members.name, list(MEMBER_FIELDS), members)
