"""Outreach priorities: signals, score and reasons in words, the weights file, and the backtest
(no leakage from after the replayed snapshot; rank-based AUC). SQLite and PostgreSQL.

Isère (38) now: E3 and E9 are not equipped (E8 got m10 at snapshot 3). At snapshot 2
(15/10/2026) E3, E8 and E9 were not; E8 is the one that became equipped.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import insert

from balise.formatting import THIN
from balise.models import Attendance, Event, Mailbox, OnboardingHistory
from balise.referentials.indicator_catalogue import CatalogueError
from balise.referentials.priority_weights import DEFAULT_FILE, parse_weights
from balise.services import backtest, onboarding_actions, priorities
from balise.services.access import SYSTEM
from balise.services.outreach_signals import Moment, signals
from tests.support.programme_seed import E3, E8, E9, SIRET_E9, seed_programme

NOW = datetime(2026, 12, 10)
AT_SNAPSHOT_2 = Moment(2, datetime(2026, 10, 15))


@pytest.fixture
def db_with_programme(empty_db):
    seed_programme(empty_db)
    return empty_db


def test_each_non_equipped_esms_is_scored_with_its_reasons(db_with_programme):
    df = priorities.priorities(db_with_programme, SYSTEM, ["38"], now=NOW)
    assert df.attrs["candidates"] == 2 and df.attrs["maximum"] == 10.5
    assert df[["rank", "finess_et", "score"]].values.tolist() == [[1, E3, 5.83], [2, E9, 3.0]]
    # E3: stage 2 + webinar 1.5 + EHPAD 2/3 equipped x 2 + contact 50 days ago x 1.
    assert df.loc[0, "reasons"] == (
        "étape « Sensibilisé » ; présent à « Midis du collectif #7 » le 12/10/2026 ; "
        f"catégorie équipée à 67{THIN}% dans le département ; dernier contact il y a 50 jours"
    )
    # E9: E8 equipped (1/3 of the cap x 3) + 3 personal BALs (2 by SIRET, 1 by name) + SSIAD 50 %.
    assert df.loc[1, "reasons"] == (
        "1 ESMS du même organisme est équipé ; 3 professionnels de la structure ont une BAL "
        f"personnelle ; catégorie équipée à 50{THIN}% dans le département"
    )


def test_top_limits_the_list_not_the_count(db_with_programme):
    df = priorities.priorities(db_with_programme, SYSTEM, ["38"], top=1, now=NOW)
    assert df["finess_et"].tolist() == [E3] and df.attrs["candidates"] == 2


def test_signals_at_a_snapshot_ignore_everything_that_came_later(db_with_programme):
    before = signals(db_with_programme, ("38",), AT_SNAPSHOT_2)
    assert before.set_index("finess_et").loc[E9, "personal_bals"] == 2  # m13 came at 3
    assert before.set_index("finess_et").loc[E9, "siblings_equipped"] == 0  # E8 equipped at 3
    assert before.set_index("finess_et").loc[E3, "stage"] == "contacte"  # sensibilisé on 20/10
    with db_with_programme.begin() as conn:  # facts dated after 15/10/2026
        event = conn.execute(insert(Event).values(title="Plus tard", date=datetime(2026, 10, 20),
                                                  departments="38")).inserted_primary_key[0]  # fmt: skip
        conn.execute(insert(Attendance).values(event_id=event, finess_et=E8, raw_name="x",
                                               match_kind="exact"))  # fmt: skip
        conn.execute(insert(OnboardingHistory).values(
            finess_et=E9, from_stage="a_contacter", to_stage="bal_demandee", source="manuel",
            actor="anim38", at=datetime(2026, 11, 2)))  # fmt: skip
        conn.execute(insert(Mailbox).values(
            id=14, address="d.noir@medecin.mssante.fr", bal_type="PER", department="38",
            structure_id_type="3", structure_id=SIRET_E9, first_seen=3, valid_from=3))  # fmt: skip
        conn.execute(insert(Mailbox).values(
            id=15, address="ssiad@vercors.mssante.fr", bal_type="ORG", department="38",
            structure_id=E9, link_kind="ET", first_seen=3, valid_from=3))  # fmt: skip
    after = signals(db_with_programme, ("38",), AT_SNAPSHOT_2)
    pd.testing.assert_frame_equal(before, after)
    assert E9 not in set(signals(db_with_programme, ("38",), Moment.now())["finess_et"])


def test_a_follow_up_recorded_is_a_contact_from_its_time_on(db_with_programme):
    onboarding_actions.plan_follow_up(
        db_with_programme, SYSTEM, E9, onboarding_actions.FollowUp("Appeler")
    )
    now = signals(db_with_programme, ("38",), Moment.now()).set_index("finess_et")
    assert not pd.isna(now.loc[E9, "last_contact"])
    past = signals(db_with_programme, ("38",), Moment(None, datetime(2026, 1, 1)))
    assert past.set_index("finess_et").loc[E9, "last_contact"] is pd.NaT


def test_backtest_replays_the_snapshots(db_with_programme):
    # At 15/10/2026: E3 3.17 (EHPAD 1/3, webinar of 12/10, contacted 01/10), E9 1.67, E8 0.67;
    # only E8 became equipped: ranked last.
    result = backtest.backtest(db_with_programme, SYSTEM, ["38", "69"], k=1)
    assert (result.snapshots, result.pairs, result.structures, result.positives) == (1, 3, 3, 1)
    assert (result.hits, result.picked, result.precision, result.lift) == (0, 1, 0.0, 0.0)
    assert result.auc == 0.0 and result.base_rate == pytest.approx(1 / 3)
    everyone = backtest.backtest(db_with_programme, SYSTEM, ["38"], k=3)
    assert everyone.lift == pytest.approx(1.0)
    assert everyone.per_snapshot == [{"snapshot_id": 2, "date": "2026-10-15", "scored": 3,
                                      "positives": 1, "hits": 1, "picked": 3, "auc": 0.0}]  # fmt: skip


def test_backtest_needs_two_snapshots(empty_db):
    assert backtest.backtest(empty_db, SYSTEM, ["38"]).snapshots == 0


@pytest.mark.parametrize(
    ("scores", "positive", "auc"),
    [
        ([0.1, 0.4, 0.35, 0.8], [False, False, True, True], 0.75),
        ([1, 1, 1], [True, False, False], 0.5),  # ties count one half
        ([3, 2, 1], [True, False, False], 1.0),
        ([1, 2], [True, True], None),  # one class only
    ],
)
def test_roc_auc_from_ranks(scores, positive, auc):
    assert backtest.roc_auc(scores, positive) == auc


def test_the_weights_file_is_checked():
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    assert parse_weights(text, "priorites.toml").weights["organisme_equipe"] == 3.0
    with pytest.raises(CatalogueError) as info:
        parse_weights(text.replace("etape = 2.0", 'etape = "fort"'), "priorites.toml")
    assert str(info.value) == (
        "priorites.toml : [poids] etape doit être un nombre positif ou nul sans guillemets, "
        "pas « fort »."
    )
    with pytest.raises(CatalogueError, match=r"^priorites.toml : le champ « contact_jours » "):
        parse_weights(text.replace("contact_jours = 90", ""), "priorites.toml")
