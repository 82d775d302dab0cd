"""Real-browser click on the Département page's map: Chromium clicks the drawn point of an ESMS
and lands on that structure's sheet (what AppTest cannot do: it sends no plotly selection)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.adoption_seed import seed_coordinates
from tests.support.browser import ARTIFACTS, chromium, settle, shoot, small_adoption_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dashboard_with_points(tmp_path_factory):
    """The small store with coordinates, the Rhône selected: one placed ESMS (EHPAD Bellecour),
    the IME's reversed coordinates left off the map."""
    server = small_adoption_dashboard(tmp_path_factory.mktemp("browser_map"), seed_coordinates)
    yield server
    server.stop()


def test_clicking_a_point_of_the_map_opens_its_structure(dashboard_with_points):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2200}, locale="fr-FR")
        page.goto(f"{dashboard_with_points.url}/departement")
        settle(page, "Département")
        expect(
            page.get_by_text("1 ESMS sans coordonnées n'est pas placé sur la carte.")
        ).to_be_visible()
        chart = page.locator(".js-plotly-plot").nth(1)
        point = chart.locator(".scatterlayer .trace .points path.point")
        expect(point).to_have_count(1, timeout=30_000)
        point.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        chart.screenshot(path=str(ARTIFACTS / "07-carte-departement.png"))
        box = point.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url("**/structure?*", timeout=30_000)  # the selection follows in the address
        expect(page.get_by_role("heading", name="EHPAD Bellecour")).to_be_visible(timeout=30_000)
        shoot(page, "08-clic-carte-structure")
