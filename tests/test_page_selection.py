"""The sidebar's department selection (dashboard/selection.py) on the small seeded store (38 and
69, SQLite and PostgreSQL): the page address carries it, a reload keeps it, a foreign department
in a link is dropped with a French warning, « Seulement ce département » keeps one, an
animator starts on their own departments, and the Structure page follows the selection."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from balise.services.access import Actor
from dashboard.selection import parse_address
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import app_as, open_page

REGION_84 = "01,03,07,15,26,38,42,43,63,69,73,74"
ISERE = Actor("anim38", "animator", ("38",))


@pytest.fixture
def db_with_small_adoption(empty_db):
    seed_small_adoption(empty_db, demo=True)
    return empty_db


@pytest.fixture
def region_84(db_with_small_adoption, monkeypatch):
    """The store of the seeded demo, the dashboard configured on Auvergne-Rhône-Alpes."""
    monkeypatch.setenv("BALISE_DATABASE_URL", _url(db_with_small_adoption))
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_DEPARTMENTS", "")
    return db_with_small_adoption


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def _followed(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "ESMS suivis")


def _picked(at: AppTest) -> list[str]:
    return at.sidebar.multiselect[0].value


def test_the_address_preselects_the_departments(region_84):
    at = _ok(open_page(query_params={"departements": "69"}))
    assert _picked(at) == ["69"] and _followed(at) == "2"
    assert at.query_params["departements"] == "69"
    # Repeated keys read the same: ?departements=38&departements=69.
    at = _ok(open_page(query_params={"departements": ["38", "69"]}))
    assert _picked(at) == ["38", "69"] and _followed(at) == "5"


def test_without_an_address_the_default_is_written_in_it(region_84):
    at = _ok(open_page())
    assert at.query_params["departements"] == REGION_84
    assert _picked(at) == REGION_84.split(",")


def test_a_reload_keeps_the_selection_and_pages_keep_it(region_84):
    at = _ok(open_page())
    at.sidebar.multiselect[0].set_value(["69", "38"]).run()
    address = at.query_params["departements"]
    assert address == "38,69"  # one address for one selection, whatever the click order
    reloaded = _ok(open_page(query_params={"departements": address}))  # a new session
    assert _picked(reloaded) == ["38", "69"] and _followed(reloaded) == "5"
    reloaded.switch_page("views/department.py").run()
    assert _picked(_ok(reloaded)) == ["38", "69"]
    assert reloaded.query_params["departements"] == "38,69"


def test_a_department_outside_the_rights_is_dropped_with_a_warning(
    db_with_small_adoption, monkeypatch
):
    monkeypatch.setenv("BALISE_REGION", "84")
    at = _ok(
        app_as(db_with_small_adoption, monkeypatch, ISERE, query_params={"departements": "38,69"})
    )
    assert _picked(at) == ["38"] and _followed(at) == "3"  # the Rhône's 2 ESMS never shown
    assert at.query_params["departements"] == "38"
    assert [w.value for w in at.sidebar.warning] == [
        "Le lien demandait aussi 69 – Rhône : votre compte n'y donne pas accès, il est retiré "
        "de la sélection."
    ]
    at.run()  # the address now says 38: the warning was for the link, once
    assert not at.sidebar.warning and _picked(at) == ["38"]


def test_a_link_with_only_foreign_or_unknown_codes_falls_back_to_the_own_departments(
    db_with_small_adoption, monkeypatch
):
    monkeypatch.setenv("BALISE_REGION", "84")
    at = _ok(
        app_as(
            db_with_small_adoption, monkeypatch, ISERE,
            query_params={"departements": "69,<b>x</b>,99"},
        )
    )  # fmt: skip
    assert _picked(at) == ["38"] and _followed(at) == "3"
    warnings = [w.value for w in at.sidebar.warning]
    assert warnings[0].startswith("Le lien demandait aussi 69 – Rhône : ")
    assert warnings[1] == "Le lien contenait 2 codes de département inconnus, ignorés."
    assert at.sidebar.info[0].value == (
        "Aucun département du lien n'est consultable : sélection par défaut."
    )


def test_only_this_department_keeps_one_in_one_step(region_84):
    at = _ok(open_page())
    only = at.sidebar.selectbox(key="_departments_only")
    assert only.value is None and only.options[5] == "38 – Isère"
    only.set_value("69").run()
    assert _picked(_ok(at)) == ["69"] and _followed(at) == "2"
    assert at.query_params["departements"] == "69"
    assert at.sidebar.selectbox(key="_departments_only").value is None  # ready for the next one
    at.sidebar.button(key="_departments_default").click().run()
    assert at.sidebar.button(key="_departments_default").label == "Toute la région"
    assert _picked(_ok(at)) == REGION_84.split(",") and _followed(at) == "5"


def test_an_animator_starts_on_their_own_departments(db_with_small_adoption, monkeypatch):
    # The dashboard is configured on the Rhône only: an animator of 38 and 69 still opens on
    # both of theirs, a regional manager on the configured one.
    monkeypatch.setenv("BALISE_DEPARTMENTS", "69")
    both = Actor("anim", "animator", ("38", "69"))
    at = _ok(app_as(db_with_small_adoption, monkeypatch, both))
    assert _picked(at) == ["38", "69"] and _followed(at) == "5"
    assert at.sidebar.button(key="_departments_default").label == "Tous mes départements"
    manager = Actor("dr", "manager", ())
    assert _picked(_ok(app_as(db_with_small_adoption, monkeypatch, manager))) == ["69"]
    alone = _ok(app_as(db_with_small_adoption, monkeypatch, ISERE))
    assert _picked(alone) == ["38"] and not alone.sidebar.selectbox  # nothing to narrow


def test_the_structure_page_drops_a_structure_outside_the_selection(region_84):
    at = _ok(open_page(structure="380000001"))
    at.switch_page("views/structure.py").run()
    assert at.header[0].value == "EHPAD Les Tilleuls"
    at.sidebar.selectbox(key="_departments_only").set_value("69").run()
    assert [w.value for w in _ok(at).main.warning][-1] == (
        "EHPAD Les Tilleuls (FINESS 380000001) est dans le département 38 – Isère, hors de la "
        "sélection : ajoutez ce département dans la barre latérale pour la choisir."
    )
    assert at.header[0].value != "EHPAD Les Tilleuls"
    assert at.selectbox(key="structure_pick").options == [
        "EHPAD Bellecour (690000002)", "IME Les Cèdres (690000001)",
    ]  # fmt: skip


def test_a_structure_link_outside_the_linked_departments_is_not_shown(region_84):
    at = _ok(open_page(query_params={"departements": "69", "finess": "380000001"}))
    at.switch_page("views/structure.py").run()
    assert [w.value for w in _ok(at).main.warning][-1] == (
        "EHPAD Les Tilleuls (FINESS 380000001) est dans le département 38 – Isère, hors de la "
        "sélection : ajoutez ce département dans la barre latérale pour la choisir."
    )
    assert at.header[0].value != "EHPAD Les Tilleuls" and "finess" not in at.query_params
    assert at.session_state["structure"] != "380000001"
    at.run()  # said once: the structure is no longer asked for
    assert not any("hors de la sélection" in w.value for w in at.warning)


def test_address_codes_are_read_as_the_referential_writes_them():
    asked = parse_address(["2a, 38", "38,ZZ"], ["2A", "38", "69"])
    assert (asked.kept, asked.refused, asked.unknown) == (["2A", "38"], [], 1)
    assert parse_address(["01,75"], ["01"]).refused == ["75"]


def test_the_follow_up_tab_drops_a_structure_outside_the_selection(region_84):
    at = _ok(open_page("accompagnement"))
    at.selectbox(key="ob_follow_dep").set_value("69").run()
    at.selectbox(key="ob_structure").set_value("690000001").run()
    assert any(m.value.startswith("Étape actuelle") for m in _ok(at).markdown)
    at.sidebar.selectbox(key="_departments_only").set_value("38").run()
    assert at.selectbox(key="ob_follow_dep").value == "38"
    assert at.selectbox(key="ob_structure").value is None
    assert not any(m.value.startswith("Étape actuelle") for m in _ok(at).markdown)


def test_an_account_without_departments_gets_no_empty_parameter(
    db_with_small_adoption, monkeypatch
):
    nobody = Actor("anim", "animator", ())
    at = _ok(app_as(db_with_small_adoption, monkeypatch, nobody, query_params={"departements": ""}))
    assert "departements" not in at.query_params and not at.sidebar.info
    assert at.info[0].value == "Choisissez au moins un département dans la barre latérale."
