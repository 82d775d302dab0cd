"""The fictitious world: places, FINESS establishments and their legal entities, drawn from one
``random.Random`` in a fixed order (same seed, same world).

Numbers (FINESS, SIRET, RPPS) carry a valid Luhn key (``stdnum.luhn``) so that the readers exercise
the real rules, but they designate nobody.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

from stdnum import luhn

from balise.referentials.categories import load_categories
from balise.referentials.departments import Department, load_departments
from ingest.demo.tables import (
    ARA_WEIGHTS,
    DEFAULT_PROFILE,
    EJ_OWN,
    ESMS_NAMES,
    FIXED_NAMES,
    HOSPITALS,
    NATIONAL_FINESS,
    OTHER_SIGLES,
    OVERSEAS_PREFIX,
    PARTNERS,
    PLACE_HEADS,
    PLACE_ROOTS,
    PLACE_TAILS,
    PROFILES,
    SIGLES_LONG,
    STREET_TYPES,
    STREETS,
    SURNAME_ENDS,
    SURNAME_STARTS,
    WRONG_KEY_FINESS,
)
from ingest.sources.finess_values import luhn_digits

T = TypeVar("T")

# --------------------------------------------------------------------------- small helpers


@cache
def ascii_upper(text: str) -> str:
    """ "Saint-Démo-sur-Rivière" -> "SAINT DEMO SUR RIVIERE" (acheminement lines have no accents)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.upper().replace("-", " ").replace("'", " ")


@cache
def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def luhn_key(body: str) -> str:
    """The Luhn check digit to append to ``body``, Corsican 2A/2B numbers by the reader's own
    convention (:func:`ingest.sources.finess_values.luhn_digits`)."""
    return luhn.calc_check_digit(luhn_digits(body))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """``rng.choice`` without its overhead (national mode draws millions of times)."""
    return items[int(rng.random() * len(items))]


def fake_phone(rng: random.Random) -> str:
    return f"046571{int(rng.random() * 10_000):04d}"  # ARCEP range reserved for fiction


def fake_date(rng: random.Random, first: int, last: int) -> str:
    r = rng.random
    return (
        f"{first + int(r() * (last - first + 1))}-{1 + int(r() * 12):02d}-{1 + int(r() * 28):02d}"
    )


# --------------------------------------------------------------------------- the fictitious world


@dataclass(slots=True)
class Place:
    dep: Department
    commune: str  # 3-character commune code inside the department (FINESS ``commune``)
    postcode: str
    city: str  # display name, accents kept


@dataclass(slots=True)
class Structure:
    """A FINESS establishment (ET) and what directory lines need about it."""

    et: str
    ej: str
    cat: str
    name: str  # rs: upper case, "(FICTIF)"
    long_name: str
    place: Place
    street: tuple[str, str, str]  # numvoie, typvoie, voie
    siret: str
    domain: str


@dataclass
class World:
    rng: random.Random
    departments: list[Department]
    weights: list[float]
    places: dict[str, list[Place]]
    structures: list[Structure] = field(default_factory=list)
    ej_names: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)  # next FINESS sequence per prefix
    addresses: dict[str, int] = field(default_factory=dict)  # address -> times used
    rpps: int = 0  # last RPPS sequence used
    app_scale: float = 1.0  # national mode: applicative mailboxes are rare in the public file


def _weights(departments: list[Department], rng: random.Random) -> list[float]:
    out = []
    for dep in departments:
        if dep.code in ARA_WEIGHTS:
            out.append(ARA_WEIGHTS[dep.code])
        elif len(dep.code) == 2:
            out.append(round(rng.uniform(0.15, 1.6), 3))
        elif dep.finess_code:
            out.append(round(rng.uniform(0.2, 0.8), 3))
        else:  # collectivités d'outre-mer: a handful of professionals
            out.append(round(rng.uniform(0.01, 0.1), 3))
    return out


