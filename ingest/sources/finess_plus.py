"""Reader for the FiNESS+ « structures » flow (JSON, plain or gzip), read as a stream.

The flow is one JSON object: ``pmej[]`` (legal entities, each with its establishments ``ege[]``,
their events, contacts and roles), ``gcc``/``gco`` (groupings) and a few scalars. The national
file is hundreds of MB: ``json_stream`` cuts ``pmej`` into batches of raw bytes and msgspec
decodes each batch into small typed records that hold only the fields used here (events,
contacts and the rest are skipped inside the decoder, never built as Python objects).

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
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import chain
from typing import Any, BinaryIO

import msgspec
import pyarrow as pa

from balise.errors import SourceError
from balise.referentials.categories_r397 import load_r397
from balise.referentials.departments import department_from_postcode, load_departments
from ingest.sources.finess_columns import luhn_column
from ingest.sources.finess_geo import GeoStats, checked_point
from ingest.sources.finess_values import (
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FINESS,
    REASON_JSON,
    is_finess_number,
    parse_date,
    siret_or_none,
    split_acheminement,
    street_line,
)
from ingest.sources.json_stream import (
    NOT_DECODED,
    Batch,
    JsonError,
    NotAnObject,
    Scalar,
    Unproven,
    Value,
    members,
)
from ingest.sources.rows import ESTABLISHMENT_SCHEMA, Chunk, EstablishmentRow, ReadStats, Rejected
from ingest.sources.rows import chunk_of as _chunk_of

MSG_BAD_JSON = (
    "Ce fichier JSON est illisible (ligne {line}, colonne {col}) : ce n'est pas un flux FiNESS+."
)
MSG_NOT_FINESS_JSON = "Ce fichier JSON n'est pas un flux FiNESS+ : la liste « pmej » est absente."

# What a legal entity, an inactive establishment, a grouping and a member are, as tuples.
LEGAL_ENTITY_FIELDS = (
    "finess_ej", "pm_id", "siren", "legal_status", "name", "long_name", "is_active", "closed_on",
)  # fmt: skip
INACTIVE_FIELDS = (
    "finess_et", "finess_ej", "name", "department", "category_code", "closed_on", "ege_id",
)  # fmt: skip
GROUP_FIELDS = ("group_id", "kind", "group_type", "name", "pm_id")
MEMBER_FIELDS = ("group_id", "pm_id", "ege_id", "role")


@dataclass
class PlusChunk(Chunk):
    """A chunk of the FiNESS+ flow: establishment rows (``Chunk``) and what the JSON adds."""

    legal_entities: list[tuple] = field(default_factory=list)
    inactive: list[tuple] = field(default_factory=list)
    groups: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)


# --- typed records: only the fields read, both spellings ---------------------------------------


class _Address(msgspec.Struct):
    numeroVoie: Any = None
    complementNumeroVoie: Any = None
    typeVoie: Any = None
    libelleVoie: Any = None
    lieuDit: Any = None
    cogCommune: Any = None
    codePostal: Any = None
    ligneAcheminement: Any = None
    coordonneesGeographique: Any = None


class _EgeInfo(msgspec.Struct):
    egeId: Any = None
    numFinessEge: Any = None
    nomEgeCourt: Any = None
    nomEgeLong: Any = None
    siret: Any = None
    dateOuverture: Any = None
    dateFermeture: Any = None


class _Ege(msgspec.Struct):
    informationsGeneralesEGE: _EgeInfo | None = None
    categorieentiteGeographiqueExercice: Any = None  # the file: a plain code
    categorieEntiteGeographiqueExercice: Any = None  # the schema: {"code": …, "system": …}
    etatObjet: Any = None
    siret: Any = None  # the schema puts it here
    adresse: list[_Address] | None = None


class _PmInfo(msgspec.Struct):
    pmSmsseId: Any = None  # the file
    pm_smsseId: Any = None  # the schema
    numFinessPm: Any = None
    siren: Any = None
    statutJuridique: Any = None
    denominationPm: Any = None
    denominationLonguePmSmsse: Any = None
    dateFermeture: Any = None
    etatObjet: Any = None


class _Pmej(msgspec.Struct):
    informationsGeneralesPMEJ: _PmInfo | None = None  # the file
    informationsGeneralesPmej: _PmInfo | None = None  # the schema
    etatObjet: Any = None
    ege: list[_Ege] | None = None


_BATCH = msgspec.json.Decoder(list[_Pmej])
_SYNTAX = msgspec.json.Decoder(list[msgspec.Raw])  # well-formed items, whatever their content


def _decode_proven(data: bytes) -> list[_Pmej] | None:
    """For the fast cut: the legal entities of a guessed batch, None if it is well formed but
    not as typed (the tolerant path reads it), Unproven if it is not well formed."""
    try:
        return _BATCH.decode(data)
    except msgspec.ValidationError:
        try:
            _SYNTAX.decode(data)
        except msgspec.DecodeError:
            raise Unproven() from None
        return None
    except msgspec.DecodeError:
        raise Unproven() from None


_TODAY = date.today()  # one reading, one "today"
_ANY = msgspec.json.Decoder()
_BYTE = re.compile(r"byte (\d+)")


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
    reader = _Reader(frozenset(departments) if departments is not None else None, stats)
    fast = ((b'"informationsGeneralesPMEJ"', b'"informationsGeneralesPmej"'), _decode_proven)
    events = _checked(members(fh, {"pmej"}, {"gco", "gcc"}, fast=fast), lines_before)
    head = []
    for event in events:
        head.append(event)
        if isinstance(event, Batch):
            break
    if not any(isinstance(e, Batch) for e in head):
        raise SourceError(MSG_NOT_FINESS_JSON)
    return _chunks(reader, chain(head, events))


def _checked(events: Iterator, lines_before: int) -> Iterator[Batch | Value | Scalar]:
    """``events`` with the cutter's errors as French SourceErrors."""
    try:
        yield from events
    except JsonError as exc:
        line = exc.line + lines_before
        raise SourceError(MSG_BAD_JSON.format(line=line, col=exc.column)) from None
    except NotAnObject:
        raise SourceError(MSG_NOT_FINESS_JSON) from None


