"""The national demo FiNESS+ « structures » file: what ``balise demo --national`` writes beside
the etalab CSV, shaped like the real daily flow (``finess-structures-journalier-AAAAMMJJ.json.gz``,
gzip) rather than like its published schema.

SYNTHETIC AND FICTITIOUS, like the rest of the demo: the active establishments are exactly the
demo CSV's (same numbers, names, addresses, categories, legal entities), so that both formats
can be compared; around them, what the real file carries and a reader must get through:
- inactive legal entities and establishments (``etatObjet`` « I », ``dateFermeture``), in the
  proportions of the public census of the July 2026 file (98,168 legal entities of which 41,949
  inactive; 174,508 establishments of which 69,809 inactive), five of them without a category;
- events (about 1.96 million), contacts, engagements and roles: the bulk of the 20 million keys;
- coordinates as the third-party readers of the real file describe them: WGS 84 degrees in
  ``directionLatitude`` / ``directionLongitude``, Lambert-93 with X and Y swapped in
  ``coordonneeX`` / ``coordonneeY`` (metropolitan France), a third of the addresses without any,
  some with latitude and longitude reversed (ansforge/finess issue #24), a few out of France;
- the file's spellings (``informationsGeneralesPMEJ``, ``pmSmsseId``, a plain category code,
  ``etatObjet`` « A »/« I »), and the groupings ``gcc`` (GHT) and ``gco`` after ``pmej``.

Deterministic: its own ``random.Random`` (the other demo files keep their bytes), fixed dates.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.demo.world import luhn_key
from ingest.sources.finess_geo import wgs84_to_lambert93

FINESS_PLUS_FILE = "finess-structures-journalier-20261015.json.gz"
GENERATED_AT = "2026-10-15T04:12:00.000000000Z"

# Census of the July 2026 file (third-party count, domain notes): ratios applied to the demo.
INACTIVE_EGE_PER_ACTIVE = 69_809 / 104_699
EGE_PER_INACTIVE_PMEJ = 69_809 / 41_949
EVENTS_PER_OBJECT = 1_960_000 / (174_508 + 98_168)
NO_COORDINATES = 91_682 / 278_615
SWAPPED_RATE = 0.01  # addresses whose latitude and longitude are reversed
OUTSIDE = 3  # addresses placed out of France (reported, dropped)
NO_CATEGORY = 5  # inactive establishments without a category (rejected, with their position)

# Where demo points are drawn: inland boxes (the checked boxes are in data/).
_METRO = (43.6, 50.3, -0.8, 6.8)
_OVERSEAS = {
    "971": (16.0, 16.4, -61.7, -61.2), "972": (14.45, 14.85, -61.15, -60.85),
    "973": (3.5, 5.2, -54.0, -52.5), "974": (-21.3, -20.95, 55.3, 55.75),
    "976": (-12.95, -12.7, 45.05, 45.25), "986": (-13.35, -13.25, -176.25, -176.15),
    "975": (46.75, 47.1, -56.4, -56.2), "977": (17.88, 17.92, -62.87, -62.8),
    "978": (18.05, 18.11, -63.1, -63.0), "987": (-17.8, -17.5, -149.6, -149.2),
    "988": (-22.3, -21.0, 165.0, 167.0),
}  # fmt: skip
_EVENT_CODES = ("01", "02", "05", "06", "09", "12", "15", "17")
_STATUTS = ("60", "61", "62", "63", "13", "14", "21", "22", "73", "95")
_MFT = ("01", "03", "05", "07", "34", "40", "57", "99")


@dataclass
class _Ids:
    """Technical ids, as the flow numbers its objects (``pmSmsseId``, ``egeId``)."""

    pm: int = 1000
    ege: int = 500_000
    event: int = 90_000_000

    def next_pm(self) -> str:
        self.pm += 1
        return str(self.pm)

    def next_ege(self) -> str:
        self.ege += 1
        return str(self.ege)


def write_finess_plus(structures: list, ej_names: dict[str, str], path: Path, seed: int) -> Path:
    """Write the flow for ``structures`` (the demo world's establishments) into ``path``
    (gzip-compressed when the name ends in ``.gz``)."""
    rng = random.Random(seed * 7 + 1)
    ids = _Ids()
    with _text_out(path) as fh:
        fh.write(f'{{"schemaVersion": "v1.0.0", "generatedAt": "{GENERATED_AT}", "pmej": [\n')
        first = True
        hospitals: list[tuple[str, str]] = []  # (department, pmSmsseId) of hospital entities
        associations: list[tuple[str, str]] = []
        for text, kind in _all_pmej(structures, ej_names, rng, ids):
            fh.write(text if first else ",\n" + text)
            first = False
            if kind:
                (hospitals if kind[1] == "H" else associations).append((kind[0], kind[2]))
        gcc, gco = _groupings(hospitals, associations, rng, ids)
        fh.write(f'\n], "gcc": {gcc}, "gco": {gco}}}\n')
    return path


@contextmanager
def _text_out(path: Path) -> Iterator[io.TextIOWrapper]:
    """A text file, gzip-compressed (fast level, no timestamp: same seed, same bytes) when the
    name ends in ``.gz``."""
    with open(path, "wb") as raw:
        if path.suffix != ".gz":
            with io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
                yield fh
            return
        with (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as packed,
            io.TextIOWrapper(packed, encoding="utf-8", newline="") as fh,
        ):
            yield fh


def _all_pmej(
    structures: list, ej_names: dict[str, str], rng: random.Random, ids: _Ids
) -> Iterator[tuple[str, tuple | None]]:
    by_ej: dict[str, list] = {}
    for s in structures:
        by_ej.setdefault(s.ej, []).append(s)
    outside = set(rng.sample(range(len(structures)), min(OUTSIDE, len(structures))))
    n = 0
    for ej, members in by_ej.items():
        pm_id = ids.next_pm()
        eges = []
        for s in members:
            eges.append(_ege(s, rng, ids, active=True, far=n in outside))
            n += 1
        head = members[0]
        kind = "H" if head.cat in ("101", "355", "106") else "A" if len(members) > 1 else ""
        text = _pmej(ej, ej_names.get(ej, head.name), head, pm_id, eges, rng, ids, active=True)
        yield text, (head.place.dep.code, kind, pm_id) if kind else None
    yield from ((t, None) for t in _inactive_pmej(structures, rng, ids))


def _inactive_pmej(structures: list, rng: random.Random, ids: _Ids) -> Iterator[str]:
    """Closed legal entities with their closed establishments, numbered apart from the active
    ones (``<department>5xxxxx``), a few without a category."""
    total = round(len(structures) * INACTIVE_EGE_PER_ACTIVE)
    entities = max(1, round(total / EGE_PER_INACTIVE_PMEJ))
    counters: dict[str, int] = {}
    made = 0
    for i in range(entities):
        model = structures[int(rng.random() * len(structures))]
        count = total - made if i == entities - 1 else 1 + (rng.random() < 0.664)
        members = [_closed_copy(model, counters, rng) for _ in range(count)]
        eges = []
        for s in members:
            eges.append(_ege(s, rng, ids, active=False, no_category=made < NO_CATEGORY))
            made += 1
        ej = _closed_number(model, counters)
        name = f"ASSOCIATION DISSOUTE {i} (FICTIF)"
        yield _pmej(ej, name, model, ids.next_pm(), eges, rng, ids, active=False)


def _closed_number(model, counters: dict[str, int]) -> str:
    dep = model.place.dep
    prefix = model.et[:4] if len(dep.code) == 3 else dep.finess_code
    seq = counters.get(prefix, 0) + 1
    counters[prefix] = seq
    body = f"{prefix}5{seq % 1000:03d}" if len(prefix) == 4 else f"{prefix}5{seq % 100_000:05d}"
    return body + luhn_key(body)


def _closed_copy(model, counters: dict[str, int], rng: random.Random):
    """An establishment like ``model`` (same place), closed, under its own number."""
    del rng
    name = f"{model.name.removesuffix(' (FICTIF)')} FERMÉ (FICTIF)"
    return replace(model, et=_closed_number(model, counters), name=name)


# --- objects ----------------------------------------------------------------------------------


def _q(value: str) -> str:
    """A JSON string (the demo's names hold no quote, backslash or control character; anything
    else goes through the encoder)."""
    if '"' in value or "\\" in value or not value.isprintable():
        return json.dumps(value, ensure_ascii=False)
    return f'"{value}"'


# Every day of each year, drawn with one random number (millions of dates are written).
_DAYS = tuple(f"{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29))


def _date(rng: random.Random, first: int, last: int) -> str:
    x = rng.random() * (last - first + 1)
    year = first + int(x)
    return f"{year}-{_DAYS[int((x - int(x)) * len(_DAYS))]}"


def _events(rng: random.Random, ids: _Ids, kind: str, obj_id: str, state: str) -> str:
    """About EVENTS_PER_OBJECT change events (the flow's history of the object)."""
    count = int(rng.random() * 2 * EVENTS_PER_OBJECT + 0.5)
    out = []
    for _ in range(count):
        ids.event += 1
        day = _date(rng, 1990, 2026)
        code = _EVENT_CODES[int(rng.random() * len(_EVENT_CODES))]
        out.append(
            f'{{"evenementId": "{ids.event}", "dateEnregistrement": "{day}T10:00:00Z", '
            f'"dateEvenement": "{day}", "etatObjet1": "{state}", "identifiantObjet1": "{obj_id}", '
            f'"systemeMaitre": "FINESS", "typeObjet1": "{kind}", "codeEvenement": "{code}"}}'
        )
    return "[" + ", ".join(out) + "]"


def _contact(rng: random.Random) -> str:
    phone = f"046571{int(rng.random() * 10_000):04d}"
    return (
        f'[{{"typeContact": {{"roleContact": "01"}}, "telecom": {{"telephone": "{phone}", '
        '"telecopie": "", "courriel": ""}}]'
    )


def _point(s, rng: random.Random, far: bool) -> tuple[float, float]:
    if far:
        return 0.0, 0.0  # « Null Island », a classic of geocoders
    box = _METRO if len(s.place.dep.code) == 2 else _OVERSEAS.get(s.place.dep.code, _METRO)
    return rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])


