"""balise.services.activity on SQLite and PostgreSQL: rights and audit of the actions, the
week grouping, the category heuristic, the Sankey flows and the silent mailboxes."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import insert, select

from balise.errors import PermissionDenied, ValidationError
from balise.models import AuditEntry, DailyActivity, WatchedMailbox
from balise.services import activity
from balise.services.access import SYSTEM, Actor
from tests.support.activity import DAC, EHPAD, MIXED, PHARMACIE, seed_directory

KEY = "x" * 43 + "="  # not used: every request below names an env: reference


def _request(address: str, department: str = "38") -> activity.WatchRequest:
    return activity.WatchRequest(
        address=address, department=department, imap_host="imap.example.test", imap_port=143,
        secret_ref="env:BAL_SECRET",
    )  # fmt: skip


def test_actions_check_rights_and_write_one_audit_line(empty_db):
    animator = Actor("anne", "animator", ("01",))
    with pytest.raises(PermissionDenied, match="^Vous n'avez pas accès au département 38.$"):
        activity.add_watched(empty_db, animator, _request("a@b.test"), KEY)
    manager = Actor("marc", "manager")
    with pytest.raises(PermissionDenied):
        activity.add_watched(empty_db, manager, _request("a@b.test"), KEY)
    activity.add_watched(empty_db, animator, _request("a@b.test", "01"), KEY)
    with pytest.raises(ValidationError) as bad:
        activity.add_watched(
            empty_db, SYSTEM, activity.WatchRequest("x@y.test", "38", "h", 0, "tls", "magic"), KEY
        )
    assert [field for field, _ in bad.value.problems] == [
        "tls_mode", "auth_mode", "imap_port",
    ]  # fmt: skip
    with pytest.raises(PermissionDenied):
        activity.remove_watched(empty_db, Actor("bob", "animator", ("38",)), "a@b.test")
    activity.remove_watched(empty_db, animator, "A@B.test")
    with empty_db.connect() as conn:
        audit = conn.execute(
            select(
                AuditEntry.actor, AuditEntry.action, AuditEntry.object, AuditEntry.outcome
            ).order_by(AuditEntry.id)
        ).all()
    # Every refusal leaves its line too (who was refused what is audited); the invalid request
    # is not an action.
    assert [tuple(r) for r in audit] == [
        ("anne", "mailbox.add", "a@b.test", "refused"),
        ("marc", "mailbox.add", "a@b.test", "refused"),
        ("anne", "mailbox.add", "a@b.test", "ok"),
        ("bob", "mailbox.remove", "a@b.test", "refused"),
        ("anne", "mailbox.remove", "a@b.test", "ok"),
    ]
    # An animator only reads their departments.
    activity.add_watched(empty_db, SYSTEM, _request("c@d.test", "38"), KEY)
    assert activity.watched(empty_db, animator).empty
    with pytest.raises(PermissionDenied):
        activity.watched(empty_db, animator, ["38"])


def _activity(engine, rows: list[tuple[str, date, str, str, int]]) -> None:
    ids = {}
    with engine.begin() as conn:
        for address, day, direction, category, n in rows:
            if address not in ids:
                ids[address] = conn.execute(
                    insert(WatchedMailbox).values(
                        address=address, department="38", imap_host="h", imap_port=143,
                        tls_mode="starttls", auth_mode="password", folders="",
                        last_activity_at=datetime.combine(day, datetime.min.time()),
                    )
                ).inserted_primary_key[0]  # fmt: skip
            conn.execute(
                insert(DailyActivity).values(
                    mailbox_id=ids[address], day=day, direction=direction,
                    counterpart_category=category, messages=n, bytes=100 * n,
                )
            )  # fmt: skip


@pytest.mark.parametrize(
    ("reference", "refusal"),
    [
        ("env:", "Le nom de la variable d'environnement du secret est vide."),
        ("env:MON-SECRET", "« MON-SECRET » n'est pas un nom de variable d'environnement "
                           "(lettres, chiffres et _, par exemple BALISE_SECRET_ACCUEIL)."),
        ("file: ", "Le chemin du fichier secret est vide."),
        ("vault:x", "La référence du secret doit commencer par env: ou file:."),
    ],
)  # fmt: skip
def test_a_secret_reference_must_name_a_variable_or_a_file(empty_db, reference, refusal):
    request = activity.WatchRequest("a@b.test", "38", "h.test", 143, secret_ref=reference)
    with pytest.raises(ValidationError) as bad:
        activity.add_watched(empty_db, SYSTEM, request, KEY)
    assert bad.value.problems == [("secret", refusal)]
    good = activity.WatchRequest("a@b.test", "38", "h.test", 143, secret_ref="env:_BAL_2")
    activity.add_watched(empty_db, SYSTEM, good, KEY)


def test_weeks_start_on_monday(empty_db):
    _activity(empty_db, [
        ("a@ehpad-rose.test", date(2026, 3, 2), "in", PHARMACIE, 1),   # Monday
        ("a@ehpad-rose.test", date(2026, 3, 8), "in", PHARMACIE, 2),   # Sunday, same week
        ("a@ehpad-rose.test", date(2026, 3, 9), "in", DAC, 4),         # next Monday
        ("a@ehpad-rose.test", date(2026, 3, 9), "out", DAC, 8),
    ])  # fmt: skip
    df = activity.weekly_messages(empty_db, SYSTEM, ["38"], weeks=4, today=date(2026, 3, 10))
    assert [tuple(r) for r in df.itertuples(index=False)] == [
        (date(2026, 3, 2), "38", "in", 3),
        (date(2026, 3, 9), "38", "in", 4),
        (date(2026, 3, 9), "38", "out", 8),
    ]


def test_domain_heuristic_flows_and_silent_mailboxes(empty_db):
    seed_directory(empty_db, extra={"a@ehpad-rose.test": EHPAD})
    with empty_db.connect() as conn:
        resolved = activity.domain_categories(conn)
    assert resolved == {"ehpad-rose.test": EHPAD, "pharma.test": PHARMACIE, "dac.test": DAC}
    assert MIXED not in resolved  # no majority: unresolved rather than guessed
    _activity(empty_db, [
        ("a@ehpad-rose.test", date(2026, 3, 2), "in", PHARMACIE, 2),
        ("a@ehpad-rose.test", date(2026, 3, 2), "out", DAC, 1),
        ("a@ehpad-rose.test", date(2026, 3, 3), "in", "", 1),
        ("vieux@ailleurs.test", date(2025, 12, 1), "in", DAC, 5),
    ])  # fmt: skip
    flows = activity.category_flows(empty_db, SYSTEM, ["38"], days=30, today=date(2026, 3, 10))
    assert [tuple(r) for r in flows.itertuples(index=False)] == [
        ("Pharmacie", "EHPAD", 2, "Transmission d'une prescription de l'EHPAD à sa pharmacie"),
        ("EHPAD", "DAC", 1, ""),
        ("Non rattachée à un établissement", "EHPAD", 1, ""),
    ]
    head = activity.headline(empty_db, SYSTEM, ["38"], today=date(2026, 3, 10))
    assert head == {"watched": 2, "active_mailboxes": 1, "active_structures": 1}
    silent = activity.silent_mailboxes(empty_db, SYSTEM, ["38"], today=date(2026, 3, 10))
    assert silent["address"].tolist() == ["vieux@ailleurs.test"]