def _chunks(reader: _Reader, events: Iterable[Batch | Value | Scalar]) -> Iterator[PlusChunk]:
    for event in events:
        if isinstance(event, Batch):
            yield reader.batch(event)
        elif isinstance(event, Value):
            reader.groupings(event)
        elif isinstance(event, Scalar) and event.key == "generatedAt":
            reader.stats.generated_at = _generated_at(event.data)
    yield reader.last_chunk()


def _generated_at(raw: bytes) -> datetime | None:
    """``generatedAt`` ("2026-03-09T15:49:37.615611300Z") as a naive UTC datetime."""
    try:
        text = str(msgspec.json.decode(raw))
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Python reads microseconds at most
        moment = datetime.fromisoformat(text)
    except (msgspec.DecodeError, ValueError):
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# --- values -------------------------------------------------------------------------------------


def _code(value: Any) -> str:
    """A plain code (the file) or a coded object ``{"code": …}`` (the schema), stripped."""
    if type(value) is str:  # the common case first: this runs millions of times
        return value.strip()
    if isinstance(value, dict):
        value = value.get("code")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


# Dates repeat a lot (a few tens of thousands of distinct ones for ~450,000 read).
_date = lru_cache(maxsize=1 << 16)(parse_date)


def _is_active(state: Any, closing: Any) -> bool:
    """Active: ``etatObjet`` A (or absent) and no closing date reached."""
    if (_code(state) or "A").upper() != "A":
        return False
    closed = _date(_text(closing))
    return closed is None or closed > _TODAY


def department_from_cog(cog: str) -> str | None:
    """Department of an INSEE commune code: 3 digits overseas (97x, 98x), else 2 ("2A004")."""
    if len(cog) != 5:
        return None
    code = cog[:3] if cog.startswith(("97", "98")) else cog[:2]
    return code if code in load_departments() else None


# --- the reader ---------------------------------------------------------------------------------


