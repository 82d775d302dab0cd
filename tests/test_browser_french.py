"""Every page in French, read in a real browser (Debian's Chromium via Playwright): each page of
dashboard/navigation.py is opened on an empty store and on the demo store (« balise demo », plus
an event, a follow-up and the audit lines they leave); every tab and expander is opened, the
visible text is read and checked against English fragments and raw Python values (None, nan, an
ISO date). What Streamlit itself draws in English and cannot be told otherwise is listed in the
README's known limits, and only that is allowed.

Screenshots of every page in both states go to tests/artifacts/pages/ (kept out of git)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from balise.db import make_engine, upgrade
from balise.models import Establishment
from balise.services import events, onboarding_actions
from balise.services.access import SYSTEM
from balise.services.events import EventInput
from dashboard.navigation import PAGES
from tests.support.browser import chromium
from tests.support.streamlit import ROOT, start_streamlit

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "pages"

# What Streamlit writes itself, in English, with no option to change it (README « Limites
# connues » lists each of them; a test below holds the two lists together).
UNTRANSLATABLE = ("Drag and drop file here", "Upload", "200MB per file")

ENGLISH = re.compile(
    r"Choose an option|Choose options|Select all|Select \d+ matches|No results|Show this message"
    r"|Drag and drop|per file|\bUpload\b|\bBrowse files\b|\bempty\b|\bNone\b|\bnan\b|\bNaN\b"
    r"|\bNaT\b|\bTrue\b|\bFalse\b|yyyy|\bAdd:"
    r"|\b\d{4}-\d{2}-\d{2}\b"  # an ISO date
    r"|(?<![\d.])\d+\.\d+(?![\d.])",  # a decimal point (« 0.0163 »), not an IP address
    re.IGNORECASE,
)


def _french_problems(text: str) -> list[str]:
    """The English or raw fragments of ``text``, once Streamlit's own phrases are taken out."""
    for phrase in UNTRANSLATABLE:
        text = text.replace(phrase, "")
    found = []
    for match in ENGLISH.finditer(text):
        start, end = max(match.start() - 40, 0), match.end() + 40
        found.append(f"« {match.group()} » in …{text[start:end]!r}…")
    return found


def _store(tmp: Path, demo: bool) -> dict[str, str]:
    url = f"sqlite:///{tmp / 'balise.db'}"
    env = {"BALISE_DATABASE_URL": url, "BALISE_DATA_DIR": str(tmp)}
    engine = make_engine(url)
    upgrade(engine)
    if demo:
        balise = Path(sys.executable).with_name("balise")
        subprocess.run([balise, "demo"], env={**os.environ, **env}, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        with engine.connect() as conn:
            finess = conn.scalar(
                select(Establishment.finess_et).where(Establishment.department == "38").limit(1)
            )
        events.create_event(engine, SYSTEM, EventInput("Midi MSSanté", date(2026, 11, 5), "",
                                                       ("38", "69")))  # fmt: skip
        onboarding_actions.plan_follow_up(engine, SYSTEM, finess, onboarding_actions.FollowUp(
            "Rappeler la direction", date(2026, 12, 3), assigned_to=None))  # fmt: skip
    engine.dispose()
    return env


@pytest.fixture(scope="module", params=["vide", "demo"])
def dashboard(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"french-{request.param}")
    server = start_streamlit(_store(tmp, demo=request.param == "demo"), tmp)
    yield request.param, server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _settle(page) -> None:
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=30_000)
    page.locator("h1").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)  # let a rerun start before waiting for its end
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(1500)  # grids, date fields and charts draw after the run


def _visible_text(page) -> str:
    """The body's visible text without the names of Material icons (« upload », « map »: a font
    draws them as pictures)."""
    text = page.inner_text("body")
    for name in page.locator('[data-testid="stIconMaterial"]').all_inner_texts():
        text = text.replace(name, "", 1) if name else text
    return text


BLANK_CELL = re.compile(r"^\s*$|^(None|nan|NaN|NaT|empty)$")


def _grid_problems(page) -> list[str]:
    """Data grids draw on a canvas; their accessible table holds each cell's value, where a
    missing value (drawn « None ») is blank and an empty frame (drawn « empty ») has no row."""
    problems = []
    for grid in page.locator('[data-testid="stDataFrame"]').all():
        if not grid.is_visible():
            continue
        grid.locator("table").first.wait_for(state="attached", timeout=10_000)
        headers = " | ".join(grid.locator("th").all_text_contents())
        cells = grid.locator('td[role="gridcell"]').all_text_contents()
        if not cells:
            problems.append(f"empty grid: {headers}")
        blanks = [c for c in cells if BLANK_CELL.match(c)]
        if blanks:
            problems.append(f"{len(blanks)} blank or raw cells in grid: {headers}")
    return problems


# A number of four digits or more written without its thousands space, in a chart (« 1077 »
# where « 1 077 » is meant); a year alone is a date.
BARE_NUMBER = re.compile(r"(?<![\d/,.:])\d{4,}(?![\d/,.:])")


def _chart_problems(page) -> list[str]:
    texts = page.locator(".js-plotly-plot svg text").all_text_contents()
    return [f"chart number « {t} »" for t in texts
            for n in BARE_NUMBER.findall(t) if not re.fullmatch(r"(19|20)\d\d", n)]  # fmt: skip


def _open_expanders(page) -> None:
    """Open the folded expanders (a click on an open one would fold it)."""
    for details in page.locator('[data-testid="stMain"] [data-testid="stExpander"] details').all():
        if details.get_attribute("open") is None:
            details.locator("summary").click()
    page.wait_for_timeout(500)


def _read_everything(page) -> tuple[str, list[str]]:
    """The visible text of the page and its grids' and charts' problems, with every expander
    opened and every tab shown in turn."""
    main = page.locator('[data-testid="stMain"]')
    _open_expanders(page)
    texts, problems = [_visible_text(page)], _grid_problems(page) + _chart_problems(page)
    for tab in main.get_by_role("tab").all():
        tab.click()
        page.wait_for_timeout(800)
        _open_expanders(page)
        texts.append(_visible_text(page))
        problems += _grid_problems(page) + _chart_problems(page)
    return "\n".join(texts), sorted(set(problems))


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_reads_in_french(dashboard, browser, spec):
    state, server = dashboard
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/{spec.url_path}")
        _settle(page)
        text, grids = _read_everything(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{state}-{spec.url_path}.png"), full_page=True)
        crashed = page.locator('[data-testid="stException"]').count()
    finally:
        context.close()
    assert crashed == 0
    assert _french_problems(text) == []
    assert grids == []


def test_the_readme_lists_what_streamlit_cannot_translate():
    limits = (ROOT / "README.md").read_text(encoding="utf-8").split("## Limites connues")[1]
    assert [p for p in UNTRANSLATABLE if f"« {p} »" not in limits] == []


def test_the_check_finds_english_and_raw_values():
    assert _french_problems("Suivie par None le 2026-11-30 · Choose an option · nan") != []
    assert len(_french_problems("None 2026-11-30 Choose an option nan empty")) == 5
    assert _french_problems("Aucune ligne · 30/11/2026 · Upload · Drag and drop file here") == []
