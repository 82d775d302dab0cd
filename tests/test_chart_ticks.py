"""The test history chart drawn by plotly.js in Chromium: its time axis never repeats a label
(four tests within one minute once showed four « 30/11 09:34 »)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from balise.referentials.lifecycles import RoundTripOutcome
from dashboard import charts
from tests.support.browser import chromium

pytestmark = pytest.mark.browser


def _history(start: datetime, step: timedelta, n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debut": [start + i * step for i in range(n)],
            "resultat": [RoundTripOutcome.PASSED] * n,
            "adresse": [f"bal{i}@ehpad.mssante.fr" for i in range(n)],
            "connexion_s": [0.1] * n, "authentification_s": [0.1] * n,
            "envoi_s": [0.2] * n, "reception_s": [1.5 + i for i in range(n)],
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def page():
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 900, "height": 500})


def _tick_labels(page, fig, path) -> list[str]:
    fig.write_html(path, include_plotlyjs=True, full_html=True)  # plotly.js inline: offline
    page.goto(path.as_uri())
    page.locator(".xtick text").first.wait_for(timeout=30_000)
    return page.locator(".xtick text").all_text_contents()


@pytest.mark.parametrize(
    ("step", "shape"),
    [
        (timedelta(seconds=10), r"^\d{2}:\d{2}:\d{2}$"),  # within one minute: seconds shown
        (timedelta(minutes=20), r"^\d{2}/\d{2} \d{2}:\d{2}$"),
        (timedelta(days=3), r"^\d{2}/\d{2}/\d{4}$"),
    ],
    ids=["secondes", "minutes", "jours"],
)
def test_test_history_ticks_are_distinct_and_french(page, tmp_path, step, shape):
    fig = charts.roundtrip_latency(_history(datetime(2026, 11, 30, 9, 34, 5), step))
    labels = _tick_labels(page, fig, tmp_path / "latence.html")
    assert len(labels) >= 2
    assert len(set(labels)) == len(labels), labels
    assert all(pd.Series(labels).str.match(shape)), labels


def test_a_single_test_gets_whole_minute_ticks(page, tmp_path):
    """One test alone once showed four « 11:17:03 » (plotly spread its ticks over milliseconds)."""
    fig = charts.roundtrip_latency(_history(datetime(2026, 11, 30, 11, 17, 3), timedelta(0), n=1))
    labels = _tick_labels(page, fig, tmp_path / "latence.html")
    assert len(labels) >= 2
    assert len(set(labels)) == len(labels), labels
    assert all(pd.Series(labels).str.match(r"^\d{2}/\d{2} \d{2}:\d{2}$")), labels