def _coordinates(s, rng: random.Random, far: bool) -> str:
    if not far and rng.random() < NO_COORDINATES:
        return ""
    lat, lon = _point(s, rng, far)
    if rng.random() < SWAPPED_RATE:
        lat, lon = lon, lat
    fields = f'"directionLatitude": "{lat:.6f}", "directionLongitude": "{lon:.6f}"'
    if len(s.place.dep.code) == 2 and not far:
        x, y = wgs84_to_lambert93(lat, lon) if abs(lat) <= 90 else (0.0, 0.0)
        fields = f'"coordonneeX": "{y:.2f}", "coordonneeY": "{x:.2f}", ' + fields
    score = f"{0.5 + rng.random() / 2:.2f}"
    return f', "coordonneesGeographique": {{{fields}, "scoreBAN": "{score}"}}'


def _address(s, rng: random.Random, far: bool = False) -> str:
    num, way_type, way = s.street
    place = s.place
    cog = _cog(place)
    return (
        f'[{{"usageAdresse": "03", "numeroVoie": {_q(num)}, "typeVoie": {_q(way_type)}, '
        f'"libelleVoie": {_q(way)}, "complementVoie": "", "complementPointGeographique": "", '
        f'"lieuDit": "", "cogCommune": "{cog}", "ligneAcheminement": {_q(_ascii_upper(place.city))}, '
        f'"ligneQuatre": {_q(" ".join(p for p in (num, way_type, way) if p))}, '
        f'"codePostal": "{place.postcode}"{_coordinates(s, rng, far)}}}]'
    )


