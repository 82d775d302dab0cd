"""The poll against a real Dovecot, on SQLite and PostgreSQL: counts per day, direction and
category equal what was delivered in every auth mode; nothing private reaches the database;
UIDVALIDITY resets; every fault marks its own mailbox while the others are polled."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from balise.formatting import THIN
from balise.models import DailyActivity, FolderState, WatchedMailbox
from balise.services.access import SYSTEM
from ingest.activity_store import take_leases
from ingest.poll import BUSY, run_poll
from ingest.sources.mail_headers import ACTIVITY_TZ
from sandbox.harness import running_sandbox
from tests.support.activity import (
    DAC,
    EHPAD,
    MIXED,
    PHARMACIE,
    append,
    at_noon,
    raw_message,
    seed_directory,
    watch,
)
from tests.support.dovecot import (
    AUTH_MODES,
    TEST_SECRET_KEY,
    add_operator_account,
    unique_address,
)
from tests.support.store_dump import all_text

pytestmark = pytest.mark.mail

D1, D2 = date(2026, 3, 2), date(2026, 3, 4)


def poll(engine, **kw):
    kw.setdefault("timeout", 10.0)
    return run_poll(engine, SYSTEM, secret_key=TEST_SECRET_KEY, **kw)


def counts(engine, address: str) -> dict[tuple, int]:
    d, w = DailyActivity, WatchedMailbox
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.day, d.direction, d.counterpart_category, d.messages)
            .join(w, w.id == d.mailbox_id)
            .where(w.address == address)
        ).all()
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def status(engine, address: str):
    with engine.connect() as conn:
        stmt = select(WatchedMailbox.__table__).where(WatchedMailbox.address == address)
        return conn.execute(stmt).one()


def deliver_sample(dovecot, address: str, password: str) -> dict[tuple, int]:
    """Mail through the server in INBOX and Sent; returns the counts the poll must find."""
    append(
        dovecot, address, password, "INBOX",
        [
            (raw_message("a@pharma.test", [address]), at_noon(D1)),
            (raw_message("b@pharma.test", [address]), at_noon(D1)),
            (raw_message("a@dac.test", [address]), at_noon(D2)),
            (raw_message(f"x@{MIXED}", [address]), at_noon(D2)),
        ],
    )  # fmt: skip
    append(
        dovecot, address, password, "Sent",
        [
            # First resolvable counterpart wins: unknown domain first, then the EHPAD.
            (raw_message(address, ["z@inconnu.test", "a@ehpad-rose.test"], ["a@dac.test"]),
             at_noon(D1)),
            (raw_message(address, ["b@dac.test"]), at_noon(D2)),
        ],
    )  # fmt: skip
    # A draft in Sent was never exchanged: not counted.
    append(dovecot, address, password, "Sent", [(raw_message(address, ["a@dac.test"]),
           at_noon(D2))], flags=(b"\\Draft",))  # fmt: skip
    return {
        (D1, "in", PHARMACIE): 2,
        (D2, "in", DAC): 1,
        (D2, "in", ""): 1,
        (D1, "out", EHPAD): 1,
        (D2, "out", DAC): 1,
    }


@pytest.mark.parametrize(("auth_mode", "tls_mode"), AUTH_MODES)
def test_counts_equal_what_was_delivered(empty_db, dovecot, auth_mode, tls_mode):
    seed_directory(empty_db)
    address = unique_address("compte")
    password = watch(empty_db, dovecot, address, auth_mode, tls_mode)
    expected = deliver_sample(dovecot, address, password)

    report = poll(empty_db)
    assert [(o.address, o.ok, o.messages) for o in report.outcomes] == [(address, True, 6)]
    assert counts(empty_db, address) == expected
    row = status(empty_db, address)
    assert row.last_poll_ok is True and row.last_poll_message is None
    assert row.poll_lease_until is None
    assert row.last_activity_at.date() == D2

    # Incremental: nothing new, nothing counted twice; then one new message (LMTP, today).
    assert poll(empty_db).outcomes[0].messages == 0
    assert counts(empty_db, address) == expected
    dovecot.deliver(address, raw_message("b@ehpad-rose.test", [address]))
    assert poll(empty_db).outcomes[0].messages == 1
    today = counts(empty_db, address)
    new = {k: v for k, v in today.items() if k not in expected}
    assert list(new.values()) == [1] and next(iter(new))[1:] == ("in", EHPAD)


def test_no_subject_body_or_address_reaches_the_database(empty_db, dovecot):
    seed_directory(empty_db)
    address = unique_address("prive")
    password = watch(empty_db, dovecot, address)
    secrets = {
        "subject": "Compte-rendu Mme Zoé Quatrepoint",
        "body": "Patiente née le 02/03/1941, INS 2410375108116",
        "sender": "dr.quatrepoint-expediteur@pharma.test",
        "recipient": "infirmiere.destinataire-unique@dac.test",
        "cc": "copie.secrete-unique@ehpad-rose.test",
    }
    dovecot.deliver(
        address,
        raw_message(secrets["sender"], [address], subject=secrets["subject"], body=secrets["body"]),
    )
    append(dovecot, address, password, "Sent", [(raw_message(
        address, [secrets["recipient"]], [secrets["cc"]], secrets["subject"], secrets["body"]),
        at_noon(D1))])  # fmt: skip
    assert poll(empty_db).outcomes[0].messages == 2
    dump = all_text(empty_db).lower()
    assert "daily_activity" not in dump  # sanity: the dump holds values, not names
    assert str(PHARMACIE) in dump  # the counts are there...
    for label, value in secrets.items():  # ...and none of the private values
        for piece in (value, value.split("@")[0]):
            assert piece.lower() not in dump, f"{label} leaked into the database"
    assert "2410375108116" not in dump
    assert "quatrepoint" not in dump


def test_uidvalidity_reset_resynchronises_without_counting_twice(empty_db, dovecot):
    seed_directory(empty_db)
    address = unique_address("uidv")
    password = watch(empty_db, dovecot, address)
    old = raw_message(address, ["a@pharma.test"])
    append(dovecot, address, password, "Sent", [(old, at_noon(D1))])
    poll(empty_db)
    assert counts(empty_db, address) == {(D1, "out", PHARMACIE): 1}
    with empty_db.connect() as conn:
        before = conn.scalar(select(FolderState.uidvalidity).where(FolderState.folder == "Sent",
                             FolderState.mailbox_id == status(empty_db, address).id))  # fmt: skip

    # The server recreates the folder: new UIDVALIDITY, the old message back under a new UID.
    dovecot.doveadm("mailbox", "delete", "-u", address, "Sent")
    dovecot.doveadm("mailbox", "create", "-u", address, "Sent")
    append(dovecot, address, password, "Sent", [
        (old, at_noon(D1)), (raw_message(address, ["b@dac.test"]), at_noon(D2))])  # fmt: skip
    report = poll(empty_db)
    assert report.outcomes[0].ok and report.outcomes[0].messages == 1
    assert counts(empty_db, address) == {(D1, "out", PHARMACIE): 1, (D2, "out", DAC): 1}
    with empty_db.connect() as conn:
        after = conn.execute(select(FolderState.__table__).where(FolderState.folder == "Sent",
                             FolderState.mailbox_id == status(empty_db, address).id)).one()  # fmt: skip
    assert after.uidvalidity != before and after.last_uid == 2
    assert poll(empty_db).outcomes[0].messages == 0


def _silent_port() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener, listener.getsockname()[1]


def test_each_fault_marks_its_mailbox_and_the_others_are_polled(empty_db, dovecot, rogue_dovecot):
    seed_directory(empty_db)
    good = unique_address("bon")
    watch(empty_db, dovecot, good)
    dovecot.deliver(good, raw_message("a@pharma.test", [good]))

    wrong = unique_address("mauvais")
    dovecot.add_user(wrong)
    watch(empty_db, dovecot, wrong, password="pas-le-bon-mot")
    gone = unique_address("disparu")
    watch(empty_db, dovecot, gone)
    dovecot.remove_user(gone)
    folder = unique_address("dossier")
    watch(empty_db, dovecot, folder, folders=("INBOX", "Projets"))
    rogue = unique_address("usurpe")
    watch(empty_db, rogue_dovecot, rogue)
    slow = unique_address("lent")
    listener, port = _silent_port()
    watch(empty_db, dovecot, slow)
    with empty_db.begin() as conn:
        conn.execute(
            WatchedMailbox.__table__.update()
            .where(WatchedMailbox.address == slow)
            .values(imap_port=port)
        )
    try:
        report = run_poll(empty_db, SYSTEM, secret_key=TEST_SECRET_KEY, timeout=1.0, workers=4)
    finally:
        listener.close()
    by = {o.address: o for o in report.outcomes}
    assert by[good].ok and by[good].messages == 1
    assert counts(empty_db, good) == {(datetime.now(ACTIVITY_TZ).date(), "in", PHARMACIE): 1}
    expected = {
        wrong: f"Authentification refusée pour {wrong} sur 127.0.0.1:{dovecot.imap_port} "
        "(mode password).",
        gone: f"Authentification refusée pour {gone} sur 127.0.0.1:{dovecot.imap_port} "
        "(mode password).",
        folder: f"Dossier « Projets » introuvable sur 127.0.0.1:{dovecot.imap_port} pour {folder}.",
        slow: f"Délai dépassé (1{THIN}s) à l'étape « connexion » avec 127.0.0.1:{port}.",
    }
    for address, message in expected.items():
        assert (by[address].ok, by[address].message) == (False, message)
        row = status(empty_db, address)
        assert (row.last_poll_ok, row.last_poll_message) == (False, message)
        assert row.poll_lease_until is None
    assert by[rogue].message.startswith("Certificat du serveur refusé par 127.0.0.1:")
    assert status(empty_db, good).last_poll_ok is True


def test_server_stopped_in_the_middle_of_a_run_then_resumed(empty_db, dovecot):
    seed_directory(empty_db)
    with running_sandbox() as other:
        first, second = unique_address("a-premier"), unique_address("b-second")
        p1 = watch(empty_db, dovecot, first)
        p2 = watch(empty_db, other, second)
        append(dovecot, first, p1, "INBOX", [(raw_message("a@dac.test", [first]), at_noon(D1))])
        append(other, second, p2, "INBOX", [(raw_message("a@dac.test", [second]), at_noon(D1))])
        poll(empty_db)  # both polled once

        append(dovecot, first, p1, "INBOX", [(raw_message("a@pharma.test", [first]), at_noon(D2))])
        append(other, second, p2, "INBOX", [(raw_message("a@pharma.test", [second]), at_noon(D2))])

        def stop_before_second(target):
            if target.address == second:
                other.stop_dovecot()

        report = run_poll(
            empty_db, SYSTEM, secret_key=TEST_SECRET_KEY, timeout=5.0, workers=1,
            on_start=stop_before_second,
        )  # fmt: skip
        by = {o.address: o for o in report.outcomes}
        assert by[first].ok and by[first].messages == 1
        assert not by[second].ok
        assert by[second].message.startswith(f"Connexion impossible à 127.0.0.1:{other.imap_port}")
        assert counts(empty_db, second) == {(D1, "in", DAC): 1}

        other.start_dovecot()
        report = poll(empty_db)
        assert {o.address: o.messages for o in report.outcomes} == {first: 0, second: 1}
        assert counts(empty_db, second) == {(D1, "in", DAC): 1, (D2, "in", PHARMACIE): 1}
        assert status(empty_db, second).last_poll_ok is True


def test_two_polls_of_one_mailbox_never_overlap(empty_db, dovecot):
    seed_directory(empty_db)
    addresses = [unique_address("bail") for _ in range(4)]
    for a in addresses:
        watch(empty_db, dovecot, a)
        dovecot.deliver(a, raw_message("a@dac.test", [a]))

    # A lease held by another poll: this one leaves the mailbox alone.
    now = datetime.now(UTC).replace(tzinfo=None)
    held = status(empty_db, addresses[0]).id
    assert take_leases(empty_db, [held], now, 600) == {held}
    assert take_leases(empty_db, [held], now, 600) == set()
    report = poll(empty_db)
    assert {o.address: o.message for o in report.outcomes if not o.ok} == {addresses[0]: BUSY}
    assert counts(empty_db, addresses[0]) == {}

    # Two polls racing over the same mailboxes: each mailbox is counted exactly once.
    with empty_db.begin() as conn:
        conn.execute(WatchedMailbox.__table__.update().values(poll_lease_until=None))
    for a in addresses:
        dovecot.deliver(a, raw_message("b@dac.test", [a]))
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(poll(empty_db))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = {o.address for r in reports for o in r.outcomes if o.ok}
    assert ok == set(addresses)
    assert sum(o.messages for r in reports for o in r.outcomes) == 5
    for a in addresses:
        assert sum(counts(empty_db, a).values()) == 2


def test_kept_sessions_survive_a_server_restart(empty_db):
    """The worker keeps IMAP sessions between polls; a restarted server is reconnected to."""
    from ingest.imap_reader import SessionPool

    seed_directory(empty_db)
    with running_sandbox() as server:
        address = unique_address("garde")
        watch(empty_db, server, address)
        server.deliver(address, raw_message("a@dac.test", [address]))
        sessions = SessionPool()
        try:
            assert poll(empty_db, sessions=sessions).outcomes[0].messages == 1
            assert len(sessions) == 1
            server.restart()  # every kept session is now dead
            server.deliver(address, raw_message("b@dac.test", [address]))
            report = poll(empty_db, sessions=sessions)
            assert (report.outcomes[0].ok, report.outcomes[0].messages) == (True, 1)
            assert poll(empty_db, sessions=sessions).outcomes[0].messages == 0
        finally:
            sessions.close()
        assert len(sessions) == 0
        assert sum(counts(empty_db, address).values()) == 2


def test_a_vanished_sent_folder_is_found_again_without_double_counting(empty_db, dovecot):
    seed_directory(empty_db)
    address = unique_address("renomme")
    password = watch(empty_db, dovecot, address)
    append(
        dovecot, address, password, "Sent", [(raw_message(address, ["a@dac.test"]), at_noon(D1))]
    )
    poll(empty_db)
    # As if the server had renamed its special-use Sent folder since the last poll.
    mailbox_id = status(empty_db, address).id
    with empty_db.begin() as conn:
        conn.execute(
            FolderState.__table__.update()
            .where(FolderState.mailbox_id == mailbox_id, FolderState.folder == "Sent")
            .values(folder="Anciens envoyés")
        )
    append(
        dovecot, address, password, "Sent", [(raw_message(address, ["b@dac.test"]), at_noon(D2))]
    )
    report = poll(empty_db)
    assert (report.outcomes[0].ok, report.outcomes[0].messages) == (True, 1)
    assert counts(empty_db, address) == {(D1, "out", DAC): 1, (D2, "out", DAC): 1}
    with empty_db.connect() as conn:
        folders = conn.scalars(
            select(FolderState.folder).where(FolderState.mailbox_id == mailbox_id)
        ).all()
    assert sorted(folders) == ["INBOX", "Sent"]


def test_sent_folder_found_by_name_on_a_server_without_special_use(empty_db):
    seed_directory(empty_db)
    with running_sandbox(special_use=False) as server:
        address = unique_address("sansflag")
        password = watch(empty_db, server, address)
        append(
            server, address, password, "Sent", [(raw_message(address, ["a@dac.test"]), at_noon(D1))]
        )
        report = poll(empty_db)
        assert (report.outcomes[0].ok, report.outcomes[0].messages) == (True, 1)
        assert counts(empty_db, address) == {(D1, "out", DAC): 1}


# --- servers that behave like other operators' ----------------------------------------------
def test_sent_folder_that_vanishes_is_a_failure_and_nothing_is_counted_twice_when_back(
    empty_db, dovecot_other_operator
):
    """INBOX.Sent, unflagged, "." separator, not re-created by the server: it disappears, the
    poll says so and still counts INBOX; it comes back with 3 old messages + 1 new: 1 counted."""
    server = dovecot_other_operator
    seed_directory(empty_db)
    address = unique_address("disparait")
    password = watch(empty_db, server, address, password=add_operator_account(server, address))
    old = [(raw_message(address, [f"{n}@dac.test"]), at_noon(D1)) for n in "abc"]
    append(server, address, password, "INBOX.Sent", old)
    append(server, address, password, "INBOX", [(raw_message("a@pharma.test", [address]),
           at_noon(D1))])  # fmt: skip
    assert poll(empty_db).outcomes[0].messages == 4
    assert counts(empty_db, address) == {(D1, "out", DAC): 3, (D1, "in", PHARMACIE): 1}

    server.doveadm("mailbox", "delete", "-u", address, "INBOX.Sent")
    append(server, address, password, "INBOX", [(raw_message("b@pharma.test", [address]),
           at_noon(D2))])  # fmt: skip
    gone = (
        f"Dossier « INBOX.Sent » disparu sur 127.0.0.1:{server.imap_port} pour {address} : "
        "ses messages seront comptés à son retour, sans doublon."
    )
    for expected_new in (1, 0):  # reported at every poll while it is gone; INBOX still counted
        outcome = poll(empty_db).outcomes[0]
        assert (outcome.ok, outcome.messages, outcome.message) == (False, expected_new, gone)
        row = status(empty_db, address)
        assert (row.last_poll_ok, row.last_poll_message, row.poll_lease_until) == (
            False,
            gone,
            None,
        )
    with empty_db.connect() as conn:
        kept = conn.scalars(select(FolderState.folder).where(FolderState.mailbox_id == row.id))
        assert sorted(kept) == ["INBOX", "INBOX.Sent"]

    server.doveadm("mailbox", "create", "-u", address, "INBOX.Sent")
    append(server, address, password, "INBOX.Sent",
           old + [(raw_message(address, ["d@dac.test"]), at_noon(D2))])  # fmt: skip
    outcome = poll(empty_db).outcomes[0]
    assert (outcome.ok, outcome.messages, outcome.message) == (True, 1, None)
    assert counts(empty_db, address) == {
        (D1, "out", DAC): 3, (D2, "out", DAC): 1, (D1, "in", PHARMACIE): 1,
        (D2, "in", PHARMACIE): 1,
    }  # fmt: skip
    assert status(empty_db, address).last_poll_ok is True


def test_balise_test_messages_are_never_counted_timed_out_or_not(empty_db, dovecot_other_operator):
    """The relay delivers 1–3 s after accepting: a 0.5-s round trip times out and its message
    lands afterwards. Neither it, nor a test message left in INBOX.Sent, is traffic."""
    from balise.mail.probe_message import build_message, use_case
    from balise.mail.roundtrip import run_round_trip
    from tests.support.dovecot import account_for

    server = dovecot_other_operator
    seed_directory(empty_db)
    address = unique_address("sonde")
    password = watch(empty_db, server, address, password=add_operator_account(server, address))
    smtp = account_for(server, address, protocol="smtp", password=password)
    imap = account_for(server, address, password=password)
    late = run_round_trip(smtp, imap, timeout=0.5)
    assert late.outcome == "timeout"
    deadline = time.monotonic() + 5
    while late.test_id not in server.delivered_at and time.monotonic() < deadline:
        time.sleep(0.05)
    assert late.test_id in server.delivered_at
    copy = build_message(address, "a@pharma.test", "copie-envoyee", use_case(None))
    append(server, address, password, "INBOX.Sent", [(copy.as_bytes(), at_noon(D1))])
    server.deliver(address, raw_message("a@pharma.test", [address]))  # real traffic
    report = poll(empty_db)
    assert (report.outcomes[0].ok, report.outcomes[0].messages) == (True, 1)
    today = datetime.now(ACTIVITY_TZ).date()
    assert counts(empty_db, address) == {(today, "in", PHARMACIE): 1}
    assert _imap_search(server, address, password, "INBOX", late.test_id)  # it is there


def _imap_search(server, address, password, folder, test_id) -> list[int]:
    from balise.mail.connection import open_imap
    from tests.support.dovecot import account_for

    client = open_imap(account_for(server, address, password=password))
    try:
        client.select_folder(folder, readonly=True)
        return client.search(["HEADER", "X-Balise-Test-Id", test_id])
    finally:
        client.logout()


def test_a_drafts_folder_is_never_read(empty_db, dovecot_other_operator):
    server = dovecot_other_operator
    seed_directory(empty_db)
    address = unique_address("brouillon")
    password = add_operator_account(server, address)
    server.doveadm("mailbox", "create", "-u", address, "INBOX.Brouillons")
    watch(empty_db, server, address, password=password, folders=("INBOX", "INBOX.Brouillons"))
    append(server, address, password, "INBOX.Brouillons",
           [(raw_message(address, ["a@dac.test"]), at_noon(D1))])  # fmt: skip
    append(server, address, password, "INBOX", [(raw_message("a@dac.test", [address]),
           at_noon(D1))])  # fmt: skip
    report = poll(empty_db)
    assert (report.outcomes[0].ok, report.outcomes[0].messages) == (True, 1)
    assert counts(empty_db, address) == {(D1, "in", DAC): 1}
