"""The Département page's map in AppTest (SQLite and PostgreSQL): the placed ESMS as points on
their departments' outline, the unplaced ones counted in a caption, a store without
coordinates saying where they come from."""

from __future__ import annotations

from tests.support.adoption_seed import seed_coordinates, seed_small_adoption
from tests.support.apptest import figure, open_page


def _department_page(engine, monkeypatch, geojson: str = ""):
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_GEOJSON", geojson)
    at = open_page("department")
    assert not at.exception, at.exception
    return at


def test_department_page_draws_the_placed_esms(empty_db, monkeypatch, boundary_file):
    seed_small_adoption(empty_db, demo=True)
    seed_coordinates(empty_db)
    at = _department_page(empty_db, monkeypatch, str(boundary_file))
    shown = figure(at, 1)
    assert shown["layout"]["title"]["text"].startswith("Les ESMS sur la carte")
    outline = shown["data"][0]
    assert outline["fill"] == "toself" and outline["name"] == "Limites"
    points = shown["data"][1:3]
    assert [t["name"] for t in points] == ["Équipés (2)", "Non équipés (1)"]
    assert sorted(sum((t["customdata"] for t in points), [])) == [
        "380000001", "380000003", "690000002",
    ]  # fmt: skip
    captions = [c.value for c in at.caption]
    assert "2 ESMS sans coordonnées ne sont pas placés sur la carte." in captions
    # The map follows the list's filters.
    at.selectbox(key="dep_status").set_value("not_equipped").run()
    points = figure(at, 1)["data"][1:3]
    assert [t["customdata"] for t in points] == [[], ["380000003"]]
    assert "1 ESMS sans coordonnées n'est pas placé sur la carte." in [c.value for c in at.caption]


def test_department_page_without_coordinates_says_where_they_come_from(empty_db, monkeypatch):
    seed_small_adoption(empty_db, demo=True)
    at = _department_page(empty_db, monkeypatch)
    assert len(at.get("plotly_chart")) == 1  # the status bars only
    assert "5 ESMS sans coordonnées ne sont pas placés sur la carte." in [
        c.value for c in at.caption
    ]
    assert any("flux FiNESS+" in i.value for i in at.info)
