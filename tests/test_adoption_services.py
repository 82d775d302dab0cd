"""Adoption queries on the small hand-checked dataset (tests/support/adoption_seed.py), on SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from balise.config import DEFAULT_GEOJSON_SHA256, DEFAULT_GEOJSON_URL, Settings, load_settings
from balise.errors import NotFoundError, PermissionDenied
from balise.referentials.departments import load_departments
from balise.services import adoption, changes, geo, snapshots, structures
from balise.services.access import SYSTEM, Actor
from balise.services.structures import StructureFilter
from tests.support.adoption_seed import seed_small_adoption
from tests.support.ports import free_port

ARA = ("38", "69")


@pytest.fixture
def db_with_small_adoption(empty_db):
    seed_small_adoption(empty_db)
    return empty_db


def test_coverage_by_department_counts_equipped_esms(db_with_small_adoption):
    df = adoption.coverage(db_with_small_adoption, SYSTEM, ARA)
    assert df[["department", "structures", "equipped"]].values.tolist() == [
        ["38", 3, 2],
        ["69", 2, 1],
    ]
    assert df["share"].round(1).tolist() == [66.7, 50.0]


def test_coverage_by_category_ignores_partners(db_with_small_adoption):
    df = adoption.coverage(db_with_small_adoption, SYSTEM, None, by="category_code")
    assert df[["category_code", "structures", "equipped"]].values.tolist() == [
        ["183", 1, 0],
        ["354", 1, 1],
        ["500", 4, 3],
    ]


def test_headline_figures_and_change_since_previous_snapshot(db_with_small_adoption):
    h = adoption.headline(db_with_small_adoption, SYSTEM, ARA)
    assert (h["structures"], h["equipped"]) == (5, 3)
    assert h["share"] == pytest.approx(60.0)
    assert h["mailboxes"] == {"PER": 1, "ORG": 1, "APP": 1, "CAB": 1}
    assert h["share_delta"] == pytest.approx(-20.0)
    assert h["equipped_delta"] == -1


def test_mailbox_mix_counts_an_ej_mailbox_once_per_group(db_with_small_adoption):
    by_dep = adoption.mailbox_mix(db_with_small_adoption, SYSTEM, ARA)
    assert by_dep.set_index("department")["mailboxes"].to_dict() == {"38": 3, "69": 1}
    by_cat = adoption.mailbox_mix(db_with_small_adoption, SYSTEM, ARA, by="category_code")
    rows = by_cat.set_index("category_code")[adoption.TYPE_COLUMNS].to_dict("index")
    assert rows["500"] == {
        "mailboxes_per": 1,
        "mailboxes_org": 1,
        "mailboxes_app": 1,
        "mailboxes_cab": 1,
    }
    assert rows["354"] == {
        "mailboxes_per": 0,
        "mailboxes_org": 0,
        "mailboxes_app": 1,
        "mailboxes_cab": 0,
    }


def test_trend_reads_frozen_stats_per_snapshot(db_with_small_adoption):
    df = adoption.trend(db_with_small_adoption, SYSTEM, ARA)
    assert df["snapshot_id"].tolist() == [2, 3]
    assert df["equipped"].tolist() == [4, 3]
    assert df["share"].tolist() == [80.0, 60.0]
    assert df["date"].dt.strftime("%d/%m/%Y").tolist() == ["15/10/2026", "15/11/2026"]


def test_animator_cannot_read_another_department(db_with_small_adoption):
    animator = Actor("anim38", "animator", ("38",))
    assert adoption.headline(db_with_small_adoption, animator, None)["structures"] == 3
    with pytest.raises(PermissionDenied, match="département 69"):
        adoption.coverage(db_with_small_adoption, animator, ["69"])


def test_changes_between_snapshots(db_with_small_adoption):
    by_dep = changes.changes(db_with_small_adoption, SYSTEM, ARA, 2, 3)
    assert by_dep.values.tolist() == [["38", 1, 0], ["69", 1, 1]]
    by_cat = changes.changes(db_with_small_adoption, SYSTEM, ARA, 2, 3, by="category_code")
    assert by_cat.values.tolist() == [["", 1, 0], ["183", 0, 1], ["500", 1, 0]]
    assert changes.totals(db_with_small_adoption, SYSTEM, None, 2, 3) == {
        "created": 2,
        "removed": 1,
    }


def test_structures_list_and_filters(db_with_small_adoption):
    engine = db_with_small_adoption
    df = structures.structures(engine, SYSTEM, ARA)
    assert df["finess_et"].tolist() == [
        "380000003",
        "380000001",
        "380000002",
        "690000002",
        "690000001",
    ]
    tilleuls = df.set_index("finess_et").loc["380000001"]
    assert bool(tilleuls["equipped"]) and tilleuls["mailboxes"] == 3
    only_not = structures.structures(engine, SYSTEM, ARA, StructureFilter(status="not_equipped"))
    assert only_not["finess_et"].tolist() == ["380000003", "690000001"]
    lyon = structures.structures(
        engine, SYSTEM, ARA, StructureFilter(cities=("LYON",), categories=("500",))
    )
    assert lyon["name"].tolist() == ["EHPAD Bellecour"]
    found = structures.structures(engine, SYSTEM, ARA, StructureFilter(search="gRésiv"))
    assert found["finess_et"].tolist() == ["380000002"]
    assert structures.structures(engine, SYSTEM, ARA, StructureFilter(search="100%")).empty
    assert structures.cities(engine, SYSTEM, ["38"]) == ["CROLLES", "GRENOBLE", "VOIRON"]


def test_structure_sheet_mailboxes_and_history(db_with_small_adoption):
    engine = db_with_small_adoption
    ident = structures.establishment(engine, SYSTEM, "380000001")
    assert (ident["name"], ident["category_code"], ident["city"]) == (
        "EHPAD Les Tilleuls",
        "500",
        "GRENOBLE",
    )
    boxes = structures.establishment_mailboxes(engine, SYSTEM, "380000001")
    assert boxes["address"].tolist() == [
        "dpi@asso-grenoble.mssante.fr",
        "accueil@tilleuls.mssante.fr",
        "jean.martin@medecin.mssante.fr",
    ]
    assert boxes["first_seen"].dt.strftime("%d/%m/%Y").tolist() == [
        "15/10/2026",
        "15/10/2026",
        "15/11/2026",
    ]
    history = structures.establishment_history(engine, SYSTEM, "380000001")
    assert history["mailboxes"].tolist() == [2, 3]
    lost = structures.establishment_history(engine, SYSTEM, "690000001")
    assert lost["mailboxes"].tolist() == [1, 0]
    with pytest.raises(NotFoundError, match="999999999"):
        structures.establishment(engine, SYSTEM, "999999999")


def test_history_of_a_structure_before_any_directory_import(db_with_ain_ehpad):
    # The FINESS imported, the directory not yet: an empty history, not a KeyError.
    history = structures.establishment_history(db_with_ain_ehpad, SYSTEM, "010001246")
    assert history.empty and "mailboxes" in history.columns


def test_latest_snapshot_of_each_source(db_with_small_adoption):
    df = snapshots.latest_by_source(db_with_small_adoption)
    assert df["source"].tolist() == ["annuaire", "finess"]
    assert df["snapshot_id"].tolist() == [3, 1]
    assert snapshots.data_version(db_with_small_adoption) == 3


def test_empty_store_gives_empty_frames(empty_db):
    assert adoption.headline(empty_db, SYSTEM, ARA)["structures"] == 0
    assert adoption.trend(empty_db, SYSTEM, ARA).empty
    assert snapshots.latest_by_source(empty_db).empty
    assert snapshots.data_version(empty_db) == 0


# --- map boundaries -----------------------------------------------------------------------


@pytest.fixture
def geojson_server(boundary_file):
    """A local HTTP server publishing the generated boundary file; counts its downloads."""
    hits = []
    body = boundary_file.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/departements.geojson"
    yield url, hits, server, hashlib.sha256(body).hexdigest()
    server.shutdown()


def test_boundary_url_is_downloaded_once_with_its_sha256(geojson_server, tmp_path):
    url, hits, server, sha256 = geojson_server
    settings = load_settings(geojson=url, geojson_sha256=sha256, data_dir=tmp_path)
    first = geo.boundaries(settings)
    assert len(first["features"]) == 12 and hits == ["/departements.geojson"]
    cached = list((tmp_path / "cache").glob("geojson-*.geojson"))
    meta = json.loads(cached[0].with_suffix(".json").read_text())
    assert meta["url"] == url and meta["sha256"] == sha256
    server.shutdown()
    assert geo.boundaries(settings)["features"][0]["properties"]["code"] == "01"
    assert hits == ["/departements.geojson"]


def test_boundary_file_with_another_checksum_is_refused(geojson_server, tmp_path):
    url, hits, _, sha256 = geojson_server
    settings = load_settings(geojson=url, geojson_sha256="0" * 64, data_dir=tmp_path)
    assert geo.boundaries(settings) is None and hits == ["/departements.geojson"]
    assert not list((tmp_path / "cache").glob("geojson-*"))  # nothing kept
    # A cached copy altered afterwards is fetched again, not trusted.
    good = load_settings(geojson=url, geojson_sha256=sha256, data_dir=tmp_path)
    cached = geo.boundary_path(good)
    cached.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert len(geo.boundaries(good)["features"]) == 12 and len(hits) == 3


def test_default_boundary_file_is_the_pinned_public_one():
    settings = Settings()
    assert settings.geojson == DEFAULT_GEOJSON_URL
    assert DEFAULT_GEOJSON_URL.startswith("https://raw.githubusercontent.com/gregoiredavid/")
    assert settings.expected_geojson_sha256() == DEFAULT_GEOJSON_SHA256
    # Another URL is not held to the default's checksum; an empty setting means the tile map.
    assert Settings(geojson="https://example.org/d.geojson").expected_geojson_sha256() == ""
    assert load_settings().geojson == ""  # the tests' environment: no download


def test_unreachable_or_missing_boundaries_fall_back_to_the_tile_grid(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/departements.geojson"
    assert geo.boundaries(load_settings(geojson=dead, data_dir=tmp_path)) is None
    assert geo.boundaries(load_settings(geojson=str(tmp_path / "none.geojson"))) is None
    assert geo.boundaries(load_settings(data_dir=tmp_path)) is None
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    assert geo.boundaries(load_settings(geojson=str(broken))) is None


def test_tile_grid_places_every_department_once():
    tiles = geo.tile_grid()
    assert set(tiles["code"]) == set(load_departments())
    assert not tiles.duplicated(["row", "col"]).any()
    paris, marseille = tiles.set_index("code").loc["75"], tiles.set_index("code").loc["13"]
    assert paris["row"] < marseille["row"]  # north above south
