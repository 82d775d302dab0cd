"""The Activité page in a real browser (Chromium via Playwright) on a store filled by a real
poll of the Dovecot sandbox: the metrics, the weekly chart and the Sankey are drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from tests.support.activity import seed_polled_activity
from tests.support.browser import chromium
from tests.support.streamlit import start_streamlit

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.mail]


@pytest.fixture(scope="module")
def activity_dashboard(tmp_path_factory, dovecot):
    tmp = tmp_path_factory.mktemp("browser-activite")
    url = f"sqlite:///{tmp / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    boxes = seed_polled_activity(engine, dovecot)
    engine.dispose()
    server = start_streamlit({"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "38"}, tmp)
    yield server, boxes
    server.stop()


@pytest.fixture(scope="module")
def page():
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 2000}, locale="fr-FR")
        yield context.new_page()
        context.close()


def settle(page, heading: str) -> None:
    """Wait for the page's title and the end of the script run."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_activite_journey(activity_dashboard, page):
    server, boxes = activity_dashboard
    page.goto(server.url)
    settle(page, "Vue régionale")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Activité").click()
    settle(page, "Activité")
    assert metric(page, "BAL suivies") == "4"
    assert metric(page, "BAL actives (30 jours)") == "2"
    charts = page.locator(".js-plotly-plot")
    charts.nth(1).locator(".sankey").wait_for(timeout=30_000)
    assert charts.count() == 2
    # Four flows drawn between the categories (Pharmacie→EHPAD, DAC→EHPAD, EHPAD→Pharmacie...).
    assert charts.nth(1).locator(".sankey-link").count() == 4
    expect(page.get_by_text("Dernière relève de chaque boîte")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(300)  # plotly's transition
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "activite.png"), full_page=True)
