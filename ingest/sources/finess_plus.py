"""Reader for the FiNESS+ « structures » flow (JSON, plain or gzip), read as a stream.

The flow is one JSON object: ``pmej[]`` (legal entities, each with its establishments ``ege[]``,
their events, contacts and roles), ``gcc``/``gco`` (groupings) and a few scalars. The national
file is hundreds of MB: ``json_stream`` cuts ``pmej`` into batches of raw bytes, msgspec decodes
each batch into small typed records holding only the fields used here
(``finess_plus_records``), and the records of consecutive batches, a few thousand
establishments, are normalised column by column (``finess_plus_columns``). Groupings:
``finess_plus_groups``.

Real files beat published schemas: the file says ``informationsGeneralesPMEJ``, ``pmSmsseId``,
``categorieentiteGeographiqueExercice`` (a plain code) and ``etatObjet`` « A »/« I »; the schema
(``schema-structures-v1.json``, ansforge/finess) says ``informationsGeneralesPmej``,
``pm_smsseId``, ``categorieEntiteGeographiqueExercice`` and coded objects ``{"code": …}``, and
makes ``gco``/``gcc`` objects where the file has arrays. Both spellings are read.

Pure: a binary file object in, :class:`PlusChunk` out (the rows of ``rows.Chunk`` plus legal
entities, inactive establishments and groupings, which ``ingest.load.finess_plus`` writes).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import BinaryIO

import msgspec
import pyarrow as pa

from balise.errors import SourceError
from balise.formatting import fr_int
from ingest.sources import finess_plus_records as records
from ingest.sources.finess_plus_columns import (  # noqa: F401 (department_from_cog: public here)
    INACTIVE_SCHEMA,
    LEGAL_ENTITY_SCHEMA,
    FileState,
    department_from_cog,
    normalise,
)
from ingest.sources.finess_plus_gather import Gathered
from ingest.sources.finess_plus_groups import Groupings
from ingest.sources.json_stream import (
    Batch,
    EmptyItems,
    Event,
    JsonError,
    NotAnObject,
    Scalar,
    Value,
    members,
)
from ingest.sources.rows import ESTABLISHMENT_SCHEMA, Chunk, ReadStats

MSG_BAD_JSON = (
    "Ce fichier JSON est illisible (ligne {line}, colonne {col}) : ce n'est pas un flux FiNESS+."
)
MSG_NO_GROUPINGS = "Le flux ne donne pas la liste « {kind} » : les groupements de ce type déjà importés sont gardés."
MSG_EMPTY_FLOW = "Ce flux FiNESS+ ne contient aucune entité juridique : la liste « pmej » est vide."
MSG_NOT_FINESS_JSON = "Ce fichier JSON n'est pas un flux FiNESS+ : la liste « pmej » est absente."

# Establishments normalised at once: enough for Arrow's calls to cost little per row, few
# enough for their records to stay small (a few MB).
GROUP_ROWS = 8192
_BYTE = re.compile(r"byte (\d+)")
_FIRST_KEYS = (b'"informationsGeneralesPMEJ"', b'"informationsGeneralesPmej"')


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


@dataclass
class PlusChunk(Chunk):
    """A chunk of the FiNESS+ flow: establishment rows (``Chunk``) and what the JSON adds, as
    Arrow columns (legal entities, inactive establishments) and tuples (groupings)."""

    legal_batch: pa.RecordBatch = field(default_factory=lambda: _empty(LEGAL_ENTITY_SCHEMA))
    inactive_batch: pa.RecordBatch = field(default_factory=lambda: _empty(INACTIVE_SCHEMA))
    groups: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    groupings_given: frozenset[str] = frozenset()  # "gcc", "gco": the kinds the file carries

    @property
    def legal_entities(self) -> list[tuple]:
        """The legal entities as tuples (``LEGAL_ENTITY_SCHEMA`` order)."""
        return _tuples(self.legal_batch)

    @property
    def inactive(self) -> list[tuple]:
        """The inactive establishments as tuples (``INACTIVE_SCHEMA`` order)."""
        return _tuples(self.inactive_batch)


def _tuples(batch: pa.RecordBatch) -> list[tuple]:
    return list(zip(*(c.to_pylist() for c in batch.columns), strict=True))


# --- entry point --------------------------------------------------------------------------------


def read_finess_plus_chunks(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
    lines_before: int = 0,
) -> Iterator[PlusChunk]:
    """The flow read from ``fh`` (positioned at its first byte; ``lines_before`` blank lines
    came before, for error positions), by chunks. The stream is read at once up to the first
    legal entities: a foreign JSON (no ``pmej``) or a broken one raises SourceError here, before
    any row. A malformed establishment gives ``Rejected(position, …)``, its 1-based rank."""
    stats = stats if stats is not None else ReadStats()
    stats.format, stats.encoding = "finess-json", "utf-8"
    reader = _Reader(FileState(frozenset(departments) if departments is not None else None, stats))
    fast = (_FIRST_KEYS, records.decode_proven)
    events = _checked(members(fh, {"pmej"}, {"gco", "gcc"}, fast=fast), lines_before)
    head = []
    for event in events:
        head.append(event)
        if isinstance(event, Batch):
            break
    if not any(isinstance(e, Batch) for e in head):
        empty = any(isinstance(e, EmptyItems) for e in head)
        raise SourceError(MSG_EMPTY_FLOW if empty else MSG_NOT_FINESS_JSON)
    return _chunks(reader, chain(head, events))


def _checked(events: Iterator, lines_before: int) -> Iterator[Event]:
    """``events`` with the cutter's errors as French SourceErrors."""
    try:
        yield from events
    except JsonError as exc:
        line = exc.line + lines_before
        raise SourceError(MSG_BAD_JSON.format(line=line, col=exc.column)) from None
    except NotAnObject:
        raise SourceError(MSG_NOT_FINESS_JSON) from None


