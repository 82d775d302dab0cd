"""Real-browser journeys: Debian's Chromium driven by Playwright against `streamlit run`.

Open the regional view, pick a department, open a structure, download the pack; every page
shows its chart. Screenshots go to tests/artifacts/ (kept out of git) for a human to look at."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.support.boundaries import VERTICES
from tests.support.browser import ARTIFACTS, settle, shoot, small_adoption_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The app on a seeded demo SQLite store; the default selection is the Rhône only."""
    server = small_adoption_dashboard(tmp_path_factory.mktemp("browser"))
    yield server
    server.stop()


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    settle(page, title)


def test_regional_then_department_then_structure_then_pack(dashboard, page):
    page.goto(dashboard.url)
    settle(page, "Vue régionale")
    expect(page.get_by_text("Données de démonstration")).to_be_visible(timeout=30_000)
    assert metric(page, "ESMS suivis") == "2" and metric(page, "Part équipée") == "50,0\u202f%"
    shoot(page, "01-vue-regionale")
    # The Rhône's boundary, filled: a path of many points (plotly drops some), not a tile's four.
    fills = page.locator(".js-plotly-plot").first.locator(".scatterlayer path.js-fill")
    assert fills.count() == 1 and fills.first.get_attribute("d").count("L") > VERTICES // 4

    go(page, "Département")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stMultiSelect"] input').fill("Isère")
    page.get_by_role("option", name="38 – Isère").click()
    page.keyboard.press("Escape")  # an open list hides the rest of the page from the a11y tree
    page.get_by_role("heading", name="Département").first.wait_for()
    values = '[data-testid="stMetricValue"]'
    page.wait_for_function(
        f"[...document.querySelectorAll('{values}')].some(e => e.innerText === '5')"
    )
    settle(page, "Département")
    assert metric(page, "Structures affichées") == "5"
    shoot(page, "02-departement")

    picker = page.locator('[data-testid="stSelectbox"]').filter(
        has_text="Ouvrir la fiche d'une structure"
    )
    picker.locator("input").fill("Tilleuls")
    page.get_by_role("option", name="EHPAD Les Tilleuls (380000001)").click()
    page.get_by_role("button", name="Ouvrir la fiche").click()
    settle(page, "EHPAD Les Tilleuls")
    assert metric(page, "BAL MSSanté rattachées") == "3"
    shoot(page, "03-structure")

    go(page, "Exports")
    page.get_by_role("button", name="Préparer le pack webinaire").click()
    download_button = page.get_by_role("button", name="Télécharger le pack (xlsx)")
    download_button.wait_for(timeout=30_000)
    with page.expect_download() as info:
        download_button.click()
    # Named by the selection (the two departments of its sheet below) and the day in Paris.
    day = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    assert info.value.suggested_filename == f"balise-pack-38-69-{day}.xlsx"
    target = ARTIFACTS / "pack-webinaire.xlsx"
    info.value.save_as(target)
    wb = load_workbook(target)
    assert wb.sheetnames[:2] == ["Couverture", "Départements"]
    assert [r[0] for r in wb["Départements"].iter_rows(min_row=2, values_only=True)] == [
        "38 – Isère",
        "69 – Rhône",
    ]
    shoot(page, "06-exports")


@pytest.mark.parametrize(
    ("title", "name"), [("Types de BAL", "04-types-de-bal"), ("Évolutions", "05-evolutions")]
)
def test_every_other_page_shows_its_chart(dashboard, page, title, name):
    page.goto(dashboard.url)
    settle(page, "Vue régionale")
    go(page, title)
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    shoot(page, name)


def test_clicking_a_row_of_the_department_table_opens_its_structure(dashboard, page):
    page.goto(dashboard.url)
    settle(page, "Vue régionale")
    go(page, "Département")
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=30_000)
    page.wait_for_timeout(2000)  # the grid is a canvas: let it draw before clicking
    box = grid.bounding_box()
    # The row-selection marker of the first data row (header and rows are ~35 px high).
    page.mouse.click(box["x"] + 21, box["y"] + 53)
    page.wait_for_url("**/structure?departements=*", timeout=30_000)  # the selection follows
    # The structure's own sheet, not the page's empty state: its mailbox count is shown.
    expect(
        page.locator('[data-testid="stMetric"]').filter(has_text="BAL MSSanté rattachées")
    ).to_be_visible(timeout=30_000)
    shoot(page, "04-clic-ligne-structure")


def test_a_page_opened_by_its_address_runs_inside_the_app(dashboard, page):
    """A bookmark to /departement gets the app's menu, selection and access check, not the page
    script alone (what Streamlit does when a ``pages/`` folder sits beside the entry point)."""
    page.goto(f"{dashboard.url.rstrip('/')}/departement")
    settle(page, "Département")
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("Départements", exact=True)).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_role("link", name="Vue régionale")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Page not found")).to_have_count(0)
