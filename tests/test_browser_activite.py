"""The Activité page in a real browser (Chromium via Playwright) on a store filled by a real
poll of the Dovecot sandbox: the metrics, the weekly chart and the Sankey are drawn; a box
added with « Suivre une boîte » is listed and « Relever maintenant » reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from tests.support.activity import seed_polled_activity
from tests.support.browser import chromium
from tests.support.dovecot import TEST_SECRET_KEY, unique_address
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
    env = {"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "38",
           "BALISE_SECRET_KEY": TEST_SECRET_KEY}  # fmt: skip
    server = start_streamlit(env, tmp)
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


def test_suivre_une_boite_then_relever_maintenant(activity_dashboard, page, dovecot):
    server, _ = activity_dashboard
    address = unique_address("suivi", "ehpad-rose.test")
    password = dovecot.add_user(address)
    page.goto(server.url)
    settle(page, "Vue régionale")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Activité").click()
    settle(page, "Activité")
    page.get_by_text("Suivre une boîte").click()
    typed = {"Adresse de la boîte": address, "Serveur IMAP": dovecot.host,
             "Port IMAP": str(dovecot.imap_port), "Mot de passe ou jeton": password,
             "Autorités de confiance (fichier PEM)": str(dovecot.ca_path)}  # fmt: skip
    for label, value in typed.items():  # each value is sent when its field is left (Enter)
        page.get_by_label(label, exact=True).fill(value)
        page.get_by_label(label, exact=True).press("Enter")
        page.wait_for_timeout(300)
        settle(page, "Activité")
    page.get_by_role("button", name="Suivre cette boîte").click()
    expect(page.get_by_text(f"Boîte {address} suivie")).to_be_visible(timeout=30_000)
    settle(page, "Activité")
    page.get_by_role("button", name="Relever maintenant").click()  # offered for the new box
    expect(page.get_by_text(f"Boîte {address} relevée : 0 nouveau message compté.")).to_be_visible(
        timeout=30_000
    )
