"""Helpers for the activity tests and benchmark: a small directory to resolve counterpart domains,
watched mailboxes on the Dovecot sandbox in every auth mode, and mail put through the server."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, insert

from balise.mail.connection import open_imap
from balise.models import Establishment, Mailbox, Snapshot
from balise.services.access import SYSTEM
from balise.services.watched_mailboxes import WatchRequest, add_watched
from sandbox.harness import raw_message
from sandbox.server import MailSandbox
from tests.support.dovecot import TEST_SECRET_KEY, account_for

# Counterpart domains and the category the directory gives them.
EHPAD, PHARMACIE, DAC = "500", "620", "606"
DOMAINS = {"ehpad-rose.test": EHPAD, "pharma.test": PHARMACIE, "dac.test": DAC}
MIXED = "mixed.test"  # one EHPAD and one pharmacy mailbox: no majority, unresolved


def seed_directory(engine: Engine, extra: dict[str, str] | None = None) -> None:
    """Establishments and current directory mailboxes: 2 per category domain, and MIXED.

    ``extra`` maps more addresses (e.g. a watched mailbox) to the category they link to."""
    now = datetime(2026, 1, 5)
    cats = {EHPAD: "380000001", PHARMACIE: "380000002", DAC: "380000003"}
    boxes = [(f"{p}@{d}", cat) for d, cat in DOMAINS.items() for p in ("a", "b")]
    boxes += [(f"x@{MIXED}", EHPAD), (f"y@{MIXED}", PHARMACIE)]
    boxes += list((extra or {}).items())
    with engine.begin() as conn:
        snap = conn.execute(
            insert(Snapshot).values(
                source="annuaire", file_name="seed", sha256="0" * 64, ingested_at=now,
                departments="38",
            )
        ).inserted_primary_key[0]  # fmt: skip
        for cat, et in cats.items():
            conn.execute(
                insert(Establishment).values(
                    finess_et=et, name=f"Structure {cat}", department="38", category_code=cat,
                    is_medico_social=cat != PHARMACIE, snapshot_id=snap,
                )
            )  # fmt: skip
        for address, cat in boxes:
            conn.execute(
                insert(Mailbox).values(
                    address=address, bal_type="ORG", department="38", structure_id_type="1",
                    structure_id=cats[cat], link_kind="ET", structure_name=f"Structure {cat}",
                    first_seen=snap, valid_from=snap,
                )
            )  # fmt: skip


def watch(
    engine: Engine,
    sandbox: MailSandbox,
    address: str,
    auth_mode: str = "password",
    tls_mode: str = "starttls",
    department: str = "38",
    password: str | None = None,
    folders: tuple[str, ...] = (),
) -> str:
    """Create the account on the sandbox and watch it; return its password."""
    password = password or sandbox.add_user(address)
    account = account_for(sandbox, address, auth_mode, tls_mode, password=password)
    secret = None
    if auth_mode == "password":
        secret = password
    elif auth_mode in ("xoauth2", "oauthbearer"):
        secret = account.secret()
    request = WatchRequest(
        address=address,
        department=department,
        imap_host=account.host,
        imap_port=account.port,
        tls_mode=tls_mode,
        auth_mode=auth_mode,
        secret=secret,
        ca_bundle=account.ca_bundle,
        client_cert=account.client_cert,
        client_key=account.client_key,
        folders=folders,
    )
    add_watched(engine, SYSTEM, request, TEST_SECRET_KEY)
    return password


def append(
    sandbox: MailSandbox,
    address: str,
    password: str,
    folder: str,
    messages: list[tuple[bytes, datetime]],
    flags: tuple[bytes, ...] = (),
) -> None:
    """IMAP APPEND through the server, with the INTERNALDATE each message should carry."""
    client = open_imap(account_for(sandbox, address, password=password))
    try:
        for raw, when in messages:
            client.append(folder, raw, flags=flags, msg_time=when)
    finally:
        client.logout()


def at_noon(day: date) -> datetime:
    """Noon, Paris time, on ``day`` (aware): unambiguous whatever the test machine's zone."""
    from ingest.sources.mail_headers import ACTIVITY_TZ

    return datetime(day.year, day.month, day.day, 12, tzinfo=ACTIVITY_TZ)


def seed_polled_activity(engine: Engine, sandbox: MailSandbox) -> dict[str, str]:
    """Four watched mailboxes in the Isère, mail through the server, then a real poll:
    an EHPAD box (3 received, 1 sent), a DAC box (1 received), a quiet one, a refused one."""
    from datetime import timedelta

    from ingest.poll import run_poll
    from ingest.sources.mail_headers import ACTIVITY_TZ
    from tests.support.dovecot import unique_address

    boxes = {k: unique_address(k) for k in ("ehpad", "dac", "quiet", "wrong")}
    seed_directory(engine, extra={boxes["ehpad"]: EHPAD, boxes["dac"]: DAC})
    p_ehpad = watch(engine, sandbox, boxes["ehpad"])
    p_dac = watch(engine, sandbox, boxes["dac"])
    watch(engine, sandbox, boxes["quiet"])
    sandbox.add_user(boxes["wrong"])
    watch(engine, sandbox, boxes["wrong"], password="pas-le-bon")
    today = datetime.now(ACTIVITY_TZ).date()
    recent, older = at_noon(today - timedelta(days=2)), at_noon(today - timedelta(days=10))
    ehpad, dac = boxes["ehpad"], boxes["dac"]
    append(sandbox, ehpad, p_ehpad, "INBOX", [
        (raw_message("a@pharma.test", [ehpad]), recent),
        (raw_message("b@pharma.test", [ehpad]), recent),
        (raw_message("a@dac.test", [ehpad]), older),
    ])  # fmt: skip
    append(sandbox, ehpad, p_ehpad, "Sent", [(raw_message(ehpad, ["a@pharma.test"]), recent)])
    append(sandbox, dac, p_dac, "INBOX", [(raw_message("a@ehpad-rose.test", [dac]), recent)])
    report = run_poll(engine, SYSTEM, secret_key=TEST_SECRET_KEY, timeout=10.0)
    assert [o.address for o in report.failed] == [boxes["wrong"]]
    return boxes
