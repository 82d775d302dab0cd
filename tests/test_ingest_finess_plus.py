"""A FiNESS+ flow into the store (SQLite and PostgreSQL): establishments with their checked
points, legal entities, inactive establishments kept apart, groupings read back; an etalab CSV
afterwards leaves what only the flow carries untouched."""

from __future__ import annotations

import gzip
import json
from datetime import date

from sqlalchemy import func, select

from balise.models import (
    Establishment,
    FinessGroup,
    FinessGroupMember,
    InactiveEstablishment,
    LegalEntity,
)
from balise.services.access import SYSTEM, Actor
from balise.services.finess_groups import group_mates
from ingest import jobs
from tests.support.finess_plus import EJ, EJ_VERCORS, IME, ege_file, flow, grouped_flow

OTHER_EJ_IME = "380780080"


def _flow_file(tmp_path, name="finess-structures-journalier-20260701.json.gz"):
    closed = ege_file("010780948", etatObjet="I")
    closed["informationsGeneralesEGE"]["dateFermeture"] = "2024-06-30"
    grenoble = ege_file(OTHER_EJ_IME)
    grenoble["informationsGeneralesEGE"]["egeId"] = "901"
    grenoble["adresse"][0].update(cogCommune="38185", codePostal="38000")
    data = flow(
        ege_file(),
        closed,
        gcc=[{"gccId": "7", "nomGcc": "GHT DÉMO", "typeGcc": "001",
              "pmejDuGcc": [{"pmSmsseId": "77", "typeRoleEntiteGroupe": "S"}],
              "egeDuGCC": [{"egeId": "901", "typeRoleEntiteGroupe": "M"}]}],
    )  # fmt: skip
    data = data.replace(b'"ege": [', b'"ege": [' + _json(grenoble) + b", ", 1)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data))
    return path


def _json(item: dict) -> bytes:
    return json.dumps(item, ensure_ascii=False).encode()


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_flow_fills_establishments_legal_entities_inactive_and_groupings(empty_db, tmp_path):
    report = jobs.ingest(empty_db, "finess", str(_flow_file(tmp_path)), None)
    assert (report.lines, report.kept, report.rejects.total) == (3, 2, 0)
    with empty_db.connect() as conn:
        e = Establishment.__table__.c
        ime = conn.execute(select(e.latitude, e.longitude, e.ege_id, e.category_label)
                           .where(e.finess_et == IME)).one()  # fmt: skip
        le = LegalEntity.__table__.c
        legal = conn.execute(select(le.finess_ej, le.pm_id, le.siren, le.legal_status)).one()
        i = InactiveEstablishment.__table__.c
        inactive = conn.execute(select(i.finess_et, i.closed_on)).one()
    assert tuple(ime) == (46.383, 5.345, "844", "Institut Médico-Educatif (I.M.E.)")
    assert tuple(legal) == (EJ, "77", "260100094", "60")
    assert tuple(inactive) == ("010780948", date(2024, 6, 30))
    assert (_count(empty_db, FinessGroup), _count(empty_db, FinessGroupMember)) == (1, 2)
    # The inactive establishment is not counted with the others.
    assert _count(empty_db, Establishment) == 2


def test_group_mates_follow_legal_entities_and_establishments(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(_flow_file(tmp_path)), None)
    mates = group_mates(empty_db, SYSTEM, IME)
    assert mates[["group_name", "finess_et", "department"]].values.tolist() == [
        ["GHT DÉMO", OTHER_EJ_IME, "38"]
    ]
    animator = Actor(login="a", role="animator", departments=("01",))
    assert group_mates(empty_db, animator, IME).empty  # the mate is in a department not theirs


def _group_ids(engine) -> dict[str, int]:
    """Each stored grouping with its number of members."""
    g, m = FinessGroup.__table__.c, FinessGroupMember.__table__.c
    with engine.connect() as conn:
        ids = conn.execute(select(g.group_id)).scalars().all()
        members = conn.execute(select(m.group_id)).scalars().all()
    return {i: members.count(i) for i in ids}


def test_a_flow_without_a_grouping_list_keeps_the_groupings_of_that_kind(empty_db, tmp_path):
    first = _flow_file(tmp_path)
    jobs.ingest(empty_db, "finess", str(first), None)
    later = json.loads(gzip.decompress(first.read_bytes()))
    del later["gcc"]  # a flow that does not carry the list says nothing of those groupings
    later["gco"] = [{"pmSmsseId": "88", "typeGCO": "GCSMS", "nomGco": "GCSMS DÉMO",
                     "pmejDuGco": [{"pmSmsseId": "77", "typeRoleEntiteGroupe": "M"}]}]  # fmt: skip
    path = tmp_path / "finess-structures-journalier-20260702.json"
    path.write_text(json.dumps(later, ensure_ascii=False), encoding="utf-8")
    report = jobs.ingest(empty_db, "finess", str(path), None)
    assert _group_ids(empty_db) == {"gcc:7": 2, "gco:88": 1}
    assert report.notes[-1] == (
        "Le flux ne donne pas la liste « gcc » : les groupements de ce type déjà importés sont "
        "gardés."
    )
    later["gcc"], later["gco"] = [], []  # a list given empty: the file says there is none
    path.write_text(json.dumps(later, ensure_ascii=False), encoding="utf-8")
    jobs.ingest(empty_db, "finess", str(path), None)
    assert _group_ids(empty_db) == {}


