"""The Département page's map, read by its service on SQLite and PostgreSQL: the points of the
actor's departments only, every one inside France, the ESMS without usable coordinates counted;
and the function that turns a click on the figure into the structure to open."""

from __future__ import annotations

import pandas as pd
import pytest

from balise.errors import PermissionDenied
from balise.referentials.territories import load_boxes
from balise.services.access import SYSTEM, Actor
from balise.services.structure_map import structure_points
from balise.services.structures import StructureFilter
from dashboard.maps import clicked_finess, structure_map
from tests.support.adoption_seed import seed_coordinates, seed_small_adoption
from tests.support.boundaries import boundary_collection

ANIM38 = Actor("anim38", "animator", ("38",))


@pytest.fixture
def db_with_placed_esms(empty_db):
    seed_small_adoption(empty_db)
    seed_coordinates(empty_db)
    return empty_db


def _in_france(lat: float, lon: float) -> bool:
    return any(box.holds(lat, lon) for box in load_boxes().values())


def test_points_of_every_department_and_the_unplaced_counted(db_with_placed_esms):
    placed = structure_points(db_with_placed_esms, SYSTEM, None)
    # E2 has no coordinates, E4's are reversed (outside France); the pharmacy is no ESMS.
    assert placed.points["finess_et"].tolist() == [
        "380000003", "380000001", "690000002", "750000001",
    ]  # fmt: skip
    assert placed.unplaced == 2
    assert placed.points["equipped"].tolist() == [False, True, True, True]
    assert all(_in_france(r.latitude, r.longitude) for r in placed.points.itertuples())


def test_an_animator_sees_the_points_of_their_departments_only(db_with_placed_esms):
    placed = structure_points(db_with_placed_esms, ANIM38, None)
    assert set(placed.points["department"]) == {"38"}
    assert (len(placed.points), placed.unplaced) == (2, 1)
    with pytest.raises(PermissionDenied, match=r"^Vous n'avez pas accès au département 69\.$"):
        structure_points(db_with_placed_esms, ANIM38, ["69"])


def test_the_page_filters_apply_to_the_map(db_with_placed_esms):
    placed = structure_points(db_with_placed_esms, SYSTEM, ["38", "69"],
                              StructureFilter(status="not_equipped"))  # fmt: skip
    # Non-equipped: E3 (placed) and E4 (reversed coordinates: unplaced).
    assert placed.points["finess_et"].tolist() == ["380000003"]
    assert placed.unplaced == 1


def test_a_store_without_coordinates_places_nothing(empty_db):
    seed_small_adoption(empty_db)
    placed = structure_points(empty_db, SYSTEM, ["38", "69"])
    assert placed.points.empty and placed.unplaced == 5


def _status_traces(figure) -> dict[str, list]:
    """The point traces of each status: {"equipped": [...], "not_equipped": [...]}."""
    out: dict[str, list] = {"equipped": [], "not_equipped": []}
    for trace in figure.data:
        if trace.legendgroup in out:
            out[trace.legendgroup].append(trace)
    return out


def test_the_figure_carries_each_point_finess_and_a_click_opens_it(db_with_placed_esms):
    points = structure_points(db_with_placed_esms, SYSTEM, ["38", "69"]).points
    figure = structure_map(points, boundary_collection(), ("38", "69"))
    outline = figure.data[0]
    assert outline.fill == "toself" and outline.hoverinfo == "skip"
    # Plain x/y traces: no geo subplot (a world map from a CDN), no tile server (mapbox/map).
    assert {t.type for t in figure.data} == {"scatter"}
    traces = _status_traces(figure)
    assert [list(t.customdata) for t in traces["equipped"]] == [["380000001", "690000002"]]
    assert [list(t.customdata) for t in traces["not_equipped"]] == [["380000003"]]
    assert [t.name for t in traces["equipped"] + traces["not_equipped"]] == [
        "Équipés (2)", "Non équipés (1)",
    ]  # fmt: skip
    # Legend of categories: EHPAD (500) only here, one symbol.
    assert [t.name for t in figure.data if t.legendgroup == "categories"] == ["EHPAD"]
    # Streamlit's selection state after a click on the second equipped point.
    click = {"points": [{"curve_number": 1, "point_index": 1, "customdata": "690000002"}],
             "point_indices": [1], "box": [], "lasso": []}  # fmt: skip
    assert clicked_finess(click) == "690000002"
    assert clicked_finess({**click, "points": [{"customdata": ["380000003"]}]}) == "380000003"
    assert clicked_finess({"points": [], "box": [], "lasso": []}) is None
    assert clicked_finess(None) is None


def test_one_symbol_per_category_and_one_legend_line_per_status():
    points = pd.DataFrame({
        "finess_et": ["1", "2", "3", "4"], "name": ["A", "B", "C", "D"],
        "category_code": ["500", "354", "500", "183"], "city": ["X"] * 4,
        "department": ["38"] * 4, "equipped": [True, True, False, True],
        "latitude": [45.1, 45.2, 45.3, 45.4], "longitude": [5.1, 5.2, 5.3, 5.4],
    })  # fmt: skip
    figure = structure_map(points, None, ("38",))
    traces = _status_traces(figure)
    equipped = {t.marker.symbol: list(t.customdata) for t in traces["equipped"]}
    legend = {t.name: t.marker.symbol for t in figure.data if t.legendgroup == "categories"}
    assert equipped == {legend["IME"]: ["4"], legend["SSIAD"]: ["2"], legend["EHPAD"]: ["1"]}
    assert len(set(legend.values())) == 3
    assert [t.showlegend for t in traces["equipped"]] == [True, False, False]
    assert [t.name for t in traces["not_equipped"]] == ["Non équipés (1)"]


def test_without_a_boundary_file_the_points_are_drawn_alone(db_with_placed_esms):
    points = structure_points(db_with_placed_esms, SYSTEM, ["38"]).points
    figure = structure_map(points, None, ("38",))
    assert [t.name for t in figure.data[:2]] == ["Équipés (1)", "Non équipés (1)"]
