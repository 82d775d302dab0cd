"""The raw values of the fields read, taken out of the typed records of one batch while these
are fresh in memory, and put together for the records of consecutive batches.

A batch's records live only as long as it takes to read them: their values go into one Arrow
string column per kind of record (the fields of each record one after the other:
``operator.attrgetter`` and ``itertools.chain`` run in C), then the records are freed while still
in the processor's cache (kept for a whole group, they cost a fifth more time).
A value that is not a string (a number, a coded object ``{"code": …}``) sends its batch through
the per-value rules (``code_of``, ``text_of``), exact for every value. A NUL character (``\\u0000``
in the JSON) reads as U+FFFD, as in the CSV reader: no store keeps NUL in text.

Pure: typed records in, Arrow columns out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.sources.columns import STRING, strip
from ingest.sources.finess_plus_records import Address, Coordinates, Ege, EgeInfo, Item, PmInfo


def code_of(value: Any) -> str:
    """A plain code (the file) or a coded object ``{"code": …}`` (the schema), stripped."""
    if isinstance(value, dict):
        value = value.get("code")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def raw_of(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _Kind:
    """The fields read of one kind of record, each with the rule its values follow (by default,
    the attributes of the same names)."""

    def __init__(self, *fields: tuple[str, Callable[[Any], Any]], get: Callable | None = None):
        self.names = tuple(name for name, _ in fields)
        self.rules = tuple(rule for _, rule in fields)
        self.get = get or attrgetter(*self.names)

    def values(self, records: list) -> pa.Array | None:
        """The fields of ``records``, record after record; None if a value is not a string
        and the kind has no rule for it (``raw_of``: the caller keeps the records)."""
        flat = list(chain.from_iterable(map(self.get, records)))
        try:
            return pa.array(flat, STRING)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            if raw_of in self.rules:
                return None
        width = len(self.names)
        columns = [list(map(rule, flat[k::width])) for k, rule in enumerate(self.rules)]
        return pa.array(list(chain.from_iterable(zip(*columns, strict=True))), STRING)

    def columns(self, parts: list[pa.Array], stripped: bool = True) -> dict[str, pa.Array]:
        """Field name -> column, from the values of consecutive batches ("" for none)."""
        flat = pa.concat_arrays(parts) if parts else pa.array([], STRING)
        width = len(self.names)
        out = {}
        for k, name in enumerate(self.names):
            column = flat.take(pa.array(np.arange(k, len(flat), width)))
            out[name] = strip(pc.fill_null(column, "")) if stripped else column
        return out


C, T, R = code_of, text_of, raw_of
INFO = _Kind(("numFinessEge", C), ("egeId", C), ("nomEgeCourt", T), ("nomEgeLong", T),
             ("siret", C), ("dateOuverture", T), ("dateFermeture", T))  # fmt: skip
ADDRESS = _Kind(("numeroVoie", C), ("complementNumeroVoie", T), ("typeVoie", T),
                ("libelleVoie", T), ("lieuDit", T), ("cogCommune", C), ("codePostal", C),
                ("ligneAcheminement", T))  # fmt: skip
_CATEGORIES = ("categorieentiteGeographiqueExercice", "categorieEntiteGeographiqueExercice")
EGE = _Kind((_CATEGORIES[0], C), (_CATEGORIES[1], C), ("etatObjet", C), ("siretEge", C),
            get=attrgetter(*_CATEGORIES, "etatObjet", "siret"))  # fmt: skip
COORDINATES = _Kind(("directionLatitude", R), ("directionLongitude", R), ("coordonneeX", R),
                    ("coordonneeY", R))  # fmt: skip
_PM_FIELDS = (("numFinessPm", C), ("pmSmsseId", C), ("pm_smsseId", C), ("siren", C),
              ("statutJuridique", C), ("denominationPm", T), ("denominationLonguePmSmsse", T),
              ("dateFermeture", T))  # fmt: skip
_PM = attrgetter(*(name for name, _ in _PM_FIELDS))
# Per (legal entity, its general information); its state is read where it is.
PM = _Kind(*_PM_FIELDS, ("etatObjet", C),
           get=lambda pair: (*_PM(pair[1]), pair[0].etatObjet or pair[1].etatObjet))  # fmt: skip

_EGE, _INFO, _ADDRESS, _PM_INFO, _NO_POINT = Ege(), EgeInfo(), Address(), PmInfo(), Coordinates()


@dataclass
class Fields:
    """The values of the records of consecutive batches: per establishment (in file order) and
    per legal entity, one column per field."""

    ege: dict[str, pa.Array]  # INFO, ADDRESS and EGE fields, stripped
    coordinates: dict[str, pa.Array]  # COORDINATES fields as written (null: not a string)
    # Per establishment: its coordinates when a batch had some that are not all strings, else
    # None; None for the whole group when every batch had strings only (the rule).
    raw_coordinates: list | None
    malformed: np.ndarray  # per establishment: not an object, or not as typed
    owners: np.ndarray  # per establishment: the index of its legal entity
    pm: dict[str, pa.Array]  # PM fields, stripped
    has_info: np.ndarray  # per legal entity: it has its general information


@dataclass
class Gathered:
    """The values of the batches added since the last :meth:`fields`."""

    pmejs: int = 0
    eges: int = 0
    raw: bool = False  # a batch had coordinates that are not all strings
    parts: dict[str, list] = field(default_factory=dict)

    def _put(self, kind: str, values: Any) -> None:
        self.parts.setdefault(kind, []).append(values)

    def add(self, items: list[Item], nul: bool) -> None:
        """The records of one batch (``nul``: its bytes may hold ``\\u0000``)."""
        eges: list[Ege | None] = []
        owners: list[int] = []
        for k, (_, listed) in enumerate(items, start=self.pmejs):
            eges += listed
            owners += [k] * len(listed)
        records = [e or _EGE for e in eges]
        addresses = [e.adresse[0] if e.adresse else _ADDRESS for e in records]
        points = [a.coordonneesGeographique for a in addresses]
        coordinates = [p if type(p) is Coordinates else _NO_POINT for p in points]
        pms = [(p, _info(p)) for p, _ in items if _info(p) is not None]
        values = {
            "info": INFO.values([e.informationsGeneralesEGE or _INFO for e in records]),
            "address": ADDRESS.values(addresses), "ege": EGE.values(records),
            "pm": PM.values(pms) if pms else pa.array([], STRING),
        }  # fmt: skip
        for kind, column in values.items():
            self._put(kind, pc.replace_substring(column, "\x00", "\ufffd") if nul else column)
        point_values = COORDINATES.values(coordinates)
        self._put("raw", [None] * len(eges) if point_values is not None else points)
        self.raw = self.raw or point_values is None
        self._put("coordinates", point_values if point_values is not None else
                  pa.nulls(4 * len(eges), STRING))  # fmt: skip
        self._put("malformed", [e is None for e in eges])
        self._put("owners", owners)
        self._put("has_info", [_info(p) is not None for p, _ in items])
        self.pmejs += len(items)
        self.eges += len(eges)

    def fields(self) -> Fields:
        """The values gathered, as columns; the gatherer starts again empty."""
        parts, raw = self.parts, self.raw
        self.parts, self.pmejs, self.eges, self.raw = {}, 0, 0, False

        def flat(kind: str) -> list:
            return list(chain.from_iterable(parts.get(kind, [])))

        ege = {
            **INFO.columns(parts.get("info", [])),
            **ADDRESS.columns(parts.get("address", [])),
            **EGE.columns(parts.get("ege", [])),
        }
        return Fields(
            ege=ege,
            coordinates=COORDINATES.columns(parts.get("coordinates", []), stripped=False),
            raw_coordinates=flat("raw") if raw else None,
            malformed=np.array(flat("malformed"), bool),
            owners=np.array(flat("owners"), np.int64),
            pm=PM.columns(parts.get("pm", [])),
            has_info=np.array(flat("has_info"), bool),
        )


def _info(pmej: Any) -> PmInfo | None:
    return (pmej.informationsGeneralesPMEJ or pmej.informationsGeneralesPmej) if pmej else None
