"""The directory side of the demo world: mailboxes of the establishments, of liberal practices
and of other structures, each with its life over the snapshots (:data:`Box`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from balise.referentials.departments import Department
from ingest.demo.tables import (
    ADELI_PROFESSIONS,
    DEFAULT_PROFILE,
    EMPTY_DEPARTMENT_RATE,
    FIRST_NAMES,
    HOSPITAL_SERVICES,
    HOSPITALS,
    NATIONAL_CAB,
    NATIONAL_ORG,
    NATIONAL_PER,
    ORG_SERVICES,
    OTHER_ORG_KINDS,
    PARTNERS,
    PROFESSION_BY_CODE,
    PROFESSIONS,
    PROFILES,
    REGIONAL_CAB,
    REGIONAL_ORG,
    REGIONAL_PER,
    STREET_TYPES,
    STREETS,
    SURNAME_ENDS,
    SURNAME_STARTS,
)
from ingest.demo.world import (
    Place,
    Structure,
    World,
    allocate,
    ascii_upper,
    fake_siret,
    fake_surname,
    luhn_key,
    pick,
    slug,
)

# --------------------------------------------------------------------------- directory lines

# A mailbox over the snapshots: (first snapshot, snapshot where it is gone, line, line after
# the change or None, snapshot of the change). Snapshots are 0-based indexes.
Box = tuple[int, int, str, str | None, int]
_NO_PERSON = "|" * 10  # columns 9-18 of ORG/APP/CAB lines are empty


def _tail(name: str, street: tuple[str, str, str], place: Place) -> str:
    """Columns 19-29 (structure name and address, up to the postcode)."""
    num, typ, voie = street
    cp = place.postcode
    return f"{name}||||{num}||{typ}|{voie}||{cp} {ascii_upper(place.city)}|{cp}"


def _dep_cell(world: World, dep: Department) -> str:
    """The ``Département`` cell: usually the code; sometimes empty (the reader must use the
    postcode), and for Isère sometimes its name spelled out."""
    r = world.rng.random()
    if r < EMPTY_DEPARTMENT_RATE:
        return ""
    if dep.code == "38" and r < EMPTY_DEPARTMENT_RATE + 0.003:
        return dep.name
    return dep.code


def _address(world: World, local: str, domain: str) -> str:
    """A unique address: homonyms get a number, as operators do."""
    addr = f"{local}@{domain}"
    n = world.addresses.get(addr, 0)
    world.addresses[addr] = n + 1
    return addr if n == 0 else f"{local}{n + 1}@{domain}"


def _timeline(world: World, first: int, snapshots: int) -> tuple[int, int, int]:
    """(start, end, change): most mailboxes appear with their structure, some later; about 1 %
    disappear and 1 % change before the last snapshot."""
    rng = world.rng
    last = snapshots - 1
    start = first if first >= last or rng.random() < 0.9 else rng.randint(first, last)
    if start >= last:
        return start, snapshots, snapshots
    r = rng.random()
    if r < 0.012:
        return start, rng.randint(start + 1, last), snapshots
    if r < 0.024:
        return start, snapshots, rng.randint(start + 1, last)
    return start, snapshots, snapshots


def _person(world: World, dep: Department, code: str) -> tuple[str, str, str]:
    """(id columns 3-5, identity columns 9-17, address local part) of a new professional."""
    rnd = world.rng.random
    _, label, _, _, civ, savoirs = PROFESSION_BY_CODE[code]
    first = FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]
    last = _SURNAMES[int(rnd() * len(_SURNAMES))]
    sf_code, sf_label = savoirs[int(rnd() * len(savoirs))]
    if code in ADELI_PROFESSIONS:
        world.rpps += 1
        pid, kind = f"{dep.code[:2]}{code[1]}{world.rpps % 10**6:06d}", "0"
    else:
        world.rpps += 1 + int(rnd() * 30)
        body = f"10{world.rpps:08d}"
        pid, kind = body + luhn_key(body), "8"
    ids = f"{kind}|{pid}|{kind}{pid}"
    who = f"{civ}|{last.upper()}|{first}|C|Civil|{code}|{label}|{sf_code}|{sf_label}"
    return ids, who, f"{slug(first)}.{slug(last)}"


_SURNAMES = tuple(s + e for s in SURNAME_STARTS for e in SURNAME_ENDS)


def _sid(world: World, kind: str, number: str) -> tuple[str, str]:
    """(type column, id column): national form "type + id" on about a third of the rows."""
    if world.rng.random() < 0.35:
        return kind, kind + number
    return kind, number


def _structure_boxes(world: World, s: Structure, first: int, snapshots: int) -> Iterator[Box]:
    """The mailboxes of one equipped establishment."""
    rng = world.rng
    prof = PROFILES.get(s.cat, DEFAULT_PROFILE)
    tail = _tail(s.name, s.street, s.place)
    n_org, n_per = rng.randint(*prof.org), rng.randint(*prof.per)
    kinds = ["ORG"] * max(n_org, 1 if n_per == 0 else 0) + ["PER"] * n_per
    kinds += ["APP"] * (rng.random() < prof.app * world.app_scale)
    kinds += ["CAB"] * (rng.random() < prof.cab)
    services = HOSPITAL_SERVICES if s.cat in HOSPITALS else ORG_SERVICES
    for kind in kinds:
        start, end, change = _timeline(world, first, snapshots)
        number = s.ej if rng.random() < 0.06 else s.et  # a few mailboxes name the legal entity
        stype, sid = _sid(world, "1", number)
        dep = _dep_cell(world, s.place.dep)
        if kind == "PER":
            line, alt = _per_lines(world, s, prof.profession, stype, sid, tail, dep)
        else:
            line, alt = _org_lines(world, s, kind, services, stype, sid, tail, dep)
        yield start, end, line, alt if change < snapshots else None, change


def _org_lines(
    world: World, s: Structure, kind: str, services: tuple, stype: str, sid: str, tail: str,
    dep: str,
) -> tuple[str, str]:  # fmt: skip
    """An ORG/APP/CAB line and its changed version (service renamed)."""
    if kind == "APP":
        local, service = "app-dossier-usager", "Logiciel de soins (envoi automatique)"
    elif kind == "CAB":
        local, service = "cabinet", ""
    else:
        local, service = pick(world.rng, services)
    addr = _address(world, local, s.domain)
    head = f"{kind}|{addr}||||{stype}|{sid}|"
    rest = f"{_NO_PERSON}|{tail}|{dep}|FRANCE"
    return head + service + rest, head + (service or "Cabinet") + " - site principal" + rest


def _per_lines(
    world: World, s: Structure, code: str, stype: str, sid: str, tail: str, dep: str
) -> tuple[str, str]:
    """A PER line of a professional working in an establishment, and its changed version
    (attached to the legal entity instead of the establishment)."""
    ids, who, local = _person(world, s.place.dep, code)
    domain = s.domain if world.rng.random() < 0.7 else PROFESSION_BY_CODE[code][2]
    addr = _address(world, local, domain)
    service = pick(world.rng, ("", "", "Soins", "Direction des soins", "Consultations"))
    line = f"PER|{addr}|{ids}|{stype}|{sid}|{service}|{who}|O|{tail}|{dep}|FRANCE"
    alt = f"PER|{addr}|{ids}|1|{s.ej}|{service}|{who}|O|{tail}|{dep}|FRANCE"
    return line, alt


def _equip_rates(world: World) -> dict[str, float]:
    """Department base rates spread evenly from 25 % to 70 %, in a seed-dependent order."""
    n = len(world.departments)
    rates = [0.25 + 0.45 * i / max(n - 1, 1) for i in range(n)]
    world.rng.shuffle(rates)
    return {d.code: r for d, r in zip(world.departments, rates, strict=True)}


def _establishment_boxes(world: World, snapshots: int) -> list[Box]:
    rates = _equip_rates(world)
    rnd, boxes = world.rng.random, []
    for s in world.structures:
        prof = PROFILES.get(s.cat, DEFAULT_PROFILE)
        rate = prof.equip if s.cat in PARTNERS else rates[s.place.dep.code] * prof.equip
        if rnd() >= min(rate, 0.97):
            continue
        first = 0 if snapshots == 1 or rnd() < 0.7 else world.rng.randint(1, snapshots - 1)
        boxes.extend(_structure_boxes(world, s, first, snapshots))
    return boxes


# --------------------------------------------------------------------------- liberal practices


@dataclass(slots=True)
class _Practice:
    stype: str
    sid: str
    tail: str
    domain: str


_PRACTICE_NAMES = {"21": "PHARMACIE", "40": "CABINET DENTAIRE"}  # others: "CABINET"


def _practice(world: World, dep: Department, code: str, name: str = "") -> _Practice:
    """A structure outside FINESS: SIRET mostly, some ADELI or RPPS cabinet ids, a few none."""
    rng = world.rng
    place = pick(rng, world.places[dep.code])
    if not name and rng.random() >= 0.4:  # else no name: common for liberal practices
        name = f"{_PRACTICE_NAMES.get(code, 'CABINET')} {fake_surname(rng).upper()} (FICTIF)"
    r = rng.random()
    if r < 0.70:
        stype, sid = _sid(world, "3", fake_siret(rng))
    elif r < 0.85:  # ADELI cabinet: department + 9..., never a FINESS number (department + 0...)
        stype, sid = _sid(world, "0", f"{dep.code[:2]}9{rng.randrange(10**6):06d}")
    elif r < 0.95:
        body = f"10{rng.randrange(10**8):08d}"
        stype, sid = _sid(world, "4", body + luhn_key(body))
    else:
        stype, sid = "", ""
    rnd = rng.random
    if rnd() < 0.4:  # many practices carry no street in the directory
        street = ("", "", "")
    else:
        n = len(STREETS)
        street = (
            str(1 + int(rnd() * 120)),
            STREET_TYPES[int(rnd() * 10)],
            STREETS[int(rnd() * n)],
        )
    domain = f"{slug(name or 'cabinet ' + place.city)}-demo.mssante.fr"
    return _Practice(stype, sid, _tail(name, street, place), domain)


@cache
def _profession_table() -> tuple[str, ...]:
    """Profession codes repeated by weight: one index draw picks a profession."""
    return tuple(p[0] for p in PROFESSIONS for _ in range(p[3]))


def _liberal_boxes(world: World, total: int, snapshots: int) -> Iterator[Box]:
    """PER mailboxes of professionals in liberal practice (the bulk of the directory)."""
    rnd, table = world.rng.random, _profession_table()
    for dep, n in zip(world.departments, allocate(total, world.weights), strict=True):
        while n > 0:
            code = table[int(rnd() * len(table))]
            practice = _practice(world, dep, code)
            for _ in range(min(n, 1 + int(rnd() * rnd() * 4))):
                first = 0 if snapshots == 1 or rnd() < 0.95 else world.rng.randint(1, snapshots - 1)
                start, end, change = _timeline(world, first, snapshots)
                ids, who, local = _person(world, dep, code)
                domain = PROFESSION_BY_CODE[code][2] if rnd() < 0.9 else practice.domain
                addr = _address(world, local, domain)
                dep_cell = _dep_cell(world, dep)
                head = f"PER|{addr}|{ids}|"
                rest = f"|{who}|O|{practice.tail}|{dep_cell}|FRANCE"
                line = f"{head}{practice.stype}|{practice.sid}|{rest}"
                # The change: the professional moved to another practice (new structure id).
                alt = f"{head}3|{fake_siret(world.rng)}|{rest}" if change < snapshots else None
                yield start, end, line, alt, change
                n -= 1


def _other_boxes(world: World, kind: str, total: int, snapshots: int) -> Iterator[Box]:
    """ORG (labs, imaging, clinics outside our FINESS categories) or CAB mailboxes on
    structures identified by SIRET/ADELI/RPPS, to reach national-like volumes."""
    rng = world.rng
    for dep, n in zip(world.departments, allocate(total, world.weights), strict=True):
        while n > 0:
            if kind == "CAB":
                practice, size = _practice(world, dep, "10"), 1
            else:
                name = f"{pick(rng, OTHER_ORG_KINDS)} {fake_surname(rng).upper()} (FICTIF)"
                practice, size = _practice(world, dep, "10", name), rng.randint(1, 3)
            for _ in range(min(n, size)):
                start, end, change = _timeline(world, 0, snapshots)
                local, service = ("cabinet", "") if kind == "CAB" else pick(rng, ORG_SERVICES)
                addr = _address(world, local, practice.domain)
                head = f"{kind}|{addr}||||{practice.stype}|{practice.sid}|"
                rest = f"{_NO_PERSON}|{practice.tail}|{_dep_cell(world, dep)}|FRANCE"
                alt = head + "Accueil" + rest if change < snapshots else None
                yield start, end, head + service + rest, alt, change
                n -= 1


def demo_mailboxes(world: World, snapshots: int, national: bool, scale: float) -> list[Box]:
    """Mailboxes of the FINESS establishments, then liberal PER, other ORG and CAB mailboxes up
    to the national-like volumes of the mode (counted on the last snapshot)."""
    per, org, cab = (NATIONAL_PER, NATIONAL_ORG, NATIONAL_CAB) if national else (
        REGIONAL_PER, REGIONAL_ORG, REGIONAL_CAB)  # fmt: skip
    boxes = _establishment_boxes(world, snapshots)
    present = [b[2][:3] for b in boxes if b[1] == snapshots]
    boxes.extend(
        _liberal_boxes(world, max(0, round(per * scale) - present.count("PER")), snapshots)
    )
    boxes.extend(
        _other_boxes(world, "ORG", max(0, round(org * scale) - present.count("ORG")), snapshots)
    )
    boxes.extend(_other_boxes(world, "CAB", round(cab * scale), snapshots))
    return boxes
