"""Directory and FINESS ingest into the store: snapshots, diffs, links, refusals, locking.

Every test runs on SQLite and on PostgreSQL (``empty_db``)."""

from __future__ import annotations

import threading
import zipfile

import pytest
from sqlalchemy import Engine, select, text

from balise.db import write_transaction
from balise.errors import IngestBusyError, SourceError
from balise.models import Establishment, Mailbox, Snapshot
from balise.services.links import is_equipped
from ingest import jobs
from tests.support.extracts import (
    directory_line,
    finess_line,
    luhn_complete,
    write_directory,
    write_finess,
)
from tests.support.store_dump import rows_by_table

A, B, C, D, E = (luhn_complete(f"38000{i:03d}") for i in range(1, 6))
EJ_X, EJ_Y, EJ_Z, EJ_W = (luhn_complete(f"38900{i:03d}") for i in range(1, 5))
E = luhn_complete("01000001")
ARA = ("01", "38")
NAME_1 = "Extraction_Correspondance_MSSante_202610010312.txt"
NAME_2 = "Extraction_Correspondance_MSSante_202611010312.txt"


def finess_file(tmp_path):
    return write_finess(
        tmp_path / "etalab-cs1100502-stock-20261101-0400.csv",
        [
            finess_line(A, EJ_X, "500"),
            finess_line(B, EJ_X, "354"),
            finess_line(C, EJ_Y, "460"),
            finess_line(D, EJ_Z, "620"),
            finess_line(E, EJ_W, "500", department="01", postcode="01000"),
        ],
    )


def first_extract(tmp_path):
    return write_directory(
        tmp_path / NAME_1,
        [
            directory_line("ORG", "secretariat@ehpad-a.mssante.fr", "1" + A, service="Soins"),
            directory_line("APP", "dpi@saa-c.mssante.fr", EJ_Y),
            directory_line(
                "PER",
                "jean.fictif@medecin.mssante.fr",
                "312345678900014",
                "38100",
                structure_type="3",
            ),
            directory_line("ORG", "SECRETARIAT@ehpad-a.mssante.fr", "1" + A),  # duplicate
            "ORG|trop@peu.mssante.fr|de|colonnes",  # bad row, line 6
            directory_line("XYZ", "inconnu@x.mssante.fr", A),  # unknown type, line 7
            directory_line("CAB", "cabinet@cab.mssante.fr", "", "01000", "01"),
            directory_line("ORG", "accueil@ehpad-e.mssante.fr", E, "01000"),
        ],
    )


def second_extract(tmp_path):
    return write_directory(
        tmp_path / NAME_2,
        [
            directory_line("ORG", "secretariat@ehpad-a.mssante.fr", "1" + A, service="Accueil"),
            directory_line("PER", "jean.fictif@medecin.mssante.fr", "312345678900014", "38100", structure_type="3"),
            directory_line("ORG", "infirmiers@ssiad-b.mssante.fr", B),
            directory_line("CAB", "cabinet@cab.mssante.fr", "", "01000", "01"),
            directory_line("ORG", "accueil@ehpad-e.mssante.fr", E, "01000"),
        ],
    )  # fmt: skip


@pytest.fixture
def db_with_two_snapshots(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    first = jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    second = jobs.ingest(empty_db, "annuaire", str(second_extract(tmp_path)), ARA)
    return empty_db, first, second


def equipped(engine: Engine, snapshot_id: int | None = None) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Establishment.finess_et).where(is_equipped(snapshot_id)))
        return {r[0] for r in rows}


