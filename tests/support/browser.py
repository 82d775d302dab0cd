"""Debian's Chromium driven by Playwright, the one way the browser tests launch it (recipes.md:
never `playwright install`; these flags keep it quiet and offline)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from balise.db import make_engine, upgrade
from tests.support.adoption_seed import seed_small_adoption
from tests.support.boundaries import write_boundary_file
from tests.support.streamlit import StreamlitServer, start_streamlit

# Screenshots for a human to look at (kept out of git; CI keeps them as artefacts).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def small_adoption_dashboard(
    tmp: Path, seed: Callable[[Engine], None] | None = None
) -> StreamlitServer:
    """``streamlit run`` on the small demo store (plus ``seed``), the Rhône selected, with a
    generated boundary file: the set-up the journeys share. The caller stops the server."""
    url = f"sqlite:///{tmp / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_small_adoption(engine, demo=True)
    if seed is not None:
        seed(engine)
    engine.dispose()
    geojson = write_boundary_file(tmp / "departements.geojson")
    env = {"BALISE_DATABASE_URL": url, "BALISE_DEPARTMENTS": "69", "BALISE_GEOJSON": str(geojson)}
    return start_streamlit(env, tmp)


def settle(page, heading: str, chart: bool = True) -> None:
    """Wait for the page's title, its chart, and the end of the script run."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
    if chart:
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(300)  # plotly's transition


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
