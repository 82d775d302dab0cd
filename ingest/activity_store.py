"""The poll's database side: which mailboxes to poll, leases, and the writes after each mailbox.

Each mailbox's result is written in one transaction (daily counts, folder cursors, poll status,
lease release), so a failure half-way through a mailbox leaves its cursors where the last good
poll put them and the next poll resumes from there. Only counts by day, direction and counterpart
*category* are stored: no address, no subject.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select, update
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


def save_success(
    engine: Engine,
    target: Target,
    read: MailboxRead,
    categories: dict[str, str],
    now: datetime,
) -> int:
    """Write one mailbox's counts, cursors and status; return the number of messages counted."""
    counts = _counts(read, categories)
    with engine.begin() as conn:
        ins = _insert(conn)
        for (day, direction, category), (messages, size) in counts.items():
            stmt = ins(DailyActivity).values(
                mailbox_id=target.id, day=day, direction=direction,
                counterpart_category=category, messages=messages, bytes=size,
            )  # fmt: skip
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["mailbox_id", "day", "direction", "counterpart_category"],
                    set_={
                        "messages": DailyActivity.messages + stmt.excluded.messages,
                        "bytes": DailyActivity.bytes + stmt.excluded.bytes,
                    },
                )
            )
        _save_cursors(conn, target.id, read)
        _mark(conn, target.id, now, ok=True, message=None, last_activity=_latest(read))
    return sum(c[0] for c in counts.values())


def _save_cursors(conn: Connection, mailbox_id: int, read: MailboxRead) -> None:
    ins = _insert(conn)
    # A folder the server no longer has (renamed, special-use moved) leaves no stale cursor.
    conn.execute(
        delete(FolderState).where(
            FolderState.mailbox_id == mailbox_id,
            FolderState.folder.not_in([f.folder for f in read.folders]),
        )
    )
    for f in read.folders:
        values = {
            "direction": f.direction,
            "uidvalidity": f.uidvalidity,
            "last_uid": f.last_uid,
            "last_seen_at": f.last_seen_at,
        }
        stmt = ins(FolderState).values(mailbox_id=mailbox_id, folder=f.folder, **values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["mailbox_id", "folder"], set_=values)
        )


def _latest(read: MailboxRead) -> datetime | None:
    stamps = [m.at for f in read.folders for m in f.messages if not m.skipped]
    return max(stamps) if stamps else None


def _mark(
    conn: Connection,
    mailbox_id: int,
    now: datetime,
    ok: bool,
    message: str | None,
    last_activity: datetime | None = None,
) -> None:
    w = WatchedMailbox
    values: dict = {
        "last_poll_at": now,
        "last_poll_ok": ok,
        "last_poll_message": message,
        "poll_lease_until": None,
    }
    conn.execute(update(w).where(w.id == mailbox_id).values(**values))
    if last_activity is not None:
        conn.execute(
            update(w)
            .where(
                w.id == mailbox_id,
                (w.last_activity_at.is_(None)) | (w.last_activity_at < last_activity),
            )
            .values(last_activity_at=last_activity)
        )


def save_failure(engine: Engine, target: Target, message: str, now: datetime) -> None:
    """Mark the mailbox's poll as failed with a French message; cursors stay as they were."""
    with engine.begin() as conn:
        _mark(conn, target.id, now, ok=False, message=message)


def unchanged(target: Target, read: MailboxRead) -> bool:
    """True when the poll found nothing new and every folder cursor stays where it was."""
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
