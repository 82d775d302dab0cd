"""Real browser (Debian's Chromium, Playwright) against `streamlit run`: the department selection
lives in the page address, survives the menu's page switches and a reload. Screenshot in
tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from tests.support.adoption_seed import seed_small_adoption
from tests.support.browser import shoot
from tests.support.streamlit import start_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard(tmp_path):
    """The seeded demo (38 and 69) with the Rhône and the Isère as the default selection."""
    url = f"sqlite:///{tmp_path / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_small_adoption(engine, demo=True)
    engine.dispose()
    server = start_streamlit({"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "38,69"}, tmp_path)
    yield server
    server.stop()


def _settled(pg, heading: str, metric: str, value: str) -> None:
    """The page has run to its end and shows ``metric`` = ``value``."""
    pg.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
    box = pg.locator('[data-testid="stMetric"]').filter(has_text=metric).first
    expect(box.locator('[data-testid="stMetricValue"]')).to_have_text(value, timeout=30_000)
    pg.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def _chips(pg) -> list[str]:
    sidebar = pg.locator('[data-testid="stSidebar"]')
    chips = sidebar.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    return [c.get_attribute("aria-label") for c in chips.all()]


def test_the_selection_survives_page_switches_and_a_reload(dashboard, page):
    page.goto(dashboard.url)
    _settled(page, "Vue régionale", "ESMS suivis", "5")
    expect(page).to_have_url(re.compile(r"\?departements=38%2C69$"), timeout=30_000)

    only = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text="Seulement ce département"
    )
    only.locator("input").fill("Isère")
    page.get_by_role("option", name="38 – Isère").click()
    _settled(page, "Vue régionale", "ESMS suivis", "3")
    expect(page).to_have_url(re.compile(r"\?departements=38$"), timeout=30_000)

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Département").click()
    _settled(page, "Département", "Structures affichées", "3")
    expect(page).to_have_url(re.compile(r"/departement\?departements=38$"), timeout=30_000)

    page.reload()
    _settled(page, "Département", "Structures affichées", "3")
    assert _chips(page) == ["38 – Isère"]
    expect(page).to_have_url(re.compile(r"/departement\?departements=38$"))
    shoot(page, "selection-apres-rechargement")
