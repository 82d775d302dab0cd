"""Organismes gestionnaires (EJ) and usage beside peers, on ``programme_seed``; SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from balise.errors import NotFoundError
from balise.models import DailyActivity, WatchedMailbox
from balise.referentials.priority_weights import DEFAULT_FILE
from balise.services import organisations, usage_peers
from balise.services.access import SYSTEM, Actor
from tests.support.programme_seed import E1, E2, EJ1, EJ5, WATCHED, seed_programme


@pytest.fixture
def db_with_programme(empty_db):
    seed_programme(empty_db)
    return empty_db


def test_one_row_per_legal_entity_with_its_esms_and_bals(db_with_programme):
    df = organisations.organisations(db_with_programme, SYSTEM, ["38"])
    rows = df[["finess_ej", "esms", "equipped", "share", "esms_names", "mailboxes_per",
               "mailboxes_org", "mailboxes_app", "mailboxes"]].values.tolist()  # fmt: skip
    assert rows == [
        [EJ1, 2, 2, 100.0, "EHPAD Les Tilleuls, SSIAD du Grésivaudan", 1, 1, 1, 3],  # m3 once
        [EJ5, 2, 1, 50.0, "EHPAD Les Glycines, SSIAD du Vercors", 0, 1, 0, 1],
        ["380000300", 1, 0, 0.0, '=HYPERLINK("http://x") EHPAD Le Chêne', 0, 0, 0, 0],
    ]


def test_high_leverage_follows_the_rule_in_the_weights_file(db_with_programme, tmp_path):
    assert organisations.high_leverage(db_with_programme, SYSTEM, ["38"]).empty  # 3 ESMS minimum
    weights = tmp_path / "priorites.toml"
    weights.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace("esms_min = 3",
                                                                        "esms_min = 2"))  # fmt: skip
    df = organisations.high_leverage(db_with_programme, SYSTEM, ["38"], weights)
    assert df[["finess_ej", "to_equip"]].values.tolist() == [[EJ5, 1]]  # EJ1 is all equipped


def test_an_organisations_esms_and_their_bals(db_with_programme):
    df = organisations.organisation_esms(db_with_programme, SYSTEM, EJ1).set_index("finess_et")
    assert df.loc[E1, "bals"] == (
        "APP dpi@asso-grenoble.mssante.fr (EJ) ; ORG accueil@tilleuls.mssante.fr ; "
        "PER jean.martin@medecin.mssante.fr"
    )
    assert df.loc[E2, "bals"] == "APP dpi@asso-grenoble.mssante.fr (EJ)"
    anim = Actor("anim38", "animator", ("38",))
    with pytest.raises(NotFoundError) as info:
        organisations.organisation_esms(db_with_programme, anim, "690000100")
    assert str(info.value) == "Aucun ESMS lisible pour l'organisme gestionnaire FINESS 690000100."


def test_watched_bals_beside_the_median_of_their_category(db_with_programme):
    with db_with_programme.begin() as conn:  # E8's ORG mailbox, watched: 5 messages in October
        conn.execute(
            insert(WatchedMailbox).values(
                id=2,
                address="soins@glycines.mssante.fr",
                department="38",
                imap_host="h",
                imap_port=143,
                tls_mode="starttls",
                auth_mode="password",
                folders="",
                enabled=True,
            )
        )
        conn.execute(insert(DailyActivity).values(
            mailbox_id=2, day=date(2026, 10, 10), direction="out", counterpart_category="",
            messages=5, bytes=1))  # fmt: skip
    df = usage_peers.peer_usage(db_with_programme, SYSTEM, ["38"], today=date(2026, 11, 30))
    rows = df.round(2).values.tolist()
    # 90 days back from 30/11: 30 + 20 + 25 on E1's box (the 100 of August are older).
    assert rows == [
        [WATCHED, "38", "500", 25.0, 13.33, 2, 35.0],
        ["soins@glycines.mssante.fr", "38", "500", 1.67, 13.33, 2, 35.0],
    ]
    assert usage_peers.national_usage().per_mailbox == 35.0