def test_first_directory_ingest_counts_links_and_rejects(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    report = jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    assert (report.lines, report.kept, report.duplicates) == (8, 5, 1)
    assert dict(report.rejects.reasons) == {
        "nombre de colonnes incorrect": 1,
        "type de BAL inconnu": 1,
    }
    assert sorted(report.rejects.examples) == [
        (6, "nombre de colonnes incorrect"),
        (7, "type de BAL inconnu"),
    ]
    assert (report.created, report.removed, report.changed) == (5, 0, 0)
    with empty_db.connect() as conn:
        links = dict(conn.execute(select(Mailbox.address, Mailbox.link_kind)).all())
        snap = conn.execute(select(Snapshot).where(Snapshot.id == report.snapshot_id)).one()
    assert links["secretariat@ehpad-a.mssante.fr"] == "ET"  # "1" + FINESS prefix stripped
    assert links["dpi@saa-c.mssante.fr"] == "EJ"
    assert links["jean.fictif@medecin.mssante.fr"] is None
    assert equipped(empty_db) == {A, C, E}  # C through its legal entity
    assert snap.generated_at.isoformat() == "2026-10-01T03:12:00"
    assert (snap.rows_read, snap.rows_kept, snap.rows_rejected, snap.duplicates) == (8, 5, 2, 1)


def test_second_snapshot_diffs_and_keeps_history(db_with_two_snapshots):
    engine, first, second = db_with_two_snapshots
    assert (second.created, second.removed, second.changed) == (1, 1, 1)
    assert equipped(engine) == {A, B, E}
    assert equipped(engine, first.snapshot_id) == {A, C, E}
    with engine.connect() as conn:
        versions = conn.execute(
            select(Mailbox.service, Mailbox.first_seen, Mailbox.valid_from, Mailbox.valid_to)
            .where(Mailbox.address == "secretariat@ehpad-a.mssante.fr")
            .order_by(Mailbox.valid_from)
        ).all()
    s1, s2 = first.snapshot_id, second.snapshot_id
    assert [tuple(v) for v in versions] == [("Soins", s1, s1, s2), ("Accueil", s1, s2, None)]


def test_dematerialisation_is_stored_and_its_change_makes_a_new_version(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    address = "marie.fictive@medecin.mssante.fr"
    for name, flag in ((NAME_1, "O"), (NAME_2, "n")):
        line = directory_line("PER", address, A, dematerialisation=flag)
        jobs.ingest(empty_db, "annuaire", str(write_directory(tmp_path / name, [line])), ARA)
    with empty_db.connect() as conn:
        versions = conn.execute(
            select(Mailbox.dematerialisation, Mailbox.valid_to.is_(None)).order_by(Mailbox.id)
        ).all()
    assert [tuple(v) for v in versions] == [("O", False), ("N", True)]


def test_adoption_is_frozen_per_snapshot(db_with_two_snapshots):
    engine, first, second = db_with_two_snapshots
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT snapshot_id, department, category_code, structures, equipped, "
                "mailboxes_org, mailboxes_app FROM adoption_stats ORDER BY 1, 2, 3"
            )
        ).all()
    s1, s2 = first.snapshot_id, second.snapshot_id
    assert [tuple(r) for r in rows] == [
        (s1, "01", "500", 1, 1, 1, 0),
        (s1, "38", "354", 1, 0, 0, 0),
        (s1, "38", "460", 1, 1, 0, 1),
        (s1, "38", "500", 1, 1, 1, 0),
        (s2, "01", "500", 1, 1, 1, 0),
        (s2, "38", "354", 1, 1, 1, 0),
        (s2, "38", "460", 1, 0, 0, 0),
        (s2, "38", "500", 1, 1, 1, 0),
    ]  # the pharmacy (620) is a partner, not an ESMS: never counted


def test_same_file_again_is_recognised_and_costs_nothing(db_with_two_snapshots, tmp_path):
    engine, _, second = db_with_two_snapshots
    before = rows_by_table(engine)
    again = jobs.ingest(engine, "annuaire", str(tmp_path / NAME_2), ARA)
    assert again.already_ingested and again.snapshot_id == second.snapshot_id
    assert rows_by_table(engine) == before


