"""The poll's database side: which mailboxes to poll, leases, and the writes after each mailbox.

A mailbox's counts, folder cursors, poll status and lease release are written together, in one
transaction (shared by a few mailboxes, with executemany), so a failure half-way through a mailbox
leaves its cursors where the last good poll put them and the next poll resumes from there. Only counts by day, direction and counterpart
*category* are stored: no address, no subject.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Text,
    bindparam,
    case,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from balise.mail.connection import MailAccount
from balise.models import DailyActivity, FolderState, WatchedMailbox
from ingest.imap_reader import Cursor, MailboxRead


@dataclass(frozen=True)
class Target:
    """One watched mailbox to poll: how to reach it and where its folders stopped."""

    id: int
    address: str
    department: str
    account: MailAccount
    folders: tuple[str, ...]
    cursors: tuple[Cursor, ...]


def _account(w, timeout: float, secret_key: str) -> MailAccount:
    key = w.client_key_ref or None
    return MailAccount(
        host=w.imap_host,
        port=w.imap_port,
        username=w.username or w.address,
        tls_mode=w.tls_mode,
        auth_mode=w.auth_mode,
        secret_ref=w.secret_ref,
        ca_bundle=w.ca_bundle or None,
        client_cert=w.client_cert or None,
        client_key=key.removeprefix("file:") if key else None,
        timeout=timeout,
        secret_key=secret_key,
        address=w.address,
    )


def load_targets(
    engine: Engine,
    departments: Iterable[str] | None,
    addresses: Iterable[str] | None,
    timeout: float,
    secret_key: str,
) -> list[Target]:
    """The enabled watched mailboxes selected by department and/or address, with cursors."""
    stmt = select(WatchedMailbox.__table__).where(WatchedMailbox.enabled.is_(True))
    if departments is not None:
        stmt = stmt.where(WatchedMailbox.department.in_(list(departments)))
    if addresses is not None:
        stmt = stmt.where(WatchedMailbox.address.in_([a.strip().lower() for a in addresses]))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(WatchedMailbox.address)).all()
        cursors: dict[int, list[Cursor]] = defaultdict(list)
        ids = [w.id for w in rows]
        for s in conn.execute(select(FolderState.__table__).where(FolderState.mailbox_id.in_(ids))):
            cursors[s.mailbox_id].append(
                Cursor(s.folder, s.direction, s.uidvalidity, s.last_uid, s.last_seen_at)
            )
    return [
        Target(
            w.id,
            w.address,
            w.department,
            _account(w, timeout, secret_key),
            tuple(f for f in (w.folders or "").split(",") if f),
            tuple(cursors.get(w.id, ())),
        )
        for w in rows
    ]


def take_leases(engine: Engine, ids: list[int], now: datetime, seconds: float) -> set[int]:
    """Lease the mailboxes no other poll holds; return the ids leased by this call.

    One atomic UPDATE ... WHERE lease free: two polls racing for a mailbox cannot both win."""
    if not ids:
        return set()
    w = WatchedMailbox
    stmt = (
        update(w)
        .where(w.id.in_(ids), (w.poll_lease_until.is_(None)) | (w.poll_lease_until < now))
        .values(poll_lease_until=now + timedelta(seconds=seconds))
        .returning(w.id)
    )
    with engine.begin() as conn:
        return set(conn.scalars(stmt).all())


def _insert(conn: Connection):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _counts(read: MailboxRead, categories: dict[str, str]) -> dict[tuple, list[int]]:
    """(day, direction, category) -> [messages, bytes]. A message counts once, under its first
    counterpart whose domain resolves to a category ("" when none does)."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for folder in read.folders:
        for m in folder.messages:
            if m.skipped:
                continue
            others = m.senders if folder.direction == "in" else m.recipients
            category = next((categories[d] for d in others if d in categories), "")
            cell = counts[(m.day, folder.direction, category)]
            cell[0] += 1
            cell[1] += m.size
    return counts


def save_successes(
    engine: Engine,
    results: list[tuple[Target, MailboxRead]],
    categories: dict[str, str],
    now: datetime,
) -> list[int]:
    """Write several mailboxes' counts, cursors and status in one transaction (executemany);
    return the messages counted for each. All or nothing: if the write fails, no cursor moved
    and the next poll reads those mailboxes again, so nothing is ever counted twice."""
    counted, daily, cursors, marks = [], [], [], []
    for target, read in results:
        counts = _counts(read, categories)
        counted.append(sum(c[0] for c in counts.values()))
        daily += [
            {"m": target.id, "d": day, "dir": direction, "c": cat, "n": n, "b": size}
            for (day, direction, cat), (n, size) in counts.items()
        ]
        cursors += [
            {"m": target.id, "f": f.folder, "dir": f.direction, "uv": f.uidvalidity,
             "u": f.last_uid, "s": f.last_seen_at}
            for f in read.folders
        ]  # fmt: skip
        problems = " ".join(read.problems) or None
        marks.append({"m": target.id, "now": now, "last": _latest(read), "ok": not problems,
                      "msg": problems})  # fmt: skip
    with engine.begin() as conn:
        if daily:
            conn.execute(_daily_upsert(conn), daily)
        for target, read in results:
            _drop_stale_cursors(conn, target, read)
        if cursors:
            conn.execute(_cursor_upsert(conn), cursors)
        conn.execute(_mark_done(), marks)
    return counted


