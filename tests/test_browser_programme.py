"""The Programme page in a real browser (Chromium via Playwright) on ``programme_seed``: the
indicator × department table, the drill-down and an organisation's BALs are drawn."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from tests.support.browser import settle, shoot
from tests.support.programme_catalogue import write_catalogue
from tests.support.programme_seed import seed_programme
from tests.support.streamlit import start_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def programme_dashboard(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-programme")
    url = f"sqlite:///{tmp / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_programme(engine)
    engine.dispose()
    env = {"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "38,69", "BALISE_DATA_DIR": str(tmp),
           "BALISE_INDICATORS_DIR": str(write_catalogue(tmp / "ind"))}  # fmt: skip
    server = start_streamlit(env, tmp)
    yield server
    server.stop()


def _grid(pg, text: str):
    # Data grids draw on a canvas; their cells stay in the DOM for assistive technologies.
    grid = pg.locator('[data-testid="stDataFrame"]').filter(has_text=text)
    grid.first.wait_for(timeout=30_000)
    return grid.first


def test_programme_journey(programme_dashboard, page):
    page.goto(f"{programme_dashboard.url}/programme")
    settle(page, "Programme ESMS numérique", chart=False)
    table = _grid(page, "Organismes équipés en BAL ORG ou APP")
    expect(table).to_contain_text("60,0\u202f% (3/5)")
    expect(table).to_contain_text("✔ 60,0\u202f%")
    # The drill-down of the first indicator in the Isère: E3 and E9 have no ORG or APP BAL.
    below = _grid(page, "380000009")
    expect(below).to_contain_text("SSIAD du Vercors")
    shoot(page, "programme-indicateurs")
    page.get_by_role("tab", name="Organismes gestionnaires").click()
    expect(page.get_by_text("Aucun organisme à fort levier dans la sélection.")).to_be_visible()
    _grid(page, "EHPAD Les Glycines, SSIAD du Vercors")
    shoot(page, "programme")