def _cog(place) -> str:
    """The INSEE code of the demo commune, as the etalab reader derives it from the CSV."""
    dep = place.dep
    if len(dep.code) == 3:
        return dep.code + place.commune[1:]
    return dep.code + place.commune


def _ascii_upper(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.upper().replace("-", " ").replace("'", " ")


def _ege(s, rng: random.Random, ids: _Ids, *, active: bool, far: bool = False,
         no_category: bool = False) -> str:  # fmt: skip
    ege_id = ids.next_ege()
    state = "A" if active else "I"
    closing = "" if active else f', "dateFermeture": "{_date(rng, 2005, 2026)}"'
    category = "" if no_category else f'"categorieentiteGeographiqueExercice": "{s.cat}", '
    opened = _date(rng, 1965, 2024)
    info = (
        f'{{"egeId": "{ege_id}", "numFinessEge": "{s.et}", "nomEgeCourt": {_q(s.name)}, '
        f'"nomEgeLong": {_q(s.long_name)}, "complementDenominationEg": "", "siret": "{s.siret}", '
        f'"dateOuverture": "{opened}", "datePremiereAutorisation": "{opened}"{closing}}}'
    )
    mft = _MFT[int(rng.random() * len(_MFT))]
    return (
        f'{{"informationsGeneralesEGE": {info}, {category}"modefixationtarifaire": "{mft}", '
        f'"typeBudget": ["01"], "adresse": {_address(s, rng, far)}, "contact": {_contact(rng)}, '
        f'"engagement": [], "evenement": {_events(rng, ids, "EGE", ege_id, state)}, '
        f'"roleEge": [], "etatObjet": "{state}", '
        f'"dateDerniereMaj": "{_date(rng, 2021, 2026)}T00:00:00Z"}}'
    )


def _pmej(ej: str, name: str, head, pm_id: str, eges: list[str], rng: random.Random,
          ids: _Ids, *, active: bool) -> str:  # fmt: skip
    state = "A" if active else "I"
    closing = "" if active else f', "dateFermeture": "{_date(rng, 2005, 2026)}"'
    statut = _STATUTS[int(rng.random() * len(_STATUTS))]
    info = (
        f'{{"pmSmsseId": "{pm_id}", "numFinessPm": "{ej}", "denominationPm": {_q(name)}, '
        f'"denominationLonguePmSmsse": {_q(name)}, "complementAdressePmSmsse": "", '
        f'"siren": "{head.siret[:9]}", "codeApe": "8710A", "statutJuridique": "{statut}", '
        f'"typePersonneMorale": "1", "fonctionPublique": "", '
        f'"dateCreation": "{_date(rng, 1950, 2020)}"{closing}}}'
    )
    return (
        f'{{"informationsGeneralesPMEJ": {info}, "adresse": {_address(head, rng)}, '
        f'"contact": {_contact(rng)}, "engagement": [], '
        f'"evenement": {_events(rng, ids, "PMEJ", pm_id, state)}, '
        f'"ege": [{", ".join(eges)}], "etatObjet": "{state}", '
        f'"dateDerniereMaj": "{_date(rng, 2021, 2026)}T00:00:00Z"}}'
    )


def _groupings(
    hospitals: list[tuple[str, str]], associations: list[tuple[str, str]],
    rng: random.Random, ids: _Ids,
) -> tuple[str, str]:  # fmt: skip
    """GHT (``gcc``): the hospitals of a department, the first one support (S). Cooperation
    groupings (``gco``, themselves legal entities): two to four associations of a department."""
    gcc = []
    for n, (dep, members) in enumerate(_by_department(hospitals)):
        people = [{"pmSmsseId": m, "typeRoleEntiteGroupe": "S" if i == 0 else "M"}
                  for i, m in enumerate(members)]  # fmt: skip
        gcc.append({"gccId": str(n + 1), "nomGcc": f"GHT DÉMO {dep} (FICTIF)", "typeGcc": "001",
                    "etatActif": "A", "pmejDuGcc": people, "egeDuGCC": []})  # fmt: skip
    gco = []
    for dep, members in _by_department(associations):
        for i in range(0, len(members) - 1, 7):
            group = members[i : i + 2 + int(rng.random() * 3)]
            gco.append({"pmSmsseId": ids.next_pm(), "typeGCO": "GCSMS",
                        "nomGco": f"GCSMS DÉMO {dep}-{len(gco) + 1} (FICTIF)",
                        "pmejDuGco": [{"pmSmsseId": m, "typeRoleEntiteGroupe": "M"}
                                      for m in group], "egeDuGco": []})  # fmt: skip
    return json.dumps(gcc, ensure_ascii=False), json.dumps(gco, ensure_ascii=False)


def _by_department(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    out: dict[str, list[str]] = {}
    for dep, pm_id in pairs:
        out.setdefault(dep, []).append(pm_id)
    return [(dep, members) for dep, members in out.items() if len(members) > 1]
