"""The FiNESS+ reader normalises establishments column by column; here the same rules applied
record by record (the specification: ``finess_values``, ``checked_point``, in the checks' order)
must give the same rows, rejections, inactive establishments, legal entities, counts and notes,
value for value, on random records: odd whitespace (what ``str.strip`` removes and Arrow would
not), non-ASCII digits, numbers and coded objects where strings are expected, dates in both
formats, coordinates in every shape the feed has (degrees, swapped, Lambert-93, commas, numbers,
garbage), several groups and a selection of departments."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balise.referentials.categories_r397 import load_r397
from balise.referentials.departments import department_from_postcode
from ingest.sources import finess_plus
from ingest.sources.finess import read_finess_chunks
from ingest.sources.finess_geo import GeoStats, checked_point
from ingest.sources.finess_plus import department_from_cog
from ingest.sources.finess_values import (
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FINESS,
    is_finess_number,
    luhn_ok,
    parse_date,
    siret_or_none,
    split_acheminement,
    street_line,
)
from ingest.sources.rows import EstablishmentRow, ReadStats, Rejected, flatten

TODAY = date.today()

# --- the rules, record by record -----------------------------------------------------------------


def code(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("code")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def active(state: Any, closing: Any) -> bool:
    if (code(state) or "A").upper() != "A":
        return False
    closed = parse_date(text(closing))
    return closed is None or closed > TODAY


def expected(doc: dict, scope: set[str] | None) -> dict:
    out: dict = {"rows": [], "inactive": [], "legal": [], "out": 0, "unknown": Counter()}
    geo, position = GeoStats(), 0
    for pmej in doc["pmej"]:
        info = pmej.get("informationsGeneralesPMEJ") or pmej.get("informationsGeneralesPmej")
        ej = code(info.get("numFinessPm")).upper() if info else ""
        ej = ej if is_finess_number(ej) else ""
        kept = 0
        for ege in pmej.get("ege") or []:
            position += 1
            kept += establishment(ege, ej, position, scope, out, geo)
        if info is not None and ej and (kept or scope is None):
            out["legal"].append(legal_entity(info, ej, pmej))
    out["geo"] = geo.notes()
    return out


def establishment(ege: dict, ej: str, position: int, scope, out: dict, geo: GeoStats) -> bool:
    info = ege.get("informationsGeneralesEGE") or {}
    finess = code(info.get("numFinessEge")).upper()
    if not is_finess_number(finess):
        out["rows"].append(Rejected(position, REASON_FINESS))
        return False
    address = (ege.get("adresse") or [{}])[0]
    cog = code(address.get("cogCommune")).upper()
    department = department_from_cog(cog) or department_from_postcode(
        code(address.get("codePostal"))
    )
    if not department:
        out["rows"].append(Rejected(position, REASON_DEPARTMENT))
        return False
    if scope is not None and department not in scope:
        out["out"] += 1
        return False
    category = code(ege.get("categorieentiteGeographiqueExercice")) or code(
        ege.get("categorieEntiteGeographiqueExercice")
    )
    if not category:
        out["rows"].append(Rejected(position, REASON_CATEGORY))
        return False
    known = load_r397().get(category)
    if known is None:
        out["unknown"][category] += 1
    name = text(info.get("nomEgeCourt")) or text(info.get("nomEgeLong")) or finess
    if not active(ege.get("etatObjet"), info.get("dateFermeture")):
        closed = parse_date(text(info.get("dateFermeture")))
        out["inactive"].append(
            (
                finess,
                ej or None,
                name,
                department,
                category,
                closed,
                code(info.get("egeId")) or None,
            )
        )
        return True
    coordinates = address.get("coordonneesGeographique")
    if isinstance(coordinates, dict):  # the fields read, as the typed record keeps them
        keys = ("directionLatitude", "directionLongitude", "coordonneeX", "coordonneeY")
        coordinates = {k: coordinates.get(k) for k in keys}
    point = checked_point(coordinates, department, geo)
    postcode, city = split_acheminement(text(address.get("ligneAcheminement")))
    parts = ("numeroVoie", "complementNumeroVoie", "typeVoie", "libelleVoie", "lieuDit")
    street = street_line(code(address.get(parts[0])), *(text(address.get(p)) for p in parts[1:]))
    out["rows"].append(
        EstablishmentRow(
            position,
            finess,
            ej or None,
            name,
            text(info.get("nomEgeLong")) or None,
            street,
            code(address.get("codePostal")) or postcode,
            city,
            cog if len(cog) == 5 else None,
            department,
            category,
            known.label if known else None,
            siret_or_none(code(info.get("siret")) or code(ege.get("siret"))),
            parse_date(text(info.get("dateOuverture"))),
            luhn_ok(finess),
            point[0] if point else None,
            point[1] if point else None,
            code(info.get("egeId")) or None,
        )
    )
    return True


def legal_entity(info: dict, ej: str, pmej: dict) -> tuple:
    siren = code(info.get("siren"))
    long_name = text(info.get("denominationLonguePmSmsse"))
    return (
        ej,
        code(info.get("pmSmsseId")) or code(info.get("pm_smsseId")) or None,
        siren if len(siren) == 9 and siren.isdigit() else None,
        code(info.get("statutJuridique")) or None,
        text(info.get("denominationPm")) or long_name or ej,
        long_name or None,
        active(pmej.get("etatObjet") or info.get("etatObjet"), info.get("dateFermeture")),
        parse_date(text(info.get("dateFermeture"))),
    )


# --- random records ------------------------------------------------------------------------------

SPACES = " \t\u00a0\u2003\u3000"
printable = st.characters(blacklist_categories=("Cc", "Cs"))  # no control character
odd = st.one_of(
    st.none(),
    st.integers(-5, 10**15),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(
        lambda c: {"code": c}, st.one_of(st.text(printable, max_size=4), st.integers(0, 999))
    ),
    st.lists(st.integers(), max_size=2),
    st.text(printable, max_size=6),
)


def padded(values: st.SearchStrategy) -> st.SearchStrategy:
    """Values as the file has them, sometimes with whitespace around, sometimes something
    else than a string altogether."""
    pad = st.text(alphabet=SPACES, min_size=1, max_size=2)
    return st.sampled_from(["plain"] * 6 + ["padded"] * 2 + ["odd"]).flatmap(
        lambda how: (
            values
            if how == "plain"
            else odd
            if how == "odd"
            else st.tuples(pad, values, pad).map("".join)
        )
    )


finess_numbers = st.sampled_from(
    [
        "010780930",
        "010000388",
        "2A0000012",
        "2b0000038",
        "970400049",
        "980600027",
        "380780015",
        "010780931",
        "010780948",
        "380780023",
    ]
    * 3
    + ["12345", "０10780930", "", "9A0000012"]
)
communes = st.sampled_from(
    ["01108", "2A004", "2b033", "97411", "98613", "38185"] * 2 + ["99999", "", "1108", "０1108"]
)
postcodes = st.sampled_from(
    ["01270", "20000", "20200", "97133", "97411", "38000", "00000", "", "1234", "٣٨٠٠٠"]
)
dates = st.sampled_from(
    [
        "",
        "",
        "",
        "1980-01-01",
        "14/09/2006",
        "2999-01-01",
        "2024-02-30",
        "2024-10-30 00:00:00",
        "bientôt",
    ]
)
categories = st.sampled_from(["183", "500", "354", "999", "", "1 8 3"])
degrees = st.one_of(
    st.floats(-90, 90).map(lambda v: f"{v:.6f}"),
    st.sampled_from(["46,383", " 5.345 ", "1e2"]),
    st.floats(-90, 90),
    st.integers(-90, 90),
    st.just(""),
    st.just(None),
)
lambert = st.one_of(st.floats(100_000, 7_200_000).map(lambda v: f"{v:.2f}"), st.just(None))
coordinates = st.sampled_from(["any", "any", "good", "good", "odd"]).flatmap(
    lambda how: (
        st.one_of(
            st.fixed_dictionaries(
                {
                    "directionLatitude": degrees,
                    "directionLongitude": degrees,
                    "coordonneeX": lambert,
                    "coordonneeY": lambert,
                    "scoreBAN": st.just("0.8"),
                }
            ),
            st.fixed_dictionaries(
                {
                    "directionLatitude": st.sampled_from(["46.383", "45.76", "-21.1"]),
                    "directionLongitude": st.sampled_from(["5.345", "4.84", "55.5"]),
                }
            ),
            odd,
        )
        if how == "any"
        else odd
        if how == "odd"
        else st.builds(
            lambda lat, lon, swap: {
                "directionLatitude": lon if swap else lat,
                "directionLongitude": lat if swap else lon,
            },
            st.floats(42, 51).map(lambda v: f"{v:.6f}"),
            st.floats(-5, 8).map(lambda v: f"{v:.7f}"),
            st.booleans(),
        )
    )
)
words = st.text(alphabet="ABCÉ 0123456789-'\u00a0", max_size=12)
address = st.fixed_dictionaries(
    {
        "numeroVoie": padded(st.sampled_from(["34", "12", ""])),
        "complementNumeroVoie": padded(words),
        "typeVoie": padded(st.sampled_from(["R", "AV", ""])),
        "libelleVoie": padded(words),
        "lieuDit": padded(words),
        "cogCommune": padded(communes),
        "codePostal": padded(postcodes),
        "ligneAcheminement": padded(
            st.sampled_from(
                ["01270 COLIGNY", "COLIGNY", "38000 GRENOBLE CEDEX 9", "", "2A000 AJACCIO"]
            )
        ),
        "coordonneesGeographique": coordinates,
    }
)
ege = st.fixed_dictionaries(
    {
        "informationsGeneralesEGE": st.fixed_dictionaries(
            {
                "egeId": padded(st.sampled_from(["844", "901", ""])),
                "numFinessEge": padded(finess_numbers),
                "nomEgeCourt": padded(words),
                "nomEgeLong": padded(words),
                "siret": padded(
                    st.sampled_from(["26010009400010", "2601 0009 4000 10", "١٢٣٤٥٦٧٨٩٠١٢٣٤", ""])
                ),
                "dateOuverture": padded(dates),
                "dateFermeture": padded(dates),
            }
        ),
        "categorieentiteGeographiqueExercice": padded(categories),
        "categorieEntiteGeographiqueExercice": st.one_of(
            st.none(), st.builds(lambda c: {"code": c}, categories)
        ),
        "etatObjet": padded(st.sampled_from(["A", "A", "A", "I", "a", ""])),
        "siret": padded(st.sampled_from(["26010009400010", ""])),
        "adresse": st.sampled_from(["listed"] * 5 + ["empty", "none"]).flatmap(
            lambda how: (
                st.lists(address, min_size=1, max_size=2)
                if how == "listed"
                else st.just([] if how == "empty" else None)
            )
        ),
    }
)
pm_info = st.fixed_dictionaries(
    {
        "numFinessPm": padded(finess_numbers),
        "pmSmsseId": padded(st.sampled_from(["77", ""])),
        "pm_smsseId": padded(st.sampled_from(["78", ""])),
        "siren": padded(st.sampled_from(["260100094", "26010009", "٢٦٠١٠٠٠٩٤", ""])),
        "statutJuridique": padded(st.sampled_from(["60", ""])),
        "denominationPm": padded(words),
        "denominationLonguePmSmsse": padded(words),
        "dateFermeture": padded(dates),
        "etatObjet": padded(st.sampled_from(["A", "I", ""])),
    }
)
pmej = st.builds(
    lambda key, info, state, eges: {key: info, "etatObjet": state, "ege": eges},
    st.sampled_from(["informationsGeneralesPMEJ", "informationsGeneralesPmej"]),
    st.one_of(pm_info, st.none()),
    padded(st.sampled_from(["A", "I", ""])),
    st.lists(ege, max_size=4),
)
scopes = st.one_of(st.none(), st.sampled_from([{"01"}, {"2A", "974"}, {"38", "986", "01"}]))


def read(doc: dict, scope: set[str] | None) -> dict:
    stats = ReadStats()
    # The first line alone holds "{": the reader refuses a first line that is not printable.
    data = b"{\n" + json.dumps(doc, ensure_ascii=False).encode()[1:]
    chunks = list(read_finess_chunks(io.BytesIO(data), scope, stats))
    unknown = [n for n in stats.notes if n.startswith("Catégories inconnues")]
    return {
        "rows": list(flatten(chunks, EstablishmentRow)),
        "inactive": [i for c in chunks for i in c.inactive],
        "legal": [le for c in chunks for le in c.legal_entities],
        "out": stats.out_of_scope,
        "unknown": unknown,
        "geo": [n for n in stats.notes if n.startswith("Coordonnées")],
        "lines": stats.lines,
    }


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(
    items=st.lists(pmej, min_size=1, max_size=4), scope=scopes, group=st.sampled_from([1, 3, 8192])
)
def test_column_reader_gives_what_the_rules_give_record_by_record(monkeypatch, items, scope, group):
    monkeypatch.setattr(finess_plus, "GROUP_ROWS", group)  # several groups: state carried over
    doc = {"generatedAt": "2026-07-01T04:00:00Z", "pmej": items, "gcc": [], "gco": []}
    want, got = expected(doc, scope), read(doc, scope)
    assert got["rows"] == want["rows"]
    assert got["inactive"] == want["inactive"]
    assert got["legal"] == want["legal"]
    assert got["out"] == want["out"]
    assert got["geo"] == want["geo"]
    assert got["lines"] == sum(len(p["ege"]) for p in items)
    listed = ", ".join(f"{c} ({n})" for c, n in sorted(want["unknown"].items()))
    assert got["unknown"] == (
        [f"Catégories inconnues de la nomenclature TRE-R397 : {listed}."] if want["unknown"] else []
    )
