"""One AppTest per dashboard page on the small seeded store (SQLite and PostgreSQL), asserting
the figures shown. The app runs through its real entry point (st.navigation) and switch_page."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from balise.cli import cli
from balise.formatting import THIN
from balise.referentials.bal_types import TYPES
from balise.services.access import Actor
from tests.support.adoption_seed import seed_coordinates, seed_small_adoption
from tests.support.apptest import app_as, open_page
from tests.support.apptest import figure as rendered_figure


@pytest.fixture
def db_with_small_adoption(empty_db):
    seed_small_adoption(empty_db, demo=True)
    return empty_db


def _app(engine, monkeypatch, geojson: str = "") -> AppTest:
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_GEOJSON", geojson)
    at = open_page()  # caches emptied: each test starts from a cold app on its own store
    assert not at.exception, at.exception
    return at


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_regional_view_figures_banner_and_map(db_with_small_adoption, monkeypatch, boundary_file):
    at = _app(db_with_small_adoption, monkeypatch, geojson=str(boundary_file))
    assert at.title[0].value == "Vue régionale"
    assert at.caption[0].value == "Données : Annuaire MSSanté du 15/11/2026 · FINESS du 01/10/2026"
    assert "Données de démonstration" in at.warning[0].value
    assert _metrics(at) == {
        "ESMS suivis": "5", "ESMS équipés": "3", "Part équipée": f"60,0{THIN}%", "BAL des ESMS": "4",
        "BAL personnelles": "1", "BAL organisationnelles": "1", "BAL applicatives": "1", "BAL de cabinet": "1",
    }  # fmt: skip
    assert [m.delta for m in at.metric][1:3] == ["-1", f"-20,0{THIN}pts"]
    figure = rendered_figure(at)
    shapes = [t for t in figure["data"] if t.get("fill") == "toself"]
    assert [t["name"] for t in shapes] == ["38", "69"]
    assert "66,7" in shapes[0]["text"] and "Isère" in shapes[0]["text"]
    assert figure["layout"]["title"]["text"].startswith("Part des ESMS équipés")
    assert rendered_figure(at, 1)["data"][0]["y"] == [80.0, 60.0]
    table = at.dataframe[0].value
    assert table["Département"].tolist() == ["38 – Isère", "69 – Rhône"]
    assert table["ESMS équipés"].tolist() == [2, 1] and table["Part équipée (%)"].tolist() == [
        66.7,
        50.0,
    ]


def test_regional_view_without_boundaries_draws_the_tile_grid(db_with_small_adoption, monkeypatch):
    at = _app(db_with_small_adoption, monkeypatch, geojson="/nonexistent/departements.geojson")
    figure = rendered_figure(at)
    assert figure["layout"]["title"]["text"].endswith("(carte schématique)")
    coloured = figure["data"][1]
    assert sorted(coloured["text"]) == ["38", "69"] and len(figure["data"][0]["text"]) == 105


def test_selection_is_kept_across_pages(db_with_small_adoption, monkeypatch):
    at = _app(db_with_small_adoption, monkeypatch)
    at.sidebar.multiselect[0].set_value(["38"]).run()
    assert _metrics(at)["ESMS suivis"] == "3"
    at = _open(at, "department")
    assert _metrics(at)["Structures affichées"] == "3"
    assert at.sidebar.multiselect[0].value == ["38"]


def test_department_page_filters_and_opens_a_structure(db_with_small_adoption, monkeypatch):
    at = _open(_app(db_with_small_adoption, monkeypatch), "department")
    referents = next(m.value for m in at.markdown if m.value.startswith("| Département |"))
    # data/animateurs.csv: the referent of 38, and the one of 07 and 26 (a region-wide selection).
    assert "| 38 – Isère | Sacha Témoin | sacha.temoin@example.org | 01 99 00 01 38 |" in referents
    assert "| 26 – Drôme | Alex Modèle |" in referents
    assert _metrics(at) == {
        "Structures affichées": "5",
        "Équipées": "3",
        "Part équipée": f"60,0{THIN}%",
    }
    assert at.dataframe[0].value["Statut"].tolist().count("Non équipé") == 2
    at.selectbox(key="dep_status").set_value("not_equipped").run()
    assert at.dataframe[0].value["FINESS"].tolist() == ["380000003", "690000001"]
    at.selectbox(key="dep_status").set_value("").run()
    at.text_input(key="dep_search").input("tilleuls").run()
    assert at.dataframe[0].value["Nom"].tolist() == ["EHPAD Les Tilleuls"]
    at.selectbox(key="dep_pick").set_value("380000001")
    at.button(key="dep_open").click().run()
    assert at.title[0].value == "Structure" and at.header[0].value == "EHPAD Les Tilleuls"


def test_department_page_maps_the_placed_esms(db_with_small_adoption, monkeypatch, boundary_file):
    seed_coordinates(db_with_small_adoption)
    at = _open(_app(db_with_small_adoption, monkeypatch, str(boundary_file)), "department")
    shown = rendered_figure(at, 1)
    assert shown["layout"]["title"]["text"].startswith("Les ESMS sur la carte")
    outline, *points = shown["data"][:3]  # one trace per status and category (EHPAD only)
    assert outline["fill"] == "toself" and outline["name"] == "Limites"
    assert [(t["legendgroup"], t["name"]) for t in points] == [
        ("equipped", "Équipés (2)"), ("not_equipped", "Non équipés (1)"),
    ]  # fmt: skip
    # E2 has no coordinates, E4's are reversed (outside France): counted, not drawn.
    assert [t["customdata"] for t in points] == [["380000001", "690000002"], ["380000003"]]
    assert "2 ESMS sans coordonnées ne sont pas placés sur la carte." in [
        c.value for c in at.caption
    ]
    at.selectbox(key="dep_status").set_value("not_equipped").run()  # the list's filters
    placed = [t for t in rendered_figure(at, 1)["data"] if t.get("customdata")]
    assert [(t["legendgroup"], t["customdata"]) for t in placed] == [
        ("not_equipped", ["380000003"])
    ]
    assert "1 ESMS sans coordonnées n'est pas placé sur la carte." in [c.value for c in at.caption]


def test_department_page_maps_the_demo_esms(
    empty_db, database_url, tmp_path, monkeypatch, boundary_file
):
    """The demo ingests the FINESS CSV only: its geolocalisation lines place the ESMS."""
    demo = ["--database-url", database_url, "demo", "--out", str(tmp_path / "demo")]
    result = CliRunner().invoke(cli, demo)
    assert result.exit_code == 0, result.output
    at = _open(_app(empty_db, monkeypatch, str(boundary_file)), "department")
    shown = rendered_figure(at, 1)
    assert shown["layout"]["title"]["text"].startswith("Les ESMS sur la carte")
    placed = [t for t in shown["data"] if t.get("customdata")]
    assert sum(len(t["customdata"]) for t in placed) > 50
    assert not any("sans coordonnées" in c.value for c in at.caption)


def test_department_page_without_coordinates_says_where_they_come_from(
    db_with_small_adoption, monkeypatch
):
    at = _open(_app(db_with_small_adoption, monkeypatch), "department")
    assert len(at.get("plotly_chart")) == 1  # the status bars only
    assert "5 ESMS sans coordonnées ne sont pas placés sur la carte." in [
        c.value for c in at.caption
    ]
    assert any("flux FiNESS+" in i.value for i in at.info)


def test_bal_types_page_counts_and_shares(db_with_small_adoption, monkeypatch):
    at = _open(_app(db_with_small_adoption, monkeypatch), "bal_types")
    assert _metrics(at)["BAL applicatives"] == "1"
    assert [m.delta for m in at.metric] == [f"25,0{THIN}% des BAL"] * 4
    by_dep = at.dataframe[0].value.set_index("Département")
    assert (
        by_dep.loc["38 – Isère", "BAL (total)"] == 3
        and by_dep.loc["69 – Rhône", "BAL de cabinet"] == 1
    )
    by_cat = at.dataframe[1].value.set_index("Catégorie")
    assert by_cat.loc["SSIAD", "BAL applicatives"] == 1
    at.radio(key="types_unit").set_value("Part (%)").run()
    traces = rendered_figure(at)["data"]
    assert traces[0]["y"] == [pytest.approx(100 / 3), 0.0]
    # Names and colours come from the one table of BAL types.
    assert [(t["name"], t["marker"]["color"]) for t in traces] == [
        (b.label, b.colour) for b in TYPES
    ]


def test_structure_page_identity_mailboxes_history(db_with_small_adoption, monkeypatch):
    at = _app(db_with_small_adoption, monkeypatch)
    at.session_state["structure"] = "380000001"
    at = _open(at, "structure")
    assert at.header[0].value == "EHPAD Les Tilleuls"
    assert "**FINESS** 380000001" in at.markdown[0].value and "GRENOBLE" in at.markdown[0].value
    assert _metrics(at) == {"BAL MSSanté rattachées": "3"}
    assert any(
        c.value == "Animateur référent du département — Sacha Témoin "
        "(sacha.temoin@example.org, 01 99 00 01 38)"
        for c in at.caption
    )
    boxes = at.dataframe[0].value
    assert boxes["Type de BAL"].tolist() == ["Applicative", "Organisationnelle", "Personnelle"]
    assert boxes["Rattachement"].tolist()[0] == "Entité juridique (FINESS EJ)"
    history = rendered_figure(at)
    assert [sum(t["y"][i] for t in history["data"]) for i in range(2)] == [2, 3]
    assert history["data"][0]["x"] == ["15/10/2026", "15/11/2026"]


def test_changes_page_between_two_snapshots(db_with_small_adoption, monkeypatch):
    at = _open(_app(db_with_small_adoption, monkeypatch), "changes")
    assert _metrics(at) == {"BAL créées": "2", "BAL supprimées": "1", "Solde": "+1"}
    by_cat = at.dataframe[1].value
    assert by_cat.values.tolist() == [
        ["Non rattachée à un établissement", 1, 0],
        ["EHPAD", 1, 0],
        ["IME", 0, 1],
    ]
    assert at.selectbox(key="changes_before").value == 2


def test_exports_page_builds_the_pack_on_demand(db_with_small_adoption, monkeypatch, tmp_path):
    at = _open(_app(db_with_small_adoption, monkeypatch), "exports")
    assert not at.get("download_button")
    at.button(key="build_pack").click().run()
    assert not at.exception
    assert at.get("download_button")[0].proto.label == "Télécharger le pack (xlsx)"
    departments, content = at.session_state["pack"]
    assert departments == ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")
    out = tmp_path / "pack.xlsx"
    out.write_bytes(content)
    assert load_workbook(out)["Départements"]["B2"].value == 3
    at.selectbox(key="csv_table").set_value("changements")
    at.button(key="build_csv").click().run()
    assert [b.proto.label for b in at.get("download_button")] == [
        "Télécharger le pack (xlsx)",
        "Télécharger le CSV",
    ]
    lines = at.session_state["csv"][2].decode("utf-8-sig").splitlines()
    assert lines == ["Département;BAL créées;BAL supprimées", "38 – Isère;1;0", "69 – Rhône;1;1"]


def test_an_animator_sees_only_their_departments(db_with_small_adoption, monkeypatch):
    at = app_as(db_with_small_adoption, monkeypatch, Actor("anim38", "animator", ("38",)))
    assert at.sidebar.multiselect[0].options == ["38 – Isère"]
    assert _metrics(at)["ESMS suivis"] == "3"


def test_empty_store_says_which_command_to_run(empty_db, monkeypatch):
    at = _app(empty_db, monkeypatch)
    assert "balise demo" in at.info[0].value
    at = _open(at, "changes")
    assert "balise demo" in at.info[0].value


def test_structure_page_opens_from_a_link(db_with_small_adoption, monkeypatch):
    at = _app(db_with_small_adoption, monkeypatch)
    at.query_params["finess"] = "690000001"
    at = _open(at, "structure")
    assert at.header[0].value == "IME Les Cèdres"
    assert "Cette structure n'a aucune BAL" in at.info[0].value
    assert [sum(t["y"][i] for t in rendered_figure(at)["data"]) for i in range(2)] == [1, 0]