@dataclass
class _Reader:
    scope: frozenset[str] | None
    stats: ReadStats
    position: int = 0  # establishments seen so far (the rank reported for a bad one)
    inactive_count: int = 0
    unknown_categories: Counter = field(default_factory=Counter)
    geo: GeoStats = field(default_factory=GeoStats)
    groups: list[tuple] = field(default_factory=list)
    group_members: list[tuple] = field(default_factory=list)

    def batch(self, batch: Batch) -> PlusChunk:
        try:
            decoded = _BATCH.decode(batch.data) if batch.decoded is NOT_DECODED else batch.decoded
            if decoded is None:
                raise msgspec.ValidationError("not as typed")
            items = [(p, p.ege or []) for p in decoded]
        except msgspec.ValidationError:
            items = list(self._tolerant_items(batch))
        except msgspec.DecodeError as exc:
            found = _BYTE.search(str(exc))
            line, col = batch.where(int(found.group(1)) if found else 1)
            raise SourceError(MSG_BAD_JSON.format(line=line, col=col)) from None
        out: list[EstablishmentRow | Rejected] = []
        legal: list[tuple] = []
        inactive: list[tuple] = []
        for pmej, eges in items:
            self._pmej(pmej, eges, out, legal, inactive)
        chunk = _chunk_of(out, ESTABLISHMENT_SCHEMA)
        rows = _with_luhn(chunk.rows)
        return PlusChunk(rows, chunk.rejected, legal_entities=legal, inactive=inactive)

    def _tolerant_items(self, batch: Batch) -> Iterator[tuple[Any, list]]:
        """The batch decoded loosely, each legal entity and establishment converted on its
        own: what does not fit becomes None (a bad establishment is rejected, not the batch)."""
        for item in _ANY.decode(batch.data):
            if not isinstance(item, dict):
                yield None, [None]
                continue
            head = {k: v for k, v in item.items() if k != "ege"}
            try:
                pmej = msgspec.convert(head, _Pmej)
            except msgspec.ValidationError:
                pmej = _Pmej()
            eges = item.get("ege")
            yield pmej, [_converted(e) for e in (eges if isinstance(eges, list) else [])]

    def _pmej(self, pmej: _Pmej | None, eges: list, out: list, legal: list, inactive: list) -> None:
        info = (pmej.informationsGeneralesPMEJ or pmej.informationsGeneralesPmej) if pmej else None
        ej = _code(info.numFinessPm).upper() if info else ""
        ej = ej if is_finess_number(ej) else ""
        kept = 0
        for ege in eges:
            self.position += 1
            self.stats.lines += 1
            if ege is None or pmej is None:
                out.append(Rejected(self.position, REASON_JSON))
                continue
            kept += self._ege(ege, ej, out, inactive)
        if info is not None and ej and (kept or self.scope is None):
            legal.append(_legal_entity(info, ej, pmej))

    def _ege(self, ege: _Ege, ej: str, out: list, inactive: list) -> bool:
        """Adds the establishment's row (or its rejection); True if it was kept."""
        info = ege.informationsGeneralesEGE or _EgeInfo()
        finess = _code(info.numFinessEge).upper()
        if not is_finess_number(finess):
            out.append(Rejected(self.position, REASON_FINESS))
            return False
        address = ege.adresse[0] if ege.adresse else _Address()
        cog = _code(address.cogCommune).upper()
        department = department_from_cog(cog) or department_from_postcode(_code(address.codePostal))
        if not department:
            out.append(Rejected(self.position, REASON_DEPARTMENT))
            return False
        if self.scope is not None and department not in self.scope:
            self.stats.out_of_scope += 1
            return False
        category = _code(ege.categorieentiteGeographiqueExercice) or _code(
            ege.categorieEntiteGeographiqueExercice
        )
        if not category:
            out.append(Rejected(self.position, REASON_CATEGORY))
            return False
        known = load_r397().get(category)
        if known is None:
            self.unknown_categories[category] += 1
        if not _is_active(ege.etatObjet, info.dateFermeture):
            self.inactive_count += 1
            inactive.append(
                (finess, ej or None, _name(info, finess), department, category,
                 _date(_text(info.dateFermeture)), _code(info.egeId) or None)
            )  # fmt: skip
            return True
        point = checked_point(address.coordonneesGeographique, department, self.geo)
        where = (department, category, known.label if known else None, cog, point)
        out.append(_row(self.position, finess, ej, info, ege, address, where))
        return True

    def groupings(self, value: Value) -> None:
        """``gcc`` (conventional groupings: GHT) and ``gco`` (cooperation groupings, themselves
        legal entities): an array in the file, one object in the schema."""
        try:
            decoded = _ANY.decode(value.data)
        except msgspec.DecodeError:
            raise SourceError(MSG_BAD_JSON.format(line="?", col="?")) from None
        for group in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(group, dict):
                self._group(value.key, group)

    def _group(self, kind: str, group: dict) -> None:
        own_pm = _code(group.get("pmSmsseId")) or _code(group.get("pm_smsseId"))
        key = _code(group.get("gccId")) if kind == "gcc" else own_pm
        if not key:
            return
        group_id = f"{kind}:{key}"
        name = _text(group.get("nomGcc")) or _text(group.get("nomGco")) or None
        group_type = _code(group.get("typeGcc")) or _code(group.get("typeGCO")) or None
        self.groups.append((group_id, kind, group_type, name, own_pm or None))
        for member in _listed(group, "pmejDuGcc", "pmejDuGco"):
            pm = _code(member.get("pmSmsseId")) or _code(member.get("pm_smsseId"))
            if pm:
                role = _code(member.get("typeRoleEntiteGroupe")) or None
                self.group_members.append((group_id, pm, None, role))
        for member in _listed(group, "egeDuGCC", "egeDuGcc", "egeDuGco"):
            if ege_id := _code(member.get("egeId")):
                role = _code(member.get("typeRoleEntiteGroupe")) or None
                self.group_members.append((group_id, None, ege_id, role))

    def last_chunk(self) -> PlusChunk:
        """The groupings (complete only once the whole file is read) and the notes."""
        empty = _chunk_of((), ESTABLISHMENT_SCHEMA)
        notes = self.stats.notes
        if self.inactive_count:
            notes.append(f"Établissements fermés ou inactifs mis à part : {self.inactive_count}.")
        if self.unknown_categories:
            listed = ", ".join(
                f"{code} ({n})" for code, n in sorted(self.unknown_categories.items())
            )
            notes.append(f"Catégories inconnues de la nomenclature TRE-R397 : {listed}.")
        notes.extend(self.geo.notes())
        return PlusChunk(empty.rows, [], groups=self.groups, members=self.group_members)


