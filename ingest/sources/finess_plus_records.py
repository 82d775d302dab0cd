"""The typed records of the FiNESS+ flow: what msgspec decodes a batch of legal entities into.

Only the fields read are declared (events, contacts, roles and the rest are skipped inside the
decoder, never built as Python objects), in both spellings: the real file's
(``informationsGeneralesPMEJ``, ``pmSmsseId``, ``categorieentiteGeographiqueExercice`` as a
plain code) and the published schema's (``informationsGeneralesPmej``, ``pm_smsseId``,
``categorieEntiteGeographiqueExercice`` as ``{"code": …}``). Values are ``Any``: a code may be a
string, a number or a coded object, and what does not fit is read as empty, not refused.

Records are not tracked by the garbage collector (``gc=False``): they hold no cycle, and
hundreds of thousands of them would otherwise trigger collections all through the reading.

Pure: bytes in, records out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from ingest.sources.json_stream import NOT_DECODED, Batch, Unproven


class Coordinates(msgspec.Struct, gc=False):
    directionLatitude: Any = None
    directionLongitude: Any = None
    coordonneeX: Any = None
    coordonneeY: Any = None


class Address(msgspec.Struct, gc=False):
    numeroVoie: Any = None
    complementNumeroVoie: Any = None
    typeVoie: Any = None
    libelleVoie: Any = None
    lieuDit: Any = None
    cogCommune: Any = None
    codePostal: Any = None
    ligneAcheminement: Any = None
    # Any JSON value: an object is read as coordinates, anything else as none.
    coordonneesGeographique: Coordinates | str | int | float | bool | list | None = None


class EgeInfo(msgspec.Struct, gc=False):
    egeId: Any = None
    numFinessEge: Any = None
    nomEgeCourt: Any = None
    nomEgeLong: Any = None
    siret: Any = None
    dateOuverture: Any = None
    dateFermeture: Any = None


class Ege(msgspec.Struct, gc=False):
    informationsGeneralesEGE: EgeInfo | None = None
    categorieentiteGeographiqueExercice: Any = None  # the file: a plain code
    categorieEntiteGeographiqueExercice: Any = None  # the schema: {"code": …, "system": …}
    etatObjet: Any = None
    siret: Any = None  # the schema puts it here
    adresse: list[Address] | None = None


class PmInfo(msgspec.Struct, gc=False):
    pmSmsseId: Any = None  # the file
    pm_smsseId: Any = None  # the schema
    numFinessPm: Any = None
    siren: Any = None
    statutJuridique: Any = None
    denominationPm: Any = None
    denominationLonguePmSmsse: Any = None
    dateFermeture: Any = None
    etatObjet: Any = None


class Pmej(msgspec.Struct, gc=False):
    informationsGeneralesPMEJ: PmInfo | None = None  # the file
    informationsGeneralesPmej: PmInfo | None = None  # the schema
    etatObjet: Any = None
    ege: list[Ege] | None = None


# A legal entity and its establishments; None for an item that is not an object, and for an
# establishment that does not fit its record (each counted as a malformed establishment).
Item = tuple[Pmej | None, list[Ege | None]]

_BATCH = msgspec.json.Decoder(list[Pmej])
_SYNTAX = msgspec.json.Decoder(list[msgspec.Raw])  # well-formed items, whatever their content
_ANY = msgspec.json.Decoder()


def decode_proven(data: bytes) -> list[Pmej] | None:
    """For the fast cut: the legal entities of a guessed batch, None if it is well formed but
    not as typed (:func:`items` reads it loosely), Unproven if it is not well formed."""
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


def items(batch: Batch) -> list[Item]:
    """The legal entities of ``batch`` with their establishments. msgspec.DecodeError (with
    the byte where it stopped) if the batch is not well-formed JSON."""
    decoded = _typed(batch)
    if decoded is None:
        return list(_tolerant_items(batch.data))
    return [(pmej, pmej.ege or []) for pmej in decoded]


def _typed(batch: Batch) -> list[Pmej] | None:
    if batch.decoded is not NOT_DECODED:
        return batch.decoded  # type: ignore[return-value]
    try:
        return _BATCH.decode(batch.data)
    except msgspec.ValidationError:
        return None


def _tolerant_items(data: bytes) -> Iterator[Item]:
    """The batch decoded loosely, each legal entity and establishment converted on its own:
    what does not fit becomes None (a bad establishment is rejected, not the batch)."""
    for item in _ANY.decode(data):
        if not isinstance(item, dict):
            yield None, [None]
            continue
        head = {k: v for k, v in item.items() if k != "ege"}
        try:
            pmej = msgspec.convert(head, Pmej)
        except msgspec.ValidationError:
            pmej = Pmej()
        eges = item.get("ege")
        yield pmej, [_converted(e) for e in (eges if isinstance(eges, list) else [])]


def _converted(ege: Any) -> Ege | None:
    try:
        return msgspec.convert(ege, Ege)
    except msgspec.ValidationError:
        return None


def decode_any(data: bytes) -> Any:
    """Any JSON value (the groupings, kept whole); msgspec.DecodeError if not well formed."""
    return _ANY.decode(data)
