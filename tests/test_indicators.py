"""The programme's indicators on a hand-checked store (``programme_seed``), SQLite and
PostgreSQL: every fact, every level, the period boundaries, the drill-down and permissions.

Isère (38), month 11/2026 (directory snapshot 3): 5 ESMS — E1 (m1 ORG « N », m2 PER « O », m3
APP by EJ1), E2 (m3), E3 (nothing), E8 (m10 ORG « O »), E9 (only unlinked personal mailboxes).
Rhône (69): E4 lost its ORG mailbox at snapshot 3, E5's is now a CAB one.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from balise.errors import PermissionDenied
from balise.services import indicators
from balise.services.access import SYSTEM, Actor
from balise.services.esms_facts import period_of
from tests.support.programme_catalogue import write_catalogue
from tests.support.programme_seed import E1, E2, E3, E8, E9, seed_programme

NOV, OCT, SEP = date(2026, 11, 1), date(2026, 10, 1), date(2026, 9, 1)


@pytest.fixture
def db_with_programme(empty_db):
    seed_programme(empty_db)
    return empty_db


@pytest.fixture
def catalogue_dir(tmp_path):
    return write_catalogue(tmp_path / "indicateurs")


def _rows(report, department: str) -> dict[str, tuple]:
    t = report.table[report.table["department"] == department]
    return {r.indicator: (r.units, r.met, round(r.share, 1),
                          None if pd.isna(r.value) else round(r.value, 1))
            for r in t.itertuples()}  # fmt: skip


def test_every_fact_and_level_in_november(db_with_programme, catalogue_dir):
    report = indicators.evaluate(db_with_programme, SYSTEM, ["38", "69"], 2026, NOV,
                                 catalogue_dir)  # fmt: skip
    assert _rows(report, "38") == {
        "org-esms": (5, 3, 60.0, None),  # E1, E2 (APP of EJ1), E8
        "org-ej": (3, 1, 33.3, None),  # EJ1 100 %; E3's EJ 0 %; EJ5 50 % < 80
        "org-dep": (1, 1, 100.0, 60.0),  # 60 % reaches 60
        "demat": (5, 1, 20.0, None),  # E8 100 %; E1 1/3, E2 0/1, E3 and E9 no BAL
        "demat-dep": (1, 0, 0.0, 40.0),  # 2 « O » among 5 BAL-structure links
        "teste": (5, 1, 20.0, None),  # E1 on 10/11; EJ1's BAL in August only; E3's failed
        "messages": (5, 1, 20.0, None),  # E1: 75 messages over 3 months = 25 >= 20
        "messages-dep": (1, 1, 100.0, 5.0),  # 25 a month over 5 ESMS
        "sensibilise": (5, 2, 40.0, None),  # E3 by hand, E1 (BAL créée) automatically
    }
    assert _rows(report, "69")["org-esms"] == (2, 0, 0.0, None)
    assert _rows(report, "69")["org-ej"] == (2, 0, 0.0, None)
    assert report.periods["trimestre"].label == "09/2026 à 11/2026"


def test_directory_facts_are_read_at_the_end_of_the_period(db_with_programme, catalogue_dir):
    october = indicators.evaluate(db_with_programme, SYSTEM, ["38", "69"], 2026, OCT,
                                  catalogue_dir)  # fmt: skip
    assert _rows(october, "38")["org-esms"] == (5, 2, 40.0, None)  # E8 only at snapshot 3
    assert _rows(october, "69")["org-esms"] == (2, 2, 100.0, None)  # m4 and m5 still ORG
    september = indicators.evaluate(db_with_programme, SYSTEM, ["38"], 2026, SEP,
                                    catalogue_dir)  # fmt: skip
    assert _rows(september, "38")["org-esms"] == (5, 0, 0.0, None)  # no directory yet
    assert _rows(september, "38")["sensibilise"] == (5, 0, 0.0, None)  # history from 01/10


def test_drill_down_lists_the_esms_below_each_target(db_with_programme, catalogue_dir):
    report = indicators.evaluate(db_with_programme, SYSTEM, ["38"], 2026, NOV, catalogue_dir)

    def missing(indicator: str) -> list[str]:
        return indicators.misses(report, indicator, "38")["finess_et"].tolist()

    assert sorted(missing("org-esms")) == [E3, E9]
    assert sorted(missing("org-ej")) == [E3, E9]  # E8 meets it itself, in EJ5 that misses
    assert sorted(missing("demat")) == [E1, E2, E3, E9]
    assert sorted(missing("org-dep")) == [E3, E9]  # the department meets it; these lack it
    values = indicators.misses(report, "demat", "38").set_index("finess_et")["value"]
    assert round(values[E1], 1) == 33.3 and values[E2] == 0.0


def test_periods_end_with_the_month():
    assert period_of("mois", date(2026, 11, 17)).label == "11/2026"
    quarter = period_of("trimestre", date(2026, 2, 1))
    assert (quarter.start, quarter.end, quarter.months) == (date(2025, 12, 1), date(2026, 3, 1), 3)
    campaign = period_of("campagne", date(2026, 12, 1))
    assert (campaign.start, campaign.end, campaign.months) == (
        date(2026, 1, 1),
        date(2027, 1, 1),
        12,
    )


def test_an_animator_reads_only_their_departments(db_with_programme, catalogue_dir):
    anim = Actor("anim38", "animator", ("38",))
    with pytest.raises(PermissionDenied, match="^Vous n'avez pas accès au département 69.$"):
        indicators.evaluate(db_with_programme, anim, ["69"], 2026, NOV, catalogue_dir)
    report = indicators.evaluate(db_with_programme, anim, None, 2026, NOV, catalogue_dir)
    assert set(report.table["department"]) == {"38"}
    assert E8 in set(report.esms["finess_et"])