def _converted(ege: Any) -> _Ege | None:
    try:
        return msgspec.convert(ege, _Ege)
    except msgspec.ValidationError:
        return None


def _listed(group: dict, *keys: str) -> Iterable[dict]:
    for key in keys:
        items = group.get(key)
        if isinstance(items, dict):
            items = [items]
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                yield item


def _name(info: _EgeInfo, finess: str) -> str:
    return _text(info.nomEgeCourt) or _text(info.nomEgeLong) or finess


def _legal_entity(info: _PmInfo, ej: str, pmej: _Pmej) -> tuple:
    siren = _code(info.siren)
    return (
        ej,
        _code(info.pmSmsseId) or _code(info.pm_smsseId) or None,
        siren if len(siren) == 9 and siren.isdigit() else None,
        _code(info.statutJuridique) or None,
        _text(info.denominationPm) or _text(info.denominationLonguePmSmsse) or ej,
        _text(info.denominationLonguePmSmsse) or None,
        _is_active(pmej.etatObjet or info.etatObjet, info.dateFermeture),
        _date(_text(info.dateFermeture)),
    )


def _row(
    position: int, finess: str, ej: str, info: _EgeInfo, ege: _Ege, address: _Address, where: tuple
) -> EstablishmentRow:
    """The row, fields in ``EstablishmentRow`` order (positional: ~100,000 of them). The Luhn
    key is checked column-wise once the chunk is built (``_with_luhn``)."""
    department, category, label, cog, point = where
    postcode, city = split_acheminement(_text(address.ligneAcheminement))
    street = street_line(
        _code(address.numeroVoie),
        _text(address.complementNumeroVoie),
        _text(address.typeVoie),
        _text(address.libelleVoie),
        _text(address.lieuDit),
    )
    return EstablishmentRow(
        position, finess, ej or None, _name(info, finess), _text(info.nomEgeLong) or None,
        street, _code(address.codePostal) or postcode, city, cog if len(cog) == 5 else None,
        department, category, label, siret_or_none(_code(info.siret) or _code(ege.siret)),
        _date(_text(info.dateOuverture)), True,
        point[0] if point else None, point[1] if point else None, _code(info.egeId) or None,
    )  # fmt: skip


def _with_luhn(rows: pa.RecordBatch) -> pa.RecordBatch:
    """``rows`` with ``luhn_ok`` computed in bulk, as the etalab column path does."""
    if not rows.num_rows:
        return rows
    index = rows.schema.get_field_index("luhn_ok")
    return rows.set_column(index, "luhn_ok", luhn_column(rows.column("finess_et")))