def test_selection_only_touches_selected_departments(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    only_38 = write_directory(
        tmp_path / "Extraction_Correspondance_MSSante_202612010312.txt",
        [directory_line("ORG", "secretariat@ehpad-a.mssante.fr", "1" + A, service="Soins")],
    )
    report = jobs.ingest(empty_db, "annuaire", str(only_38), ("38",))
    assert report.removed == 2  # the SAA's APP and the doctor; department 01 is untouched
    assert equipped(empty_db) == {A, E}


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_from_the_ans_web_service_is_read(empty_db, tmp_path):
    txt = first_extract(tmp_path)
    archive = _zip(tmp_path / "Extraction.zip", {NAME_1: txt.read_bytes()})
    report = jobs.ingest(empty_db, "annuaire", str(archive), ARA)
    assert report.file_name == NAME_1 and report.kept == 5


def _truncated_zip(tmp_path):
    txt = first_extract(tmp_path)
    whole = _zip(tmp_path / "whole.zip", {NAME_1: txt.read_bytes() * 50}).read_bytes()
    (tmp_path / "truncated.zip").write_bytes(whole[: len(whole) // 2])
    return tmp_path / "truncated.zip"


def _bytes(name: str, data: bytes):
    def make(folder):
        (folder / name).write_bytes(data)
        return folder / name

    return make


@pytest.mark.parametrize(
    "kind, make_source, message",
    [
        ("annuaire", _bytes("vide.txt", b""), "Le fichier est vide"),
        ("annuaire", _bytes("img.txt", b"\x89PNG\x00\x01" * 50), "binaire"),
        (
            "annuaire",
            _bytes("cols.txt", b"Type de BAL|Adresse BAL|Code postal\nORG|a@b.mssante.fr|38000\n"),
            "colonnes manquantes : Type identifiant structure, Identification Structure, Département",
        ),
        ("annuaire", _truncated_zip, "L'archive ZIP est tronquée ou illisible"),
        (
            "annuaire",
            lambda p: write_directory(p / "no-rows.txt", []),
            "ne contient aucune ligne de données",
        ),
        ("annuaire", lambda p: p / "absent.txt", "Fichier introuvable"),
        (
            "finess",
            _bytes("vide.csv", b""),
            "Le fichier est vide : ce n'est pas un fichier FINESS.",
        ),
        ("finess", _bytes("annuaire.csv", b"Type de BAL|Adresse BAL\n"), "FINESS"),
        (
            "finess",
            _bytes("guillemets.csv", b'finess;etalab;1;2026-11-01\nstructureet;"ouvert\n'),
            r"Aucune ligne valide dans le fichier FINESS \(1 ligne rejetée\)",
        ),
        ("finess", _bytes("flux.json", b'{"gcc": {}}'), "la liste « pmej » est absente"),
    ],
    ids=[
        "annuaire-empty",
        "annuaire-binary",
        "annuaire-wrong-columns",
        "annuaire-truncated-zip",
        "annuaire-header-only",
        "annuaire-missing",
        "finess-empty",
        "finess-not-finess",
        "finess-unclosed-quote",
        "finess-json-without-pmej",
    ],  # fmt: skip
)
def test_refused_source_leaves_the_store_exactly_as_it_was(
    db_with_two_snapshots, tmp_path, kind, make_source, message
):
    engine = db_with_two_snapshots[0]
    bad = tmp_path / "bad"
    bad.mkdir()
    before = rows_by_table(engine)
    with pytest.raises(SourceError, match=message):
        jobs.ingest(engine, kind, str(make_source(bad)), ARA)
    assert rows_by_table(engine) == before


def test_a_file_with_only_bad_rows_is_refused(db_with_two_snapshots, tmp_path):
    engine = db_with_two_snapshots[0]
    before = rows_by_table(engine)
    bad = write_directory(tmp_path / "bad.txt", ["ORG|x|y", "XYZ|" + "|" * 29])
    with pytest.raises(SourceError, match=r"Aucune ligne valide .* \(2 lignes rejetées\)"):
        jobs.ingest(engine, "annuaire", str(bad), ARA)
    assert rows_by_table(engine) == before


def test_second_ingest_refuses_while_first_runs_and_readers_see_previous(
    db_with_two_snapshots, tmp_path
):
    engine, _, second = db_with_two_snapshots
    holding, release = threading.Event(), threading.Event()

    def long_ingest():
        with write_transaction(engine, "ingest") as conn:
            conn.execute(text("UPDATE mailboxes SET valid_to = :s"), {"s": second.snapshot_id})
            holding.set()
            release.wait(10)
            raise RuntimeError("the long ingest fails and rolls back")

    t = threading.Thread(target=lambda: pytest.raises(RuntimeError, long_ingest))
    t.start()
    try:
        assert holding.wait(10)
        assert equipped(engine) == {A, B, E}  # readers still see the committed snapshot
        other = write_directory(
            tmp_path / "other.txt", [directory_line("ORG", "n@x.mssante.fr", A)]
        )
        with pytest.raises(IngestBusyError, match="Une importation est en cours"):
            jobs.ingest(engine, "annuaire", str(other), ARA, lock_wait_s=0.3)
    finally:
        release.set()
        t.join()
    assert equipped(engine) == {A, B, E}


def test_progress_reports_every_byte_read(empty_db, tmp_path):
    seen = []
    extract = first_extract(tmp_path)
    jobs.ingest(empty_db, "annuaire", str(extract), ARA, progress=seen.append)
    assert sum(seen) == extract.stat().st_size


def _links(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Mailbox.address, Mailbox.link_kind).where(Mailbox.valid_to.is_(None))
        )
        return dict(rows.all())


def test_finess_after_the_directory_relinks_each_kind_that_changes(empty_db, tmp_path):
    """Directory first (nothing to link to), then FINESS: NULL becomes ET or EJ; a later FINESS
    file turns an EJ into an ET (ET first) and another into nothing, and leaves the rest."""
    extract = write_directory(
        tmp_path / NAME_1,
        [
            directory_line("ORG", "secretariat@ehpad-a.mssante.fr", "1" + A),
            directory_line("APP", "dpi@saa-c.mssante.fr", EJ_Y),
            directory_line("ORG", "siege@z.mssante.fr", EJ_Z),
            directory_line("PER", "jean.fictif@medecin.mssante.fr", "312345678900014", structure_type="3"),
            directory_line("CAB", "cabinet@cab.mssante.fr", "", "01000", "01"),
        ],
    )  # fmt: skip
    jobs.ingest(empty_db, "annuaire", str(extract), ARA)
    assert set(_links(empty_db).values()) == {None}
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    assert _links(empty_db) == {
        "secretariat@ehpad-a.mssante.fr": "ET",
        "dpi@saa-c.mssante.fr": "EJ",
        "siege@z.mssante.fr": "EJ",
        "jean.fictif@medecin.mssante.fr": None,
        "cabinet@cab.mssante.fr": None,
    }
    later = write_finess(
        tmp_path / "etalab-cs1100502-stock-20261201-0400.csv",
        [
            finess_line(A, EJ_X, "500"),
            finess_line(B, EJ_X, "354"),
            finess_line(C, EJ_W, "460"),  # EJ_Y is nobody's legal entity any more...
            finess_line(D, EJ_W, "620"),  # ... nor EJ_Z
            finess_line(E, EJ_W, "500", department="01", postcode="01000"),
            finess_line(EJ_Y, EJ_W, "500"),  # ... but EJ_Y is now an establishment's number
        ],
        date="2026-12-01",
    )
    jobs.ingest(empty_db, "finess", str(later), ARA)
    assert _links(empty_db) == {
        "secretariat@ehpad-a.mssante.fr": "ET",
        "dpi@saa-c.mssante.fr": "ET",
        "siege@z.mssante.fr": None,
        "jean.fictif@medecin.mssante.fr": None,
        "cabinet@cab.mssante.fr": None,
    }


def _points(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Establishment.finess_et, Establishment.latitude, Establishment.longitude)
        )
        return {
            n: (round(lat, 4), round(lon, 4)) if lat is not None else None for n, lat, lon in rows
        }


def _geoloc(number: str, x: float, y: float) -> str:
    return f"geolocalisation;{number};{x};{y};1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93;2026-05-04"


def test_csv_points_go_in_with_the_establishments_and_a_missing_one_keeps_the_earlier(
    empty_db, tmp_path
):
    """The first import inserts establishments and points together; a later file replaces the
    points it gives and keeps the stored point of an establishment it gives none for."""
    lines = [finess_line(A, EJ_X, "500"), finess_line(B, EJ_X, "354"), finess_line(C, EJ_Y, "460")]
    first = write_finess(
        tmp_path / "etalab-cs1100502-stock-20261101-0400.csv",
        [*lines, _geoloc(A, 913000.0, 6458000.0), _geoloc(B, 915000.0, 6460000.0)],
    )
    jobs.ingest(empty_db, "finess", str(first), ARA)
    placed = _points(empty_db)
    assert placed[A] == (45.1884, 5.7127) and placed[B] == (45.2058, 5.7391)  # Grenoble
    assert placed[C] is None
    later = write_finess(
        tmp_path / "etalab-cs1100502-stock-20261201-0400.csv",
        [*lines, _geoloc(B, 900000.0, 6450000.0), _geoloc(C, 880000.0, 6480000.0)],
        date="2026-12-01",
    )
    jobs.ingest(empty_db, "finess", str(later), ARA)
    assert _points(empty_db) == {
        A: placed[A],  # no point in this file: the earlier one stays
        B: (45.1203, 5.544),
        C: (45.3958, 5.3009),
    }


def test_a_national_finess_reimport_replaces_every_establishment(empty_db, tmp_path):
    """Without a selection the file replaces the whole table (SQLite empties it at once): what it
    no longer gives is removed, what it gives again takes the new values, the rest is created."""
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), None)
    later = write_finess(
        tmp_path / "etalab-cs1100502-stock-20261201-0400.csv",
        [
            finess_line(A, EJ_X, "500", name="NOUVEAU NOM"),
            finess_line(B, EJ_X, "354"),
            finess_line(E, EJ_W, "500", department="01", postcode="01000"),
            finess_line(EJ_Y, EJ_W, "500"),
        ],
    )
    report = jobs.ingest(empty_db, "finess", str(later), None)
    assert (report.created, report.removed) == (1, 2)
    with empty_db.connect() as conn:
        rows = dict(conn.execute(select(Establishment.finess_et, Establishment.name)).all())
        snapshots = set(conn.scalars(select(Establishment.snapshot_id)))
    assert rows == {A: "NOUVEAU NOM", B: "STRUCTURE FICTIVE", E: "STRUCTURE FICTIVE",
                    EJ_Y: "STRUCTURE FICTIVE"}  # fmt: skip
    assert snapshots == {report.snapshot_id}