def _chunks(reader: _Reader, events: Iterable[Event]) -> Iterator[PlusChunk]:
    for event in events:
        if isinstance(event, Batch):
            if reader.add(event) >= GROUP_ROWS:
                yield reader.chunk()
        elif isinstance(event, Value):
            reader.groupings(event)
        elif isinstance(event, Scalar) and event.key == "generatedAt":
            reader.state.stats.generated_at = _generated_at(event.data)
    if reader.pending:
        yield reader.chunk()
    yield reader.last_chunk()


def _may_hold_nul(data: bytes) -> bool:
    """Whether ``data`` may hold ``\\u0000``: a backslash is rare, and found at memchr's speed
    (a search for the whole escape costs a tenth of the reading in a file full of zeros)."""
    return b"\\" in data and b"\\u0000" in data


def _generated_at(raw: bytes) -> datetime | None:
    """``generatedAt`` ("2026-03-09T15:49:37.615611300Z") as a naive UTC datetime."""
    try:
        text = str(msgspec.json.decode(raw))
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Python reads microseconds at most
        moment = datetime.fromisoformat(text)
    except (msgspec.DecodeError, ValueError):
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# --- the reader ---------------------------------------------------------------------------------


class _Reader:
    """The records of the batches read since the last chunk, and what the whole file adds."""

    def __init__(self, state: FileState):
        self.state = state
        self.gathered = Gathered()
        self.groupings_read = Groupings()

    @property
    def pending(self) -> int:
        return self.gathered.pmejs + self.gathered.eges

    def add(self, batch: Batch) -> int:
        """The batch's records kept for the next chunk; how many records are waiting."""
        try:
            items = records.items(batch)
        except msgspec.DecodeError as exc:
            found = _BYTE.search(str(exc))
            line, col = batch.where(int(found.group(1)) if found else 1)
            raise SourceError(MSG_BAD_JSON.format(line=line, col=col)) from None
        self.gathered.add(items, nul=_may_hold_nul(batch.data))
        return self.pending

    def chunk(self) -> PlusChunk:
        """The waiting records, normalised."""
        done = normalise(self.gathered.fields(), self.state)
        return PlusChunk(done.rows, done.rejected, legal_batch=done.legal_entities,
                         inactive_batch=done.inactive)  # fmt: skip

    def groupings(self, value: Value) -> None:
        try:
            decoded = records.decode_any(value.data)
        except msgspec.DecodeError:
            raise SourceError(MSG_BAD_JSON.format(line="?", col="?")) from None
        self.groupings_read.add(value.key, decoded)

    def last_chunk(self) -> PlusChunk:
        """The groupings (complete only once the whole file is read) and the notes."""
        state = self.state
        notes = state.stats.notes
        if state.inactive:
            notes.append(
                f"Établissements fermés ou inactifs mis à part : {fr_int(state.inactive)}."
            )
        if state.unknown_categories:
            listed = ", ".join(
                f"{code} ({fr_int(n)})" for code, n in sorted(state.unknown_categories.items())
            )
            notes.append(f"Catégories inconnues de la nomenclature TRE-R397 : {listed}.")
        notes.extend(state.geo.notes())
        groupings = self.groupings_read
        notes.extend(MSG_NO_GROUPINGS.format(kind=kind)
                     for kind in ("gcc", "gco") if kind not in groupings.given)  # fmt: skip
        return PlusChunk(_empty(ESTABLISHMENT_SCHEMA), [], groups=groupings.groups,
                         members=groupings.members,
                         groupings_given=frozenset(groupings.given))  # fmt: skip
