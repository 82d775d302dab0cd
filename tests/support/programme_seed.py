"""The small adoption dataset (``adoption_seed``) plus what the programme reads (indicators, priorities, usage):
a second legal entity in the Isère, unlinked personal mailboxes, « Dématérialisation » flags,
a provisioned and tested BAL, a watched mailbox with activity, onboarding history and a
webinar. Expected figures are worked out in the tests that use it.

Added in the Isère (38): E8 EHPAD and E9 SSIAD of legal entity EJ5 (380000500). E8 gets its ORG
mailbox m10 at snapshot 3 only (it *becomes* equipped: the backtest's positive). E9 is never
linked, but three personal mailboxes name it: m11 and m12 by its SIRET (from snapshot 2), m13
by its name and postcode (from snapshot 3). « Dématérialisation »: m1 N, m2 O, m10 O.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, insert, update

from balise.models import (
    Attendance,
    BalTest,
    DailyActivity,
    Establishment,
    Event,
    Mailbox,
    OnboardingHistory,
    ProvisionedBal,
    WatchedMailbox,
)
from tests.support.adoption_seed import seed_small_adoption

E1, E2, E3, E8, E9 = "380000001", "380000002", "380000003", "380000008", "380000009"
EJ1, EJ5 = "380000100", "380000500"
SIRET_E9 = "12345678900019"
WATCHED = "accueil@tilleuls.mssante.fr"  # m1, E1's ORG mailbox
WEBINAR = ("Midis du collectif #7", date(2026, 10, 12))

_E = {"city": "GRENOBLE", "commune_code": "38185", "department": "38", "is_medico_social": True,
      "snapshot_id": 1, "address": "1 RUE DE LA PAIX", "postcode": "38000"}  # fmt: skip
_M = {"department": "38", "first_seen": 2, "valid_from": 2, "structure_id_type": None,
      "structure_id": None, "link_kind": None, "structure_name": None, "postcode": None,
      "dematerialisation": None}  # fmt: skip


def seed_programme(engine: Engine, demo: bool = False) -> None:
    seed_small_adoption(engine, demo)
    with engine.begin() as conn:
        conn.execute(insert(Establishment), [
            {**_E, "finess_et": E8, "finess_ej": EJ5, "name": "EHPAD Les Glycines",
             "category_code": "500", "siret": None},
            {**_E, "finess_et": E9, "finess_ej": EJ5, "name": "SSIAD du Vercors",
             "category_code": "354", "siret": SIRET_E9},
        ])  # fmt: skip
        conn.execute(insert(Mailbox), [
            {**_M, "id": 10, "address": "soins@glycines.mssante.fr", "bal_type": "ORG",
             "structure_id": E8, "link_kind": "ET", "first_seen": 3, "valid_from": 3,
             "dematerialisation": "O"},
            {**_M, "id": 11, "address": "a.durand@medecin.mssante.fr", "bal_type": "PER",
             "structure_id_type": "3", "structure_id": SIRET_E9},
            {**_M, "id": 12, "address": "b.petit@infirmier.mssante.fr", "bal_type": "PER",
             "structure_id_type": "3", "structure_id": SIRET_E9},
            {**_M, "id": 13, "address": "c.roux@infirmier.mssante.fr", "bal_type": "PER",
             "structure_name": "SSIAD DU VERCORS", "postcode": "38000", "first_seen": 3,
             "valid_from": 3},
        ])  # fmt: skip
        for mailbox_id, flag in ((1, "N"), (2, "O")):
            conn.execute(update(Mailbox).where(Mailbox.id == mailbox_id)
                         .values(dematerialisation=flag))  # fmt: skip
        _seed_bals(conn)
        _seed_activity(conn)
        _seed_animation(conn)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10)


def _seed_bals(conn) -> None:
    """A BAL provisioned for E1, tested OK on 10/11/2026; one for EJ1 (E1 and E2), tested OK
    in August only (outside a September-November quarter); one for E3 whose test failed."""
    now = datetime(2026, 8, 1)
    bals = [("tests@tilleuls.mssante.fr", E1), ("dpi2@asso-grenoble.mssante.fr", EJ1),
            ("essai@chene.mssante.fr", E3)]  # fmt: skip
    conn.execute(insert(ProvisionedBal), [
        {"address": a, "bal_type": "ORG", "department": "38", "finess": f, "backend": "request",
         "status": "test_passed", "created_at": now, "updated_at": now} for a, f in bals
    ])  # fmt: skip
    tests = [("t1", bals[0][0], date(2026, 11, 10), "passed"),
             ("t2", bals[1][0], date(2026, 8, 20), "passed"),
             ("t3", bals[2][0], date(2026, 11, 12), "failed")]  # fmt: skip
    conn.execute(insert(BalTest), [
        {"test_id": i, "sender": a, "recipient": a, "started_at": _at(d), "outcome": o}
        for i, a, d, o in tests
    ])  # fmt: skip


def _seed_activity(conn) -> None:
    """E1's ORG mailbox is watched: 30 + 20 + 25 messages from September to November 2026
    (25 a month over that quarter), and 100 in August."""
    conn.execute(insert(WatchedMailbox).values(
        id=1, address=WATCHED, department="38", imap_host="imap.exemple.fr", imap_port=143,
        tls_mode="starttls", auth_mode="password", folders="", enabled=True,
    ))  # fmt: skip
    days = [(date(2026, 8, 20), "in", 100), (date(2026, 9, 15), "in", 30),
            (date(2026, 10, 10), "out", 20), (date(2026, 11, 5), "in", 25)]  # fmt: skip
    conn.execute(insert(DailyActivity), [
        {"mailbox_id": 1, "day": d, "direction": w, "counterpart_category": "620",
         "messages": n, "bytes": 1000 * n} for d, w, n in days
    ])  # fmt: skip


def _seed_animation(conn) -> None:
    """E3 contacted on 01/10/2026 and made aware on 20/10/2026 (by hand), at the webinar of
    12/10/2026; E1 moved to « BAL créée » automatically on 16/10/2026."""
    history = [(E3, "a_contacter", "contacte", "manuel", date(2026, 10, 1)),
               (E3, "contacte", "sensibilise", "manuel", date(2026, 10, 20)),
               (E1, "a_contacter", "bal_creee", "auto", date(2026, 10, 16))]  # fmt: skip
    conn.execute(insert(OnboardingHistory), [
        {"finess_et": f, "from_stage": a, "to_stage": b, "source": s, "actor": "anim38",
         "at": _at(d)} for f, a, b, s, d in history
    ])  # fmt: skip
    event_id = conn.execute(
        insert(Event).values(title=WEBINAR[0], date=WEBINAR[1], departments="38")
    ).inserted_primary_key[0]
    conn.execute(insert(Attendance).values(event_id=event_id, finess_et=E3,
                                           raw_name="EHPAD Le Chêne", match_kind="exact"))  # fmt: skip