def _daily_upsert(conn: Connection):
    t = DailyActivity.__table__
    stmt = _insert(conn)(t).values(
        mailbox_id=bindparam("m"), day=bindparam("d"), direction=bindparam("dir"),
        counterpart_category=bindparam("c"), messages=bindparam("n"), bytes=bindparam("b"),
    )  # fmt: skip
    return stmt.on_conflict_do_update(
        index_elements=["mailbox_id", "day", "direction", "counterpart_category"],
        set_={
            "messages": t.c.messages + stmt.excluded.messages,
            "bytes": t.c.bytes + stmt.excluded.bytes,
        },
    )


def _cursor_upsert(conn: Connection):
    stmt = _insert(conn)(FolderState.__table__).values(
        mailbox_id=bindparam("m"), folder=bindparam("f"), direction=bindparam("dir"),
        uidvalidity=bindparam("uv"), last_uid=bindparam("u"), last_seen_at=bindparam("s"),
    )  # fmt: skip
    changed = ("direction", "uidvalidity", "last_uid", "last_seen_at")
    return stmt.on_conflict_do_update(
        index_elements=["mailbox_id", "folder"],
        set_={c: getattr(stmt.excluded, c) for c in changed},
    )


def _drop_stale_cursors(conn: Connection, target: Target, read: MailboxRead) -> None:
    """A folder the server no longer has (renamed, special-use moved) leaves no stale cursor;
    a folder that vanished keeps its cursor until it comes back (no double count then)."""
    now_read = {f.folder for f in read.folders} | set(read.vanished)
    if {c.folder for c in target.cursors} <= now_read:
        return
    conn.execute(
        delete(FolderState).where(
            FolderState.mailbox_id == target.id, FolderState.folder.not_in(sorted(now_read))
        )
    )


def _mark_done():
    """Poll status of a read mailbox: ok, or failed with the French problems of some folders
    (the folders that were read are counted all the same)."""
    w = WatchedMailbox.__table__
    last = bindparam("last", type_=DateTime())
    return (
        update(w)
        .where(w.c.id == bindparam("m"))
        .values(
            last_poll_at=bindparam("now", type_=DateTime()), last_poll_ok=bindparam("ok"),
            last_poll_message=bindparam("msg", type_=Text()),
            poll_lease_until=None,
            # The latest message ever seen: only moves forward.
            last_activity_at=case(
                (last.is_(None), w.c.last_activity_at),
                (w.c.last_activity_at.is_(None), last),
                (w.c.last_activity_at < last, last),
                else_=w.c.last_activity_at,
            ),
        )
    )  # fmt: skip


def _latest(read: MailboxRead) -> datetime | None:
    stamps = [m.at for f in read.folders for m in f.messages if not m.skipped]
    return max(stamps) if stamps else None


def save_failure(engine: Engine, target: Target, message: str, now: datetime) -> None:
    """Mark the mailbox's poll as failed with a French message; cursors stay as they were."""
    w = WatchedMailbox
    with engine.begin() as conn:
        conn.execute(
            update(w)
            .where(w.id == target.id)
            .values(last_poll_at=now, last_poll_ok=False, last_poll_message=message,
                    poll_lease_until=None)
        )  # fmt: skip


def unchanged(target: Target, read: MailboxRead) -> bool:
    """True when the poll found nothing new, no problem, and every folder cursor stays where
    it was."""
    if read.problems:
        return False
    before = {c.folder: (c.uidvalidity, c.last_uid) for c in target.cursors}
    return (
        all(
            not f.messages and before.get(f.folder) == (f.uidvalidity, f.last_uid)
            for f in read.folders
        )
        and len(read.folders) > 0
    )


def save_unchanged(engine: Engine, ids: list[int], now: datetime) -> None:
    """Mark mailboxes polled with nothing new, in one statement."""
    if not ids:
        return
    w = WatchedMailbox
    with engine.begin() as conn:
        conn.execute(
            update(w)
            .where(w.id.in_(ids))
            .values(last_poll_at=now, last_poll_ok=True, last_poll_message=None,
                    poll_lease_until=None)
        )  # fmt: skip
