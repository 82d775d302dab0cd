"""The Vue régionale tells what ``balise sources`` tells (a banner, one line per problem), and the
trend shows a gap in the history as a gap: the line breaks, the span is shaded and named, no
point is invented."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import update

from balise.clock import utc_now
from balise.formatting import fr_datetime
from balise.models import Snapshot
from balise.services import sources
from dashboard import charts
from dashboard.markdown import plain
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import open_page

REFUSED = "Le serveur mon_miroir.test a refusé le téléchargement (code HTTP 503)."


def _banner(at) -> list[str]:
    """The sources banner (its hourglass tells it from the demo and accounts warnings)."""
    return [w.value for w in at.warning if w.icon == "⏳"]


def _regional(engine, monkeypatch):
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    at = open_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Vue régionale"
    return at


def test_the_regional_view_shows_the_sources_problems(empty_db, monkeypatch):
    seed_small_adoption(empty_db, demo=True)
    fresh = utc_now() - timedelta(hours=1)
    with empty_db.begin() as conn:  # both sources changed an hour ago: nothing stale
        conn.execute(update(Snapshot).values(ingested_at=fresh))
    at = _regional(empty_db, monkeypatch)
    assert _banner(at) == []
    assert "**Données de démonstration** : ces chiffres sont fictifs." in [
        w.value for w in at.warning
    ]

    checked = utc_now()
    sources.record_check(empty_db, "annuaire", "https://mon_miroir.test/r/annuaire",
                         checked_at=checked, outcome="failed", message=REFUSED)  # fmt: skip
    at = _regional(empty_db, monkeypatch)
    assert _banner(at) == [
        f"- Annuaire MSSanté : la dernière vérification ({fr_datetime(checked)}) a échoué : "
        "Le serveur mon\\_miroir.test a refusé le téléchargement (code HTTP 503)."
    ]
    assert at.metric[0].label == "ESMS suivis"  # the page goes on below the banner


def test_the_banner_lists_every_problem_of_balise_sources(empty_db, monkeypatch):
    seed_small_adoption(empty_db, demo=True)  # snapshots of 01/10 and 15/11/2026: stale since
    at = _regional(empty_db, monkeypatch)
    from balise.config import load_settings

    expected = sources.problems(empty_db, load_settings())
    assert [p.split(" : ")[0] for p in expected] == ["Annuaire MSSanté", "FINESS"]
    assert _banner(at) == ["\n".join(f"- {plain(p)}" for p in expected)]


def test_plain_text_is_never_markdown():
    assert plain("a_b *c* [d](e) `f` <g> #h |i| ~j~ $k$ \\") == (
        "a\\_b \\*c\\* \\[d\\](e) \\`f\\` \\<g\\> \\#h \\|i\\| \\~j\\~ \\$k\\$ \\\\"
    )


def _trend(dates: list[str]) -> pd.DataFrame:
    n = len(dates)
    return pd.DataFrame({
        "snapshot_id": range(1, n + 1), "date": pd.to_datetime(dates),
        "structures": [10] * n, "equipped": list(range(1, n + 1)),
        "share": [10.0 * i for i in range(1, n + 1)],
    })  # fmt: skip


def test_the_trend_breaks_at_a_publication_gap():
    # Daily snapshots, then nothing from 30/07 to 08/08/2026 (the gap of the summer of 2026).
    days = ["2026-07-26", "2026-07-27", "2026-07-28", "2026-07-29", "2026-08-09", "2026-08-10"]
    figure = charts.trend_line(_trend(days)).to_plotly_json()
    line = figure["data"][0]
    assert list(line["y"]) == [10.0, 20.0, 30.0, 40.0, None, 50.0, 60.0]
    assert pd.Timestamp(line["x"][4]) == pd.Timestamp("2026-08-03 12:00")  # the break, no point
    assert line["connectgaps"] is False
    assert line["text"][4] == ""
    (shade,) = figure["layout"]["shapes"]
    assert (pd.Timestamp(shade["x0"]), pd.Timestamp(shade["x1"])) == (
        pd.Timestamp("2026-07-29"), pd.Timestamp("2026-08-09")
    )  # fmt: skip
    (note,) = figure["layout"]["annotations"]
    assert note["text"] == "aucun instantané entre le 29/07/2026 et le 09/08/2026"


def test_a_regular_history_has_no_gap():
    weekly = [f"2026-10-{d:02d}" for d in (1, 8, 15, 22, 29)] + ["2026-11-12"]  # one missed
    assert charts.publication_gaps(pd.Series(pd.to_datetime(weekly))) == []  # 14 days: 2x7
    assert charts.publication_gaps(pd.to_datetime(pd.Series(weekly[:2]))) == []
    # Several imports a day: the usual interval is taken as a day at least.
    hours = pd.Series(pd.to_datetime([f"2026-10-01 {h:02d}:00" for h in (3, 4, 5, 10)]))
    assert charts.publication_gaps(hours) == []
    later = pd.concat([hours, pd.Series(pd.to_datetime(["2026-10-04 10:00"]))])
    assert charts.publication_gaps(later) == [
        (pd.Timestamp("2026-10-01 10:00"), pd.Timestamp("2026-10-04 10:00"))
    ]
    assert list(charts.trend_line(_trend(weekly)).to_plotly_json()["data"][0]["y"]) == [
        10.0, 20.0, 30.0, 40.0, 50.0, 60.0
    ]  # fmt: skip
