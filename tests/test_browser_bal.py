"""Browser journey (real Chromium, real Dovecot sandbox): from a structure's page to the
Provisionner page with that structure picked, provision a BAL for it, find the structure again by
typing its name in the Tester page's search box, test its BAL, see each step green and the
result in the history chart. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from balise.formatting import THIN
from balise.secrets import new_key
from tests.support.browser import chromium
from tests.support.dovecot import unique_address
from tests.support.finess import AIN_EHPAD, seed_establishment
from tests.support.streamlit import start_streamlit

pytestmark = [pytest.mark.browser, pytest.mark.mail]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOMAIN = "ehpad-lilas.mssante.fr"


@pytest.fixture
def dashboard(tmp_path, dovecot):
    url = f"sqlite:///{tmp_path / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_establishment(engine)  # EHPAD Les Lilas, BOURG-EN-BRESSE (01)
    engine.dispose()
    env = {
        "BALISE_DATABASE_URL": url,
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_DEPARTMENTS": "01",
        "BALISE_ALLOWED_DOMAINS": DOMAIN,
        "BALISE_SECRET_KEY": new_key(),
        **dovecot.provisioning_env(),
    }
    server = start_streamlit(env, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def page(dashboard):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 2000}, locale="fr-FR")
        yield context.new_page()


def _settled(page, heading: str) -> None:
    """The page has run to its end (its heading, the sidebar selection, no running status)."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("01 – Ain")).to_be_visible(timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def _type(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    # Let the rerun start before waiting for its end, then check the value survived it (typing
    # into the next field during a rerun can lose text).
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    expect(field).to_have_value(value, timeout=10_000)


def _pick_structure(page, typed: str, label: str) -> None:
    """Type in the « Structure » search box and take the option it narrows to."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Structure").first
    box.click()
    page.keyboard.type(typed)
    page.get_by_role("option", name=label).click()
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def test_provision_then_test_then_see_the_result(dashboard, page):
    page.goto(dashboard.url)
    # Navigate once the first page has run: a click during that run makes Streamlit rerun with
    # the widgets it has seen so far, and the sidebar's default selection comes back empty.
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("01 – Ain")).to_be_visible(timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Structure").click()
    _settled(page, "Structure")
    expect(page.get_by_role("heading", name="EHPAD Les Lilas")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Tester ses BAL")).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "bal-00-structure.png"), full_page=True)
    page.get_by_role("link", name="Provisionner une BAL").click()
    _settled(page, "Provisionner des BAL")
    assert f"finess={AIN_EHPAD}" in page.url
    expect(page.get_by_text("opérateur bac à sable").first).to_be_visible(timeout=30_000)
    card = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="EHPAD Les Lilas")
    expect(card.first).to_contain_text(f"FINESS {AIN_EHPAD}", timeout=30_000)
    expect(card.first).to_contain_text("01 – Ain")
    # An empty form is not wrong yet: no red box before the first click.
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    address = unique_address("jeanne", DOMAIN)
    _type(page, "Prénom du titulaire", "Jeanne")
    _type(page, "Nom du titulaire", "Durand")
    _type(page, "RPPS ou ADELI du titulaire", "10003456787")
    expect(page.get_by_text("a une clé de contrôle RPPS fausse")).to_have_count(0)
    page.get_by_role("button", name="Provisionner").click()
    expect(page.get_by_text("a une clé de contrôle RPPS fausse")).to_be_visible(timeout=30_000)
    _type(page, "RPPS ou ADELI du titulaire", "10003456786")
    _type(page, "Adresse", address)
    expect(page.get_by_text("La demande respecte les règles")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Provisionner").click()
    page.get_by_text(f"BAL {address} créée.").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "bal-01-provisionner.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Tester").click()
    _settled(page, "Tester des BAL")
    _pick_structure(page, "bourg", f"EHPAD Les Lilas – BOURG-EN-BRESSE – FINESS {AIN_EHPAD}")
    expect(page.get_by_text(address).first).to_be_visible(timeout=30_000)  # its BAL, listed
    page.get_by_role("button", name="Lancer les tests").click()
    page.get_by_text("Message reçu dans la boîte de réception.").wait_for(timeout=60_000)
    # Each step's line ends green: a check icon, the step, its time.
    for step in ("Connexion", "Authentification", "Envoi", "Réception"):
        line = (
            page.locator('[data-testid="stMarkdownContainer"]')
            .filter(has_text=re.compile(rf"{step} \d"))
            .last
        )
        # « 0,03 s »: the unit after a narrow no-break space, as balise.formatting writes it.
        assert "check_circle" in line.inner_text() and line.inner_text().endswith(f"{THIN}s")
    page.screenshot(path=str(ARTIFACTS / "bal-02-tester.png"), full_page=True)

    page.get_by_role("tab", name="Historique").click()
    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
    expect(page.get_by_text("Durée des tests aller-retour").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "bal-03-historique.png"), full_page=True)
