"""The demo data generator: same seed same bytes, the real formats and their quirks, adoption that
differs by department and category and grows across snapshots, and the project's own readers
accepting the files (rejecting exactly the injected bad lines)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from stdnum import luhn

from balise.referentials.departments import (
    department_from_postcode,
    load_departments,
    region_departments,
)
from balise.referentials.territories import box_of_department
from ingest import jobs
from ingest.demo import BAD_LINES_PER_EXTRACT, WRONG_KEY_FINESS, changed_copy, write_demo
from ingest.demo.tables import DEPARTMENT_CENTRES
from ingest.sources.annuaire import (
    REASON_ADDRESS,
    REASON_FIELDS,
    REASON_TYPE,
    read_extract,
)
from ingest.sources.finess import read_finess, read_finess_chunks
from ingest.sources.rows import EstablishmentPoint, EstablishmentRow, ReadStats, Rejected, flatten

# The 31 header texts exactly as published (domain/annuaire-mssante.md), written out again here
# rather than imported, so that a change in the generator cannot silently change the expectation.
PUBLISHED_HEADER = [
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP",
    "Identification nationale PP", "Type identifiant structure", "Identification Structure",
    "Service de rattachement", "Civilité d'exercice", "Nom d'exercice", "Prénom d'exercice",
    "Catégorie profession", "Libellé de catégorie profession", "Code Profession",
    "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION", "L3COMPLEMENTDISTRIBUTION", "L4NUMEROVOIE",
    "L4COMPLEMENTNUMEROVOIE", "NL4TYPEVOIE", "L4LIBELLEVOIE", "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT", "Code postal", "Département", "Pays",
]  # fmt: skip
ARA = set(region_departments("84"))
MEDICO_SOCIAL = {"500", "501", "354", "460", "209", "190", "183", "182", "186", "188", "189",
                 "246", "255", "437", "448", "449", "445", "446", "606"}  # fmt: skip


@pytest.fixture(scope="module")
def regional_demo(tmp_path_factory):
    """The default demo files (regional mode, seed 2026), written once for the module."""
    return write_demo(tmp_path_factory.mktemp("demo"))


def sha256_of(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def all_paths(files) -> list[Path]:
    return [*files.annuaire, files.finess, *([files.finess_json] if files.finess_json else [])]


def directory_lines(path: Path) -> list[list[str]]:
    """Data lines of an extract, split on ``|`` (plain Python, as a reader would)."""
    text = path.read_bytes().decode("utf-8")  # strict: the file must be UTF-8
    return [line.split("|") for line in text.split("\n")[1:] if line]


def good_lines(path: Path) -> list[list[str]]:
    return [f for f in directory_lines(path) if len(f) == 31 and f[0] != "XYZ" and "@" in f[1]]


def establishments(path: Path) -> dict[str, list[str]]:
    """FINESS number -> structureet fields, read with a real CSV reader in cp1252."""
    with open(path, encoding="cp1252", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return {r[1]: r for r in rows[1:] if r[0] == "structureet"}


def linked_ids(path: Path) -> set[str]:
    """FINESS-typed structure ids of an extract, without the national "1" prefix."""
    ids = set()
    for f in good_lines(path):
        if f[5] == "1":
            ids.add(f[6][1:] if len(f[6]) == 10 else f[6])
    return ids


def adoption(files, snapshot: int) -> tuple[dict[str, float], dict[str, float]]:
    """Share of médico-social establishments equipped (ET or EJ linked), by department and by
    category, computed from the files alone."""
    ids = linked_ids(files.annuaire[snapshot])
    by_dep, by_cat = Counter(), Counter()
    equipped_dep, equipped_cat = Counter(), Counter()
    for et, f in establishments(files.finess).items():
        if f[18] not in MEDICO_SOCIAL:
            continue
        equipped = et in ids or f[2] in ids
        by_dep[f[13]] += 1
        by_cat[f[18]] += 1
        equipped_dep[f[13]] += equipped
        equipped_cat[f[18]] += equipped
    return (
        {d: equipped_dep[d] / n for d, n in by_dep.items()},
        {c: equipped_cat[c] / n for c, n in by_cat.items()},
    )


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(regional_demo, tmp_path):
    again = write_demo(tmp_path / "again")
    other = write_demo(tmp_path / "other", seed=7)
    assert [p.name for p in all_paths(again)] == [p.name for p in all_paths(regional_demo)]
    assert sha256_of(all_paths(again)) == sha256_of(all_paths(regional_demo))
    assert sha256_of(all_paths(other)) != sha256_of(all_paths(regional_demo))


def test_output_does_not_depend_on_the_process_hash_seed(tmp_path):
    """Set iteration order changes with PYTHONHASHSEED: the bytes must not."""
    code = (
        "import sys, hashlib; from pathlib import Path; from ingest.demo import write_demo; "
        "f = write_demo(Path(sys.argv[1]), scale=0.05); "
        "print([hashlib.sha256(p.read_bytes()).hexdigest() for p in [*f.annuaire, f.finess]])"
    )
    digests = set()
    for hash_seed, out in (("1", "a"), ("12345", "b")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / out)],
            capture_output=True, text=True, env=env, check=True, cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        digests.add(run.stdout.strip())
    assert len(digests) == 1


# --------------------------------------------------------------------------- directory format


def test_four_snapshots_oldest_first_with_the_ans_file_names(regional_demo):
    names = [p.name for p in regional_demo.annuaire]
    assert names == [
        "Extraction_Correspondance_MSSante_202608010312.txt",
        "Extraction_Correspondance_MSSante_202609010312.txt",
        "Extraction_Correspondance_MSSante_202610010312.txt",
        "Extraction_Correspondance_MSSante_202611010312.txt",
    ]


def test_directory_header_is_the_31_published_texts_in_order(regional_demo):
    for path in regional_demo.annuaire:
        first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
        assert first.split("|") == PUBLISHED_HEADER


def test_directory_lines_have_31_pipe_fields_except_two_injected(regional_demo):
    for path in regional_demo.annuaire:
        raw = path.read_bytes()
        assert b"\r" not in raw  # LF only
        widths = Counter(len(f) for f in directory_lines(path))
        assert widths[31] > 25_000
        assert sum(n for width, n in widths.items() if width != 31) == 2  # 28 and 33 fields
        assert set(widths) == {28, 31, 33}


def test_about_35k_lines_per_regional_snapshot_all_in_ara(regional_demo):
    for path in regional_demo.annuaire:
        lines = good_lines(path)
        assert 25_000 < len(lines) < 40_000
        postcodes_deps = {department_from_postcode(f[28]) for f in lines}
        assert postcodes_deps == ARA


def test_all_four_bal_types_are_present(regional_demo):
    types = Counter(f[0] for f in good_lines(regional_demo.annuaire[-1]))
    assert set(types) == {"PER", "ORG", "APP", "CAB"}
    assert types["PER"] > types["ORG"] > types["APP"] > 0 and types["CAB"] > 0


def test_per_lines_carry_rpps_ids_and_addresses_end_in_mssante_fr(regional_demo):
    lines = good_lines(regional_demo.annuaire[-1])
    per = [f for f in lines if f[0] == "PER"]
    rpps = [f for f in per if f[2] == "8"]
    assert len(rpps) > 0.95 * len(per)
    assert all(
        re.fullmatch(r"\d{11}", f[3]) and f[4] == "8" + f[3] and luhn.is_valid(f[3]) for f in rpps
    )
    assert all(f[1].lower().split("@")[1].endswith(".mssante.fr") for f in lines)
    domains = Counter(f[1].split("@")[1] for f in per)
    assert domains.most_common(1)[0][0] == "medecin.mssante.fr"
    # Most PER are liberal professionals identified by SIRET/ADELI/RPPS cabinet, not FINESS.
    assert sum(f[5] in ("0", "3", "4", "") for f in per) > 0.6 * len(per)


def test_quirks_are_in_every_extract(regional_demo):
    for path in regional_demo.annuaire:
        lines = directory_lines(path)
        good = good_lines(path)
        addresses = Counter(f[1].lower() for f in good)
        duplicated = [a for a, n in addresses.items() if n > 1]
        assert 5 <= len(duplicated) <= 20  # ~0.03 % of ~35k
        exact = Counter(f[1] for f in good)
        assert any(exact[a] < 2 for a in duplicated), "some duplicates differ only by case"
        assert sum(f[0] == "XYZ" for f in lines) == 2
        assert sum(len(f) > 1 and "@" not in f[1] for f in lines) == 2
        assert sum(f[29] == "" for f in good) > 20  # department from the postcode
        assert any(f[29] == "Isère" for f in good)
        finess_ids = [f[6] for f in good if f[5] == "1"]
        assert any(len(i) == 10 and i[0] == "1" for i in finess_ids)  # "1" + FINESS
        assert any(len(i) == 9 for i in finess_ids)


def test_names_are_obviously_fictitious(regional_demo):
    for f in establishments(regional_demo.finess).values():
        assert "(FICTIF)" in f[3] and "(fictif)" in f[4]
    named = [f[18] for f in good_lines(regional_demo.annuaire[-1]) if f[18]]
    assert named and all("(FICTIF)" in name for name in named)


# --------------------------------------------------------------------------- FINESS format


def test_finess_metadata_line_encoding_and_sections(regional_demo):
    raw = regional_demo.finess.read_bytes()
    assert regional_demo.finess.name == "etalab-cs1100507-stock-20261015-0412.csv"
    assert raw.split(b"\n", 1)[0] == b"finess;etalab;112;2026-10-15"
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accents are single cp1252 bytes
    text = raw.decode("cp1252")
    assert "É" in text and "Ô" in text  # ÉCUREUILS, CHÂTEAU... encoded in cp1252
    sections = [line.split(";", 1)[0] for line in text.split("\n")[1:] if line]
    first_geo = sections.index("geolocalisation")
    assert set(sections[:first_geo]) == {"structureet"}
    assert set(sections[first_geo:]) == {"geolocalisation"} and len(sections) - first_geo >= 20


def test_every_metropolitan_department_has_a_centre_inside_its_territory():
    metropolitan = {code for code in load_departments() if len(code) == 2}
    assert set(DEPARTMENT_CENTRES) == metropolitan
    assert all(box_of_department(d).holds(*DEPARTMENT_CENTRES[d]) for d in metropolitan)


def test_finess_geolocalisation_lines_place_each_establishment_near_its_prefecture(
    regional_demo,
):
    with open(regional_demo.finess, "rb") as fh:
        read = list(read_finess(fh, None))
    rows = {r.finess_et: r for r in read if isinstance(r, EstablishmentRow)}
    points = [r for r in read if isinstance(r, EstablishmentPoint)]
    assert len(points) == len(rows) > 3000  # the region has no overseas department
    for p in points:
        lat, lon = DEPARTMENT_CENTRES[rows[p.finess_et].department]
        assert abs(p.latitude - lat) <= 0.16 and abs(p.longitude - lon) <= 0.22


def test_finess_structureet_lines_follow_the_etalab_layout(regional_demo):
    text = regional_demo.finess.read_bytes().decode("cp1252")
    raw_lines = [line for line in text.split("\n") if line.startswith("structureet;")]
    assert all(line.endswith(";") for line in raw_lines)  # numuai empty
    quoted = [line for line in raw_lines if '""' in line]
    assert len(quoted) == 2 and all(re.search(r';"[^;]*""[^;]*""[^;]*";', q) for q in quoted)
    assert sum('" ; ' in line or "; ANTENNE" in line for line in raw_lines) == 2
    rows = establishments(regional_demo.finess)
    assert 2_500 <= len(rows) <= 4_000
    assert all(len(f) == 32 and f[31] == "" for f in rows.values())
    assert {f[13] for f in rows.values()} == ARA
    for f in rows.values():
        postcode = f[15].split(" ", 1)[0]
        assert department_from_postcode(postcode) == f[13] and f[14].isupper()
        assert re.fullmatch(r"\d{3}", f[12])
    assert sum(not luhn.is_valid(n) for n in rows) == WRONG_KEY_FINESS
    dmy = [f for f in rows.values() if re.fullmatch(r"\d\d/\d\d/\d{4}", f[28])]
    iso = [f for f in rows.values() if re.fullmatch(r"\d{4}-\d\d-\d\d", f[28])]
    assert 3 <= len(dmy) < 30 and len(iso) + len(dmy) == len(rows)


def test_finess_categories_have_plausible_relative_counts(regional_demo):
    rows = establishments(regional_demo.finess).values()
    cats = Counter(f[18] for f in rows)
    assert set(cats) >= MEDICO_SOCIAL  # every médico-social category
    assert {"620", "355", "101", "223"} <= set(cats)  # and the partners
    esms = {c: n for c, n in cats.items() if c in MEDICO_SOCIAL}
    assert max(esms, key=esms.get) == "500"  # EHPAD the most numerous
    assert cats["606"] == len(ARA)  # one DAC per department
    ej_sizes = Counter(f[2] for f in rows)
    assert max(ej_sizes.values()) >= 3 and len(ej_sizes) < len(rows)


def test_finess_json_variant_describes_one_department(regional_demo):
    doc = json.loads(regional_demo.finess_json.read_text(encoding="utf-8"))
    assert {"gcc", "gco", "pmej"} <= set(doc)
    eges = [e for p in doc["pmej"] for e in p["ege"]]
    numbers = {e["informationsGeneralesEGE"]["numFinessEge"] for e in eges}
    csv_rows = establishments(regional_demo.finess)
    active = [e for e in eges if e["etatObjet"] == "A"]
    assert len(active) == len(eges) - 1  # one closed establishment
    assert {csv_rows[e["informationsGeneralesEGE"]["numFinessEge"]][13] for e in active} == {"15"}
    assert len(numbers - set(csv_rows)) == 1


# --------------------------------------------------------------------------- adoption and time


def test_adoption_differs_by_department_and_by_category(regional_demo):
    by_dep, by_cat = adoption(regional_demo, -1)
    assert set(by_dep) == ARA
    assert max(by_dep.values()) - min(by_dep.values()) > 0.25
    assert by_cat["500"] - by_cat["460"] > 0.3  # EHPAD far ahead of SAA


def test_snapshots_grow_with_creations_removals_and_changes(regional_demo):
    shares = [sum(adoption(regional_demo, s)[0].values()) for s in range(4)]
    assert shares == sorted(shares) and shares[-1] > shares[0] * 1.1
    previous = None
    for path in regional_demo.annuaire:
        lines = {f[1].lower(): "|".join(f) for f in good_lines(path)}
        if previous is not None:
            created = lines.keys() - previous.keys()
            removed = previous.keys() - lines.keys()
            changed = [a for a in lines.keys() & previous.keys() if lines[a] != previous[a]]
            assert len(created) > 500 and 10 < len(removed) < len(created)
            assert len(changed) > 10
        previous = lines


# --------------------------------------------------------------------------- national mode


@pytest.fixture(scope="module")
def national_demo(tmp_path_factory):
    """The national demo at 1 % of its volumes."""
    return write_demo(tmp_path_factory.mktemp("national"), national=True, scale=0.01)


def test_national_mode_scaled_down(national_demo):
    files = national_demo
    assert files.finess_json.name == "finess-structures-journalier-20261015.json.gz"
    assert len(files.annuaire) == 1
    assert files.annuaire[0].name == "Extraction_Correspondance_MSSante_202611010312.txt"
    lines = good_lines(files.annuaire[0])
    assert 4_800 < len(lines) < 5_900  # 536k * 0.01
    departments = {department_from_postcode(f[28]) for f in lines}
    assert len(departments) > 95 and {"2A", "2B", "974", "976"} <= departments
    rows = establishments(files.finess)
    assert 1_050 < len(rows) < 1_150  # 103k * 0.01, plus one DAC per department
    assert {"9A", "9D", "2A"} <= {f[13] for f in rows.values()}
    ids = linked_ids(files.annuaire[0])
    esms = [f for f in rows.values() if f[18] in MEDICO_SOCIAL]
    assert sum(f[1] in ids or f[2] in ids for f in esms) > 0.25 * len(esms)
    # The readers take every department, overseas and Corsica included.
    with open(files.annuaire[0], "rb") as fh:
        rows = list(read_extract(fh, None))
    assert sum(isinstance(r, Rejected) for r in rows) == BAD_LINES_PER_EXTRACT
    with open(files.finess, "rb") as fh:
        establishments_read = list(read_finess(fh, None))
    assert not [r for r in establishments_read if isinstance(r, Rejected)]
    kept = [r for r in establishments_read if isinstance(r, EstablishmentRow)]
    assert sum(not r.luhn_ok for r in kept) == WRONG_KEY_FINESS
    # Every metropolitan establishment is placed (in its territory); overseas ones are not.
    placed = {r.finess_et for r in establishments_read if isinstance(r, EstablishmentPoint)}
    assert placed == {r.finess_et for r in kept if len(r.department) == 2}
    assert {"971", "977", "978", "986"} <= {
        r.department for r in rows if not isinstance(r, Rejected)
    }


# What both formats say of an establishment (dates and labels come from different sources: the
# CSV's libcategetab, TRE-R397's label; the CSV's dateouv, the flow's dateOuverture).
SHARED = ("finess_ej", "name", "long_name", "address", "postcode", "city", "department",
          "category_code", "siret", "luhn_ok")  # fmt: skip


def test_national_flow_says_what_the_csv_says(national_demo):
    """The FiNESS+ flow of the national demo describes the CSV's establishments the same way,
    plus what only it carries (inactive ones apart, legal entities, groupings, points)."""
    stats = ReadStats()
    with open(national_demo.finess, "rb") as fh:
        read = read_finess(fh, None)
        csv_rows = {r.finess_et: r for r in read if isinstance(r, EstablishmentRow)}
    with open(national_demo.finess_json, "rb") as fh:
        chunks = list(read_finess_chunks(fh, None, stats))
    json_rows = [r for r in flatten(chunks, EstablishmentRow) if not isinstance(r, Rejected)]
    assert {r.finess_et for r in json_rows} == csv_rows.keys()
    for row in json_rows:
        csv_row = csv_rows[row.finess_et]
        assert [getattr(row, f) for f in SHARED] == [getattr(csv_row, f) for f in SHARED]
        if row.department not in ("977", "978"):  # FINESS keeps their former Guadeloupe codes
            assert row.commune_code == csv_row.commune_code
    inactive = [i for c in chunks for i in c.inactive]
    assert 0.6 < len(inactive) / len(json_rows) < 0.75  # 69,809 / 104,699 in July 2026
    assert not {i[0] for i in inactive} & csv_rows.keys()
    assert sum(len(c.legal_entities) for c in chunks) > len({r.finess_ej for r in json_rows})
    assert sum(len(c.groups) for c in chunks) > 10
    located = [r for r in json_rows if r.latitude is not None]
    assert 0.5 < len(located) / len(json_rows) < 0.8  # a third of addresses have no point
    assert any(n.startswith("Coordonnées inversées puis corrigées") for n in stats.notes)


# --------------------------------------------------------------------------- changed copy


def test_changed_copy_removes_adds_and_modifies_a_fraction(regional_demo, tmp_path):
    src = regional_demo.annuaire[-1]
    dst = changed_copy(src, tmp_path, fraction=0.03)
    assert dst.name == "Extraction_Correspondance_MSSante_202611020312.txt"
    assert dst.read_bytes().split(b"\n", 1)[0] == src.read_bytes().split(b"\n", 1)[0]
    before = {f[1]: f for f in good_lines(src)}
    after = {f[1]: f for f in good_lines(dst)}
    n = round(len(good_lines(src)) * 0.03)
    removed, added = before.keys() - after.keys(), after.keys() - before.keys()
    modified = [a for a in before.keys() & after.keys() if before[a] != after[a]]
    # A third each (give or take the few addresses that appear twice in the source).
    assert len(added) == n - 2 * (n // 3)
    assert n // 3 - 3 <= len(removed) <= n // 3 and n // 3 - 3 <= len(modified) <= n // 3
    assert sum(f[0] == "XYZ" for f in directory_lines(dst)) == 2  # bad lines kept
    explicit = changed_copy(src, tmp_path / "x" / "copy_2027.txt", fraction=0.03)
    assert explicit.read_bytes() == dst.read_bytes()


# --------------------------------------------------------------------------- the project's readers


def test_directory_reader_rejects_exactly_the_injected_lines(regional_demo):
    for path in regional_demo.annuaire:
        stats = ReadStats()
        with open(path, "rb") as fh:
            rows = list(read_extract(fh, sorted(ARA), stats))
        rejected = Counter(r.reason for r in rows if isinstance(r, Rejected))
        assert rejected == {REASON_FIELDS: 2, REASON_TYPE: 2, REASON_ADDRESS: 2}
        assert sum(rejected.values()) == BAD_LINES_PER_EXTRACT
        assert stats.out_of_scope == 0 and stats.lines == len(rows)
        kept = [r for r in rows if not isinstance(r, Rejected)]
        assert Counter(r.department for r in kept).keys() == ARA


def test_finess_reader_accepts_both_variants(regional_demo):
    stats = ReadStats()
    with open(regional_demo.finess, "rb") as fh:
        read = list(read_finess(fh, sorted(ARA), stats))
    assert not [r for r in read if isinstance(r, Rejected)]
    rows = [r for r in read if isinstance(r, EstablishmentRow)]
    assert len(rows) == len(establishments(regional_demo.finess))
    assert stats.encoding == "cp1252" and stats.generated_at.date().isoformat() == "2026-10-15"
    assert sum(not r.luhn_ok for r in rows) == WRONG_KEY_FINESS
    assert sum(r.opened_on is not None for r in rows) == len(rows)  # both date forms parsed
    by_number = {r.finess_et: r for r in rows}
    json_stats = ReadStats()
    with open(regional_demo.finess_json, "rb") as fh:
        json_rows = list(read_finess(fh, sorted(ARA), json_stats))
    assert json_rows and not [r for r in json_rows if isinstance(r, Rejected)]
    for r in json_rows:
        assert by_number[r.finess_et].category_code == r.category_code
        assert r.department == "15" and r.finess_ej == by_number[r.finess_et].finess_ej


# --------------------------------------------------------------------------- into the store

EQUIPPED_BY_CATEGORY = text(
    "SELECT e.category_code, COUNT(*) AS n, SUM(CASE WHEN EXISTS (SELECT 1 FROM mailboxes m "
    "WHERE m.valid_to IS NULL AND ((m.link_kind = 'ET' AND m.structure_id = e.finess_et) "
    "OR (m.link_kind = 'EJ' AND m.structure_id = e.finess_ej))) THEN 1 ELSE 0 END) AS equipped "
    "FROM establishments e GROUP BY e.category_code"
)


def test_demo_files_ingest_and_link_like_the_plain_python_count(empty_db, tmp_path):
    """Ingested with the project's own job (SQLite and PostgreSQL), the demo files link to
    FINESS through ET and EJ numbers, and the equipped counts equal those computed from the
    files with plain Python."""
    files = write_demo(tmp_path, scale=0.15)
    jobs.ingest(empty_db, "finess", str(files.finess), tuple(sorted(ARA)), is_demo=True)
    reports = [
        jobs.ingest(empty_db, "annuaire", str(p), tuple(sorted(ARA)), is_demo=True)
        for p in files.annuaire
    ]
    assert [r.rejects.total for r in reports] == [BAD_LINES_PER_EXTRACT] * 4
    assert all(r.duplicates >= 1 for r in reports)
    assert all(r.created > 0 and r.removed > 0 and r.changed > 0 for r in reports[1:])
    with empty_db.connect() as conn:
        kinds = dict(conn.execute(text(
            "SELECT link_kind, COUNT(*) FROM mailboxes WHERE valid_to IS NULL "
            "AND link_kind IS NOT NULL GROUP BY link_kind"
        )).all())  # fmt: skip
        stored = {c: (n, eq) for c, n, eq in conn.execute(EQUIPPED_BY_CATEGORY).all()}
    assert kinds["ET"] > 10 * kinds["EJ"] > 0
    by_file = Counter()
    ids = linked_ids(files.annuaire[-1])
    for et, f in establishments(files.finess).items():
        by_file[f[18]] += et in ids or f[2] in ids
    assert {c: eq for c, (n, eq) in stored.items()} == dict(by_file) | {
        c: 0 for c in stored if c not in by_file
    }
    assert stored["500"][1] / stored["500"][0] > stored["460"][1] / stored["460"][0] + 0.2
