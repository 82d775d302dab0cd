"""The Activité page in a real browser (Chromium via Playwright) on a store filled by a real
poll of the Dovecot sandbox: the metrics, the weekly chart and the Sankey are drawn."""

from __future__ import annotations

import pytest

from balise.db import make_engine, upgrade
from tests.support.activity import seed_polled_activity
from tests.support.streamlit import start_streamlit
from tests.test_browser import browser, go, metric, page, settle, shoot  # noqa: F401 (fixtures)

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


def test_activite_journey(activity_dashboard, page):  # noqa: F811 (pytest fixture)
    server, boxes = activity_dashboard
    page.goto(server.url)
    settle(page, "Vue régionale", chart=False)
    go(page, "Activité")
    assert metric(page, "BAL suivies") == "4"
    assert metric(page, "BAL actives (30 jours)") == "2"
    charts = page.locator(".js-plotly-plot")
    charts.nth(1).locator(".sankey").wait_for(timeout=30_000)
    assert charts.count() == 2
    # Four flows drawn between the categories (Pharmacie→EHPAD, DAC→EHPAD, EHPAD→Pharmacie...).
    assert charts.nth(1).locator(".sankey-link").count() == 4
    assert page.get_by_text("Dernière relève de chaque boîte").is_visible()
    shoot(page, "activite")
