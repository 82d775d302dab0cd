"""The animation pages in a real browser (Chromium via Playwright): Accompagnement (funnel,
board, « À relancer »), Événements (review of a doubtful match, comparison chart) and Écrire au
patient, on the small adoption dataset."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from balise.db import make_engine, upgrade
from balise.services import events, onboarding, onboarding_actions
from balise.services.access import SYSTEM
from tests.support.adoption_seed import seed_small_adoption
from tests.support.browser import settle, shoot
from tests.support.streamlit import start_streamlit
from tests.test_events import MIDI, SHEET_CSV

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def animation_dashboard(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-animation")
    url = f"sqlite:///{tmp / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_small_adoption(engine)
    onboarding.advance_from_facts(engine)  # as ingest does: a page view never advances
    onboarding_actions.plan_follow_up(engine, SYSTEM, "690000001", onboarding_actions.FollowUp(
        "Rappeler la direction", date(2026, 1, 5), assigned_to="Noa Gabarit"))  # fmt: skip
    event_id = events.create_event(engine, SYSTEM, MIDI)
    events.import_attendance(engine, SYSTEM, event_id, SHEET_CSV, "midi.csv")
    engine.dispose()
    env = {"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "38,69", "BALISE_DATA_DIR": str(tmp)}
    server = start_streamlit(env, tmp)
    yield server
    server.stop()


def open_page(page, base: str, url_path: str, heading: str, chart: bool = True) -> None:
    page.goto(f"{base}/{url_path}")
    settle(page, heading, chart=chart)


def test_animation_journey(animation_dashboard, page):
    page.goto(animation_dashboard.url)
    settle(page, "Vue régionale", chart=False)

    # The menu folds its last pages under « Voir plus »: open each page by its address.
    open_page(page, animation_dashboard.url, "accompagnement", "Accompagnement des structures")
    funnel = page.locator(".js-plotly-plot").first
    funnel.locator(".funnellayer .point").first.wait_for(timeout=30_000)
    assert funnel.locator(".funnellayer .point").count() == 7  # one bar per stage
    expect(page.get_by_text("BAL créée (2)")).to_be_visible(timeout=30_000)  # the Isère board
    expect(page.get_by_text("Sacha Témoin", exact=False).first).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="À relancer").click()
    # Data grids draw on a canvas; their cells stay in the DOM for assistive technologies.
    late = page.locator('[data-testid="stDataFrame"]').filter(has_text="Rappeler la direction")
    late.first.wait_for(timeout=10_000)
    shoot(page, "animation-accompagnement")

    open_page(page, animation_dashboard.url, "evenements", "Événements et webinaires")
    page.get_by_text("2 rapprochement(s) à vérifier").wait_for(timeout=30_000)
    page.get_by_role("button", name="Confirmer").first.click()
    page.get_by_text("Rapprochement confirmé.").wait_for(timeout=30_000)
    expect(page.get_by_text("1 rapprochement(s) à vérifier")).to_be_visible(timeout=30_000)
    chart = page.locator(".js-plotly-plot").first
    chart.locator(".scatterlayer .trace").first.wait_for(timeout=30_000)
    assert chart.locator(".scatterlayer .trace").count() == 2
    assert chart.locator(".legendtext").all_text_contents() == ["Participants", "Non participants"]
    shoot(page, "animation-evenements")

    page.locator('[data-testid="stSidebarNav"]').get_by_role(
        "link", name="Écrire au patient"
    ).click()
    settle(page, "Écrire au patient", chart=False)
    field = page.get_by_label("INS du patient")
    field.fill("2 85 03 77 284 173 46")
    field.press("Enter")
    page.get_by_text("Une femme, née en mars 1985", exact=False).wait_for(timeout=30_000)
    address = page.locator("pre code").filter(has_text="285037728417346@patient.mssante.fr")
    address.first.wait_for(timeout=10_000)
    shoot(page, "animation-patient")
