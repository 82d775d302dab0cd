"""Demo mailbox activity for ``make run`` (``balise sandbox activity``): watched mailboxes on the
sandbox operator in every department of the region, mail put through the server, then the poll,
so that the *Activité* page has figures whichever department an animator looks at.

Everything is fictitious: the watched mailboxes and their counterparts are mailboxes of the demo
directory (``balise demo``, domains ``*-demo.mssante.fr``), accounts on the local sandbox Dovecot;
messages carry a generic placeholder subject and body, never health data. The plan is fixed, so
the figures are the same on every machine.

Idempotent: a mailbox already watched is reused (its sealed password opens its sandbox account
again), and mail is delivered only into an empty mailbox; the poll itself never counts a message
twice. Running ``make run`` twice therefore leaves the counts as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from sqlalchemy import Engine, select

from balise.errors import NotFoundError
from balise.models import Establishment, Mailbox, WatchedMailbox
from balise.secrets import reveal
from balise.services.access import SYSTEM
from balise.services.activity import (
    WatchRequest,
    add_watched,
    domain_categories,
    move_watched,
)
from balise.services.links import links_to_establishment
from ingest.poll import PollReport, run_poll
from sandbox.server import MailSandbox

DEMO_DOMAIN = "%-demo.mssante.fr"  # the demo directory's structure domains (ingest/demo/)


@dataclass(frozen=True)
class DemoBox:
    """One watched mailbox: its department, its structure's FINESS category, and what it
    exchanges: (direction, counterpart category, messages)."""

    department: str
    category: str
    exchanges: tuple[tuple[str, str, int], ...]


# A few ARA departments with particular flows: the seed's use cases (data/use_cases.csv) and one
# more. Every other department gets an ordinary box (``plan_for``).
PLAN = (
    DemoBox("01", "500", (("in", "620", 3), ("out", "620", 2), ("in", "355", 1), ("out", "355", 2))),
    DemoBox("07", "606", (("out", "354", 3), ("in", "354", 2))),
    DemoBox("26", "500", (("out", "620", 2), ("in", "620", 1), ("out", "606", 1))),
    DemoBox("73", "190", (("out", "223", 2), ("in", "223", 1))),
)  # fmt: skip


def _ordinary_box(department: str, rank: int) -> DemoBox:
    """An EHPAD exchanging with its pharmacy and the hospital (the seed's use cases; every demo
    department has these categories), counts varying with ``rank`` so that curves differ."""
    return DemoBox(department, "500", (
        ("in", "620", 1 + rank % 3), ("out", "620", 1 + (rank + 1) % 2),
        ("in", "355", 1 + rank % 2), ("out", "355", 1),
    ))  # fmt: skip


def plan_for(departments: Iterable[str]) -> tuple[DemoBox, ...]:
    """One box or more in each of ``departments`` (sorted): PLAN's where it names the
    department, else an ordinary one."""
    boxes: list[DemoBox] = []
    for rank, department in enumerate(sorted(departments)):
        named = [b for b in PLAN if b.department == department]
        boxes.extend(named or [_ordinary_box(department, rank)])
    return tuple(boxes)


@dataclass
class DemoReport:
    watched: list[str] = field(default_factory=list)
    created: int = 0
    delivered: int = 0
    advanced: int = 0
    poll: PollReport = field(default_factory=PollReport)


def _demo_addresses(engine: Engine, department: str, category: str) -> list[str]:
    """Current demo-directory mailboxes of structures of ``category`` in ``department`` whose
    domain resolves to that category (so that the poll files their messages under it)."""
    stmt = (
        select(Mailbox.address)
        .join(Establishment, links_to_establishment())
        .where(
            Mailbox.valid_to.is_(None),
            Mailbox.address.like(DEMO_DOMAIN),
            Establishment.department == department,
            Establishment.category_code == category,
        )
        .order_by(Mailbox.address)
        .limit(40)
    )
    with engine.connect() as conn:
        found = list(dict.fromkeys(conn.scalars(stmt)))
        resolved = domain_categories(conn, {a.rpartition("@")[2] for a in found})
    return [a for a in found if resolved.get(a.rpartition("@")[2]) == category]


def _pick(engine: Engine, department: str, category: str, n: int) -> list[str]:
    found = _demo_addresses(engine, department, category)
    if len(found) < n:
        raise NotFoundError(
            f"Pas assez de BAL de démonstration (catégorie {category}, département {department}) : "
            "lancez d'abord « balise demo »."
        )
    return found[:n]


def _message(sender: str, recipient: str, n: int) -> bytes:
    """A placeholder message: nothing but a generic subject and body."""
    lines = [
        f"From: <{sender}>",
        f"To: <{recipient}>",
        f"Subject: Message de démonstration Balise n° {n}",
        f"Message-ID: <demo-{n}-{re.sub(r'[^a-z0-9]', '.', sender)}@balise.demo>",
        f"Date: {format_datetime(datetime.now().astimezone())}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Message fictif de démonstration, sans aucune donnée de santé.",
        "",
    ]
    return "\r\n".join(lines).encode()


def _message_count(sandbox: MailSandbox, address: str) -> int:
    out = sandbox.doveadm("-f", "flow", "mailbox", "status", "-u", address, "messages", "*")
    return sum(int(n) for n in re.findall(r"messages=(\d+)", out))


def _ensure_watched(
    engine: Engine, sandbox: MailSandbox, address: str, department: str, key: str
) -> bool:
    """Watch ``address`` through its sandbox account; True when the watch is new."""
    with engine.connect() as conn:
        ref = conn.scalar(
            select(WatchedMailbox.secret_ref).where(WatchedMailbox.address == address)
        )
    if ref is not None:
        if address not in sandbox.users():  # the sandbox was reset: same account again
            sandbox.add_user(address, reveal(ref, key))
        # A restarted sandbox may listen on new ports.
        move_watched(engine, SYSTEM, address, sandbox.host, sandbox.imap_port, str(sandbox.ca_path))
        return False
    if address in sandbox.users():
        # A new password for an old account: Dovecot must forget the old file first.
        sandbox.remove_user(address)
    password = sandbox.add_user(address)
    request = WatchRequest(
        address=address,
        department=department,
        imap_host=sandbox.host,
        imap_port=sandbox.imap_port,
        tls_mode="starttls",
        auth_mode="password",
        secret=password,
        ca_bundle=str(sandbox.ca_path),
    )
    add_watched(engine, SYSTEM, request, key)
    return True


def _deliver(engine: Engine, sandbox: MailSandbox, box: DemoBox, address: str) -> int:
    """Put the box's exchanges through the server (LMTP; sent mail filed in Sent), unless the
    mailbox already holds mail; returns how many messages were delivered."""
    if _message_count(sandbox, address):
        return 0
    n = 0
    for direction, category, count in box.exchanges:
        other = _pick(engine, box.department, category, 1)[0]
        for _ in range(count):
            n += 1
            if direction == "in":
                sandbox.deliver(address, _message(other, address, n), sender=other)
            else:
                raw = _message(address, other, n)
                sandbox.deliver(address, raw, sender=address, folder="Sent")
    return n


def run_demo_activity(
    engine: Engine, sandbox: MailSandbox, secret_key: str, plan: tuple[DemoBox, ...] = PLAN
) -> DemoReport:
    """Watch, deliver, poll (then advance onboarding from the new activity)."""
    from ingest.worker import advance_after_poll

    report = DemoReport()
    for box in plan:
        address = _pick(engine, box.department, box.category, 1)[0]
        report.created += _ensure_watched(engine, sandbox, address, box.department, secret_key)
        report.delivered += _deliver(engine, sandbox, box, address)
        report.watched.append(address)
    report.poll = run_poll(
        engine, SYSTEM, addresses=report.watched, secret_key=secret_key, timeout=30.0
    )
    report.advanced = advance_after_poll(engine, report.poll, None)
    return report