def _etalab_file(tmp_path, *extra: str):
    """An etalab CSV of two establishments of the Ain (the flow's IME and another), then
    ``extra`` lines (geolocalisation)."""
    csv = tmp_path / "etalab-cs1100507-stock-20260801-0400.csv"
    lines = [
        ["structureet", number, EJ, "IME", "", "", "", "", "", "", "", "", "108", "01", "AIN",
         "01270 COLIGNY", "", "", "183", "IME", "", "", "", "", "", "", "", "", "", "", "", ""]
        for number in (IME, "010780955")
    ]  # fmt: skip
    text = "\n".join(["finess;etalab;112;2026-08-01", *map(";".join, lines), *extra])
    csv.write_text(text + "\n", encoding="utf-8")
    return csv


def _points(engine) -> dict:
    e = Establishment.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.finess_et, e.latitude, e.longitude)).all()
    return {n: (lat, lon) for n, lat, lon in rows}


def test_csv_afterwards_keeps_what_only_the_flow_carries(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(_flow_file(tmp_path)), None)
    jobs.ingest(empty_db, "finess", str(_etalab_file(tmp_path)), ("01",))
    assert (_count(empty_db, LegalEntity), _count(empty_db, InactiveEstablishment)) == (1, 1)
    assert _count(empty_db, FinessGroup) == 1
    # No geolocalisation line: the flow's point stays, the new establishment has none.
    assert _points(empty_db)[IME] == (46.383, 5.345)
    assert _points(empty_db)["010780955"] == (None, None)


def test_csv_geolocalisation_lines_place_establishments_inside_their_territory(empty_db, tmp_path):
    source = "1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)"
    csv = _etalab_file(
        tmp_path,
        f"geolocalisation;{IME};870262.2;6571540.8;{source};2026-05-04",
        f"geolocalisation;010780955;1200000.0;5900000.0;{source};2026-05-04",  # at sea
    )
    jobs.ingest(empty_db, "finess", str(csv), None)
    points = _points(empty_db)
    assert (round(points[IME][0], 5), round(points[IME][1], 5)) == (46.22229, 5.20918)
    assert points["010780955"] == (None, None)
    # A FiNESS+ flow afterwards replaces the point with its own.
    jobs.ingest(empty_db, "finess", str(_flow_file(tmp_path)), None)
    assert _points(empty_db)[IME] == (46.383, 5.345)


def test_selected_departments_replace_only_their_inactive_establishments(empty_db, tmp_path):
    jobs.ingest(empty_db, "finess", str(_flow_file(tmp_path)), None)
    again = _flow_file(tmp_path, "finess-structures-journalier-20260702.json.gz")
    jobs.ingest(empty_db, "finess", str(again), ("38",))
    assert _count(empty_db, InactiveEstablishment) == 1  # department 01's, untouched
    assert _count(empty_db, FinessGroup) == 1  # groupings: replaced by national files only


def _legal_entities(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(LegalEntity.finess_ej, LegalEntity.name)).all())


def test_a_national_flow_replaces_every_legal_entity(empty_db, tmp_path):
    """A national flow lists every legal entity, as it lists every establishment: one it no
    longer gives is gone; a flow for some departments replaces only the entities it gives."""
    first = tmp_path / "finess-structures-journalier-20260701.json"
    first.write_bytes(grouped_flow())
    jobs.ingest(empty_db, "finess", str(first), None)
    assert set(_legal_entities(empty_db)) == {EJ, EJ_VERCORS}
    doc = json.loads(grouped_flow())
    doc["pmej"][1]["informationsGeneralesPMEJ"]["denominationPm"] = "FONDATION RENOMMÉE"
    del doc["pmej"][0]  # the association of the Ain is no longer in the file
    later = tmp_path / "finess-structures-journalier-20260702.json"
    later.write_bytes(json.dumps(doc).encode())
    jobs.ingest(empty_db, "finess", str(later), ("38",))
    assert _legal_entities(empty_db) == {EJ: "ASSOCIATION LES TILLEULS",
                                         EJ_VERCORS: "FONDATION RENOMMÉE"}  # fmt: skip
    jobs.ingest(empty_db, "finess", str(later), None)
    assert _legal_entities(empty_db) == {EJ_VERCORS: "FONDATION RENOMMÉE"}