def _postcode(dep: Department, rng: random.Random) -> str:
    code = dep.code
    if code in ("2A", "2B"):
        return f"20{rng.randrange(0, 20) if code == '2A' else rng.randrange(20, 30):02d}0"
    if code == "977":
        return "97133"
    if code == "978":
        return "97150"
    if len(code) == 3:
        # 97133 / 97150 would say Saint-Barthélemy / Saint-Martin: never draw them for 971.
        return f"{code}{pick(rng, (0, 10, 20, 30, 40, 60, 70, 80, 90)):02d}"
    return f"{code}{rng.randrange(0, 99) * 10:03d}"


def _places(dep: Department, rng: random.Random, n: int) -> list[Place]:
    out, seen = [], {}
    for i in range(n):
        name = pick(rng, PLACE_HEADS) + pick(rng, PLACE_ROOTS) + pick(rng, PLACE_TAILS)
        if name in seen:
            name = f"{name}-{i}"
        seen[name] = i
        if len(dep.code) == 3:
            commune = f"{dep.code[2]}{i + 1:02d}"
        else:
            commune = f"{(i + 1) * 7 % 700 + 1:03d}"
        out.append(Place(dep, commune, _postcode(dep, rng), name))
    return out


def new_world(codes: Iterable[str], rng: random.Random) -> World:
    deps_by_code = load_departments()
    departments = [deps_by_code[c] for c in codes]
    places = {d.code: _places(d, rng, 40 if len(d.code) == 2 else 12) for d in departments}
    return World(rng, departments, _weights(departments, rng), places)


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` along ``weights`` (largest remainders), deterministically."""
    whole = sum(weights)
    raw = [total * w / whole for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def category_counts(national: bool, scale: float) -> dict[str, int]:
    codes = list(dict.fromkeys([*load_categories(), *PROFILES]))
    profiles = [PROFILES.get(c, DEFAULT_PROFILE) for c in codes]
    if national:
        weights = [float(p.national) for p in profiles]
        return dict(zip(codes, allocate(round(NATIONAL_FINESS * scale), weights), strict=True))
    return {c: round(p.regional * scale) for c, p in zip(codes, profiles, strict=True)}


def _finess_number(world: World, dep: Department) -> str:
    prefix = OVERSEAS_PREFIX.get(dep.code, dep.finess_code)
    seq = world.counters.get(prefix, 0) + 1 + int(world.rng.random() * 3)
    world.counters[prefix] = seq
    # Metropolitan numbers: department + 0 + 5 digits, so that ADELI ids (department + 9...)
    # and FINESS numbers never collide.
    body = f"{prefix}{seq:04d}" if len(prefix) == 4 else f"{prefix}0{seq:05d}"
    return body + luhn_key(body)


def fake_siret(rng: random.Random) -> str:
    body = str(10**12 + int(rng.random() * 9 * 10**12))
    return body + luhn_key(body)


@dataclass
class _DepContext:
    """Legal entities already created in one department, that new establishments may join."""

    associations: list[str] = field(default_factory=list)
    hospitals: list[str] = field(default_factory=list)
    pmi: str = ""


def _names(world: World, code: str, place: Place) -> tuple[str, str, str]:
    """(short name, long name, domain) of a new establishment."""
    rng, city = world.rng, place.city
    if code in FIXED_NAMES:
        short, long = (t.format(city=city, dep=place.dep.name) for t in FIXED_NAMES[code])
    elif code == "620":
        short = "Pharmacie " + pick(rng, ("du Centre", "du Marché", "de la Gare", "des Écoles",
                                            fake_surname(rng)))  # fmt: skip
        long = f"{short} - {city}"
    else:
        cat = load_categories().get(code)
        sigle = cat.short if cat else OTHER_SIGLES.get(code, code)
        nom = pick(rng, ESMS_NAMES)
        short = f"{sigle} {nom}"
        long = f"{SIGLES_LONG.get(code, sigle)} {nom} - {city}"
    domain = f"{slug(short)}-demo.mssante.fr"
    return f"{short.upper()} (FICTIF)", f"{long} (fictif)", domain


def fake_surname(rng: random.Random) -> str:
    return pick(rng, SURNAME_STARTS) + pick(rng, SURNAME_ENDS)


def _legal_entity(world: World, dep: Department, code: str, ctx: _DepContext, name: str) -> str:
    """The EJ an establishment belongs to: its own, its département's (PMI), a hospital's
    (some EHPAD) or an association that already runs other establishments."""
    rnd = world.rng.random
    if code == "223" and ctx.pmi:
        return ctx.pmi
    if code == "500" and ctx.hospitals and rnd() < 0.25:
        return pick(world.rng, ctx.hospitals)
    if code not in EJ_OWN and code != "223" and ctx.associations and rnd() < 0.45:
        return pick(world.rng, ctx.associations)
    ej = _finess_number(world, dep)
    if code == "223":
        ctx.pmi, name = ej, f"DÉPARTEMENT {dep.name.upper()} (FICTIF)"
    elif code in HOSPITALS:
        ctx.hospitals.append(ej)
    elif code not in EJ_OWN:
        ctx.associations.append(ej)
        name = f"ASSOCIATION {pick(world.rng, ESMS_NAMES).upper()} (FICTIF)"
    world.ej_names[ej] = name
    return ej


def _new_structure(world: World, dep: Department, code: str, ctx: _DepContext) -> Structure:
    rng = world.rng
    place = pick(rng, world.places[dep.code])
    et = _finess_number(world, dep)
    short, long, domain = _names(world, code, place)
    ej = _legal_entity(world, dep, code, ctx, short)
    number = str(rng.randint(1, 250)) if rng.random() < 0.85 else ""
    street = (number, pick(rng, STREET_TYPES), pick(rng, STREETS))
    siret = "" if code == "223" else fake_siret(rng)
    return Structure(et, ej, code, short, long, place, street, siret, domain)


def build_structures(world: World, counts: dict[str, int]) -> None:
    departments = [d for d in world.departments if d.finess_code]
    weights = [w for d, w in zip(world.departments, world.weights, strict=True) if d.finess_code]
    # Hospitals first, so that some EHPAD can belong to a hospital's legal entity.
    codes = [c for c in HOSPITALS if c in counts] + [c for c in counts if c not in HOSPITALS]
    split = {c: allocate(counts[c], weights) for c in codes}
    for k, dep in enumerate(departments):
        ctx = _DepContext()
        for code in codes:
            n = 1 if code == "606" else split[code][k]  # one DAC per department
            for _ in range(n):
                world.structures.append(_new_structure(world, dep, code, ctx))
    world.structures.sort(key=lambda s: s.et)
    _inject_finess_quirks(world)


def _quote_name(s: Structure) -> None:
    """'LIEU DE VIE "LES TILLEULS" (FICTIF)': a name with quotes, as in the real file."""
    for nom in ESMS_NAMES:
        if s.name.endswith(f" {nom.upper()} (FICTIF)"):
            s.name = s.name.replace(f" {nom.upper()} ", f' "{nom.upper()}" ')
            s.long_name = s.long_name.replace(f" {nom} ", f' "{nom}" ')
            return


def _inject_finess_quirks(world: World) -> None:
    """Names that need CSV quoting (quotes, semicolons) and a couple of numbers whose Luhn key
    is wrong."""
    rng = world.rng
    esms = [s for s in world.structures if s.cat not in PARTNERS and s.cat != "606"]
    living = [s for s in world.structures if s.cat == "462"] or esms  # real case: lieux de vie
    quoted = rng.sample(living, min(len(living), 2))
    others = [s for s in esms if s not in quoted]
    picked = rng.sample(others, min(len(others), 2 + WRONG_KEY_FINESS))
    for s in quoted:
        _quote_name(s)
    for s in picked[:2]:
        s.name = s.name.replace(" (FICTIF)", " ; ANTENNE NORD (FICTIF)")
    for s in picked[2:]:
        s.et = s.et[:-1] + str((int(s.et[-1]) + 1) % 10)
