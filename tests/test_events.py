"""Events and attendance on the small adoption dataset, SQLite and PostgreSQL: CRUD, import
with exact, fuzzy and unmatched lines (csv and xlsx), the review step, attending vs not over
time, the pack's « Événements » sheet, permissions."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select

from balise.errors import PermissionDenied, SourceError, ValidationError
from balise.models import AuditEntry
from balise.referentials.attendance_sheet import normalise_name, read_attendance
from balise.services import animators, events, pack
from balise.services.access import SYSTEM, Actor
from tests.support.adoption_seed import seed_small_adoption
from tests.support.store_dump import all_text

ISERE = Actor("animateur.isere", "animator", ("38",))
MIDI = events.EventInput("Midis du collectif #7", date(2026, 10, 20), "La MSS", ("38", "69"),
                         "https://replay.example.org/midi-7")  # fmt: skip
SHEET_CSV = (
    "Nom;Prénom;E-mail;N° FINESS;Structure;Ville\n"
    "Durand;Jeanne;jeanne.durand@example.org;380000001;Tilleuls;Grenoble\n"  # FINESS
    "Petit;Luc;luc.petit@example.org;;Ssiad du Gresivaudan;CROLLES\n"  # same name, same commune
    "Roux;Ana;ana.roux@example.org;;Ehpad Bellecourt;Lyon 3e\n"  # typo, same commune
    "Faure;Léo;leo.faure@example.org;;IME Cèdres;\n"  # no commune: near-identical name
    "Blanc;Zoé;zoe.blanc@example.org;;Mairie de Voiron;Voiron\n"  # not an ESMS
    "Noir;Théo;theo.noir@example.org;;EHPAD Montmartre;Paris\n"  # outside the event's departments
    ";;;;;\n"
).encode()


@pytest.fixture
def small_db(empty_db) -> Engine:
    seed_small_adoption(empty_db)
    return empty_db


def imported(engine: Engine) -> tuple[int, events.ImportReport]:
    event_id = events.create_event(engine, SYSTEM, MIDI)
    return event_id, events.import_attendance(engine, SYSTEM, event_id, SHEET_CSV, "midi7.csv")


def test_reader_keeps_only_structure_columns():
    rows = read_attendance(SHEET_CSV, "midi7.csv")
    assert [(r.line, r.finess, r.name, r.commune) for r in rows][:2] == [
        (2, "380000001", "Tilleuls", "Grenoble"),
        (3, "", "Ssiad du Gresivaudan", "CROLLES"),
    ]
    assert len(rows) == 6  # the empty line is skipped
    assert normalise_name("Résidence St-Joseph de l'Étang") == "residence saint joseph etang"
    with pytest.raises(SourceError, match="au moins une colonne « FINESS » ou « Structure »"):
        read_attendance(b"Nom;Email\nA;b@example.org\n", "x.csv")
    with pytest.raises(SourceError, match="ni un fichier csv lisible"):
        read_attendance(b"not a workbook", "x.xlsx")


def test_import_matches_exact_fuzzy_and_unmatched(small_db):
    event_id, report = imported(small_db)
    assert (report.exact, report.fuzzy, report.unmatched) == (2, 2, 2)
    assert (
        report.summary()
        == "6 ligne(s) importée(s) : 2 reconnue(s), 2 à vérifier, 2 non reconnue(s)."
    )
    lines = events.attendance(small_db, SYSTEM, event_id)
    finess = [f if isinstance(f, str) else None for f in lines["finess_et"]]  # NaN -> None
    got = list(zip(lines["raw_name"], lines["match_kind"], finess, strict=True))
    assert got == [
        ("Tilleuls", "exact", "380000001"),
        ("Ssiad du Gresivaudan", "exact", "380000002"),
        ("Ehpad Bellecourt", "fuzzy", "690000002"),
        ("IME Cèdres", "fuzzy", "690000001"),
        ("Mairie de Voiron", "none", None),
        ("EHPAD Montmartre", "none", None),
    ]
    assert 0.9 < lines.loc[2, "score"] < 1.0
    # Participants' own names and e-mail addresses never reach the store.
    stored = all_text(small_db)
    assert "jeanne" not in stored.lower() and "@example.org" not in stored


def test_xlsx_sheet_with_a_numeric_finess_cell(small_db):
    book = Workbook()
    book.active.append(["Établissement", "FINESS ET", "Commune"])
    book.active.append(["IME", 690000001, "Lyon"])
    book.active.append(["EHPAD Les Tilleuls", None, "Grenoble"])
    buffer = io.BytesIO()
    book.save(buffer)
    event_id = events.create_event(small_db, SYSTEM, MIDI)
    report = events.import_attendance(small_db, SYSTEM, event_id, buffer.getvalue(), "p.xlsx")
    assert (report.exact, report.fuzzy, report.unmatched) == (2, 0, 0)
    # Importing again replaces the list instead of doubling it.
    events.import_attendance(small_db, SYSTEM, event_id, buffer.getvalue(), "p.xlsx")
    assert len(events.attendance(small_db, SYSTEM, event_id)) == 2


def test_review_confirms_rejects_and_assigns(small_db):
    event_id, _ = imported(small_db)
    lines = events.attendance(small_db, SYSTEM, event_id).set_index("raw_name")
    listed = events.list_events(small_db, SYSTEM, ["38"])
    assert listed.loc[0, ["lines", "structures", "to_review"]].tolist() == [6, 2, 2]
    events.review(small_db, SYSTEM, int(lines.loc["Ehpad Bellecourt", "id"]), accept=True)
    events.review(small_db, SYSTEM, int(lines.loc["IME Cèdres", "id"]), accept=False)
    voiron = int(lines.loc["Mairie de Voiron", "id"])
    with pytest.raises(ValidationError, match="Le FINESS 389999999 n'existe pas"):
        events.review(small_db, SYSTEM, voiron, accept=True, finess="389999999")
    events.review(small_db, SYSTEM, voiron, accept=True, finess="380000003")
    after = events.attendance(small_db, SYSTEM, event_id).set_index("raw_name")
    assert after.loc["Ehpad Bellecourt", ["match_kind", "reviewed", "finess_et"]].tolist() == [
        "fuzzy",
        True,
        "690000002",
    ]
    assert after.loc["IME Cèdres", "match_kind"] == "none"
    assert pd.isna(after.loc["IME Cèdres", "finess_et"])
    assert after.loc["Mairie de Voiron", ["match_kind", "finess_et"]].tolist() == [
        "exact",
        "380000003",
    ]
    listed = events.list_events(small_db, SYSTEM, None)
    # E1, E2, E5 and E3 attended; E1, E2 and E5 are equipped today.
    assert listed.loc[0, ["structures", "to_review", "equipped"]].tolist() == [4, 0, 3]
    with small_db.connect() as conn:
        actions = conn.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["event_create", "attendance_import", "attendance_review",
                       "attendance_review", "attendance_review"]  # fmt: skip


def test_adoption_of_attending_and_other_structures_over_time(small_db):
    event_id, _ = imported(small_db)
    comparison = events.adoption_comparison(small_db, SYSTEM, event_id)
    got = {(str(r.date.date()), r.group): (r.structures, r.equipped, r.share)
           for r in comparison.itertuples()}  # fmt: skip
    # Participants (exact only before review): E1, E2. Others: E3, E4, E5.
    assert got == {
        ("2026-10-15", "Participants"): (2, 2, 100.0),
        ("2026-10-15", "Non participants"): (3, 2, 66.7),
        ("2026-11-15", "Participants"): (2, 2, 100.0),
        ("2026-11-15", "Non participants"): (3, 1, 33.3),
    }


def test_event_crud_validation_and_permissions(small_db):
    with pytest.raises(ValidationError) as err:
        events.create_event(small_db, SYSTEM, events.EventInput(" ", None, replay_url="ftp://x"))
    assert [p[1] for p in err.value.problems] == [
        "Le titre de l'événement est obligatoire.",
        "La date de l'événement est obligatoire.",
        "Le lien du replay doit commencer par https://.",
    ]
    own = events.create_event(
        small_db, ISERE, events.EventInput("Atelier BAL", date(2026, 11, 3), departments=("38",))
    )
    events.update_event(
        small_db,
        ISERE,
        own,
        events.EventInput("Atelier BAL ORG", date(2026, 11, 3), departments=("38",)),
    )
    assert events.list_events(small_db, ISERE, None)["title"].tolist() == ["Atelier BAL ORG"]
    with pytest.raises(PermissionDenied, match="Vous n'avez pas accès au département 69."):
        events.create_event(small_db, ISERE, MIDI)
    with pytest.raises(PermissionDenied, match="Un événement régional"):
        events.create_event(small_db, ISERE, events.EventInput("Région", date(2026, 1, 1)))
    midi = events.create_event(small_db, SYSTEM, MIDI)
    with pytest.raises(PermissionDenied):
        events.import_attendance(small_db, ISERE, midi, SHEET_CSV, "midi.csv")
    events.delete_event(small_db, ISERE, own)
    assert events.list_events(small_db, SYSTEM, None)["id"].tolist() == [midi]
    with small_db.connect() as conn:
        refused = (
            conn.execute(select(AuditEntry.action).where(AuditEntry.outcome == "refused"))
            .scalars()
            .all()
        )
    assert refused == ["event_create", "event_create", "attendance_import"]


def test_an_identical_event_is_refused_in_french(small_db):
    first = events.create_event(small_db, SYSTEM, MIDI)
    twin = events.EventInput(" midis du COLLECTIF #7 ", MIDI.date, "", ("69", "38"))
    with pytest.raises(ValidationError) as err:
        events.create_event(small_db, SYSTEM, twin)
    assert str(err.value) == (
        f"L'événement « midis du COLLECTIF #7 » du 20/10/2026 existe déjà pour ces départements "
        f"(n° {first}) : modifiez-le plutôt que d'en créer un second."
    )
    # Another day or other departments are another event; an update may not make a twin either.
    other_day = events.create_event(small_db, SYSTEM, events.EventInput(MIDI.title, date(2026, 10, 21), departments=MIDI.departments))  # fmt: skip
    events.create_event(small_db, SYSTEM, events.EventInput(MIDI.title, MIDI.date, departments=("38",)))  # fmt: skip
    with pytest.raises(ValidationError, match="existe déjà"):
        events.update_event(small_db, SYSTEM, other_day, MIDI)
    events.update_event(small_db, SYSTEM, first, MIDI)  # itself is no twin
    assert len(events.list_events(small_db, SYSTEM, None)) == 3


def test_pack_has_an_events_sheet_only_with_events(small_db):
    book = load_workbook(io.BytesIO(pack.build_pack(small_db, SYSTEM, ["38", "69"])))
    assert "Événements" not in book.sheetnames
    imported(small_db)
    book = load_workbook(io.BytesIO(pack.build_pack(small_db, SYSTEM, ["38", "69"])))
    sheet = book["Événements"]
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    header = rows.index(next(r for r in rows if r[0] == "Événement"))
    assert rows[header][:8] == ("Événement", "Date", "Thème", "Départements", "Lignes de présence",
                                "Structures participantes", "Dont équipées", "Part équipée")  # fmt: skip
    assert rows[header + 1][0] == "Midis du collectif #7"
    assert rows[header + 1][3:8] == ("38,69", 6, 2, 2, 1.0)
    assert len(sheet._charts) == 1


def test_referent_animators_from_the_example_file(small_db):
    refs = animators.referents(small_db, ["69", "38"])
    assert refs["department"].tolist() == ["38", "69", "69"]
    assert refs["name"].tolist() == ["Sacha Témoin", "Charlie Maquette", "Noa Gabarit"]
    assert all(e.endswith("@example.org") for e in refs["email"])


def test_pack_events_sheet_opens_in_libreoffice(tmp_path):
    from balise.db import make_engine, upgrade
    from tests.support.libreoffice import libreoffice_csv

    engine = make_engine(f"sqlite:///{tmp_path / 'balise.db'}")
    upgrade(engine)
    seed_small_adoption(engine)
    imported(engine)
    out = tmp_path / "pack.xlsx"
    out.write_bytes(pack.build_pack(engine, SYSTEM, ["38", "69"]))
    sheets = libreoffice_csv(out, tmp_path)
    shown = [r for r in sheets["Événements"] if any(r)]
    header = next(i for i, r in enumerate(shown) if r[0] == "Événement")
    # As a French LibreOffice shows it: date, counts, percent with a comma.
    # (« # ##0 » pads small integers with the thousands space: strip it.)
    assert [c.strip() for c in shown[header + 1][:8]] == [
        "Midis du collectif #7", "20/10/2026", "La MSS", "38,69", "6", "2", "2", "100,0 %",
    ]  # fmt: skip
    engine.dispose()


def test_two_equally_close_structures_are_left_to_a_person(small_db):
    from sqlalchemy import insert

    from balise.models import Establishment

    twins = [
        {"finess_et": f, "name": "SAAD Les Lilas", "city": "SAINT-MARTIN", "department": d,
         "category_code": "460", "is_medico_social": True, "snapshot_id": 1}
        for f, d in (("380000010", "38"), ("690000010", "69"))
    ]  # fmt: skip
    with small_db.begin() as conn:
        conn.execute(insert(Establishment), twins)
    event_id = events.create_event(small_db, SYSTEM, MIDI)
    sheet = "Structure;Commune\nSaad les Lilas;St Martin\nSAAD Lilas;\nSAAD les Lila;Saint-Martin\n"
    report = events.import_attendance(small_db, SYSTEM, event_id, sheet.encode(), "s.csv")
    assert (report.exact, report.fuzzy, report.unmatched) == (0, 0, 3)
    assert events.attendance(small_db, SYSTEM, event_id)["finess_et"].isna().all()
