"""One mailbox's IMAP session for the poll: network only, no database.

Given where the last good poll stopped in each folder (:class:`Cursor`), it opens the folders
read-only (EXAMINE, so nothing is marked seen), and fetches only the new UIDs with
INTERNALDATE, RFC822.SIZE, FLAGS and the From/To/Cc header fields, which are reduced at once to
domains (``ingest.sources.mail_headers``). An incremental poll with no new mail costs the login
and one EXAMINE per folder.

UIDVALIDITY: when the server renumbers a folder, UIDs say nothing any more, so the folder is
read again and only messages that arrived after the last one counted (``last_seen_at``) count.

A folder that disappears (deleted, renamed away) is a problem of this poll (« dossier disparu »,
the mailbox is marked failed) while the other folders are counted; its cursor is kept, so when
the folder comes back its messages go through the UIDVALIDITY rule and none is counted twice.
Sent and Drafts are found by ``balise.mail.folders`` (special-use flag, else the usual names);
a Drafts folder is never read (drafts were never exchanged), nor are Balise's own test messages
(``X-Balise-Test-Id``), counted or not, timed out or not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from balise.mail.connection import MailAccount, MailStepError, open_imap, timed_step
from balise.mail.folders import special_folder
from balise.mail.probe_message import TEST_ID_HEADER
from ingest.sources.mail_headers import MessageMeta, to_meta

log = logging.getLogger(__name__)

FETCH_ITEMS = [
    "INTERNALDATE",
    "RFC822.SIZE",
    "FLAGS",
    # The test id only says "a Balise test message, not traffic"; it is not kept either.
    f"BODY.PEEK[HEADER.FIELDS (FROM TO CC {TEST_ID_HEADER.upper()})]",
]
CHUNK = 500  # UIDs per FETCH: bounds memory (and the command line) on a large first poll


@dataclass(frozen=True)
class Cursor:
    """Where the last good poll of one folder stopped."""

    folder: str
    direction: str  # "in" | "out"
    uidvalidity: int
    last_uid: int
    last_seen_at: datetime | None


@dataclass
class FolderRead:
    """What one folder gave in this poll, and where the next poll starts."""

    folder: str
    direction: str
    uidvalidity: int
    last_uid: int
    last_seen_at: datetime | None
    messages: list[MessageMeta] = field(default_factory=list)
    reset: bool = False  # UIDVALIDITY changed since the last poll


@dataclass
class MailboxRead:
    folders: list[FolderRead]
    timings: dict[str, float]
    # French sentences: what went wrong with some folders while the others were read.
    problems: list[str] = field(default_factory=list)
    # Folders gone from the server whose cursors must stay until they come back.
    vanished: list[str] = field(default_factory=list)


class FolderMissing(MailStepError):
    """EXAMINE refused: the folder does not exist (any more) on the server."""

    def __init__(self, message: str, folder: str):
        super().__init__(message, "select")
        self.folder = folder


class SessionPool:
    """Authenticated IMAP sessions kept between polls by a long-running process (the worker).

    An incremental poll then costs one EXAMINE per folder instead of a TCP + TLS + SASL login.
    Each session is used by one thread at a time: it is taken out, used, and given back."""

    def __init__(self) -> None:
        self._clients: dict[Hashable, IMAPClient] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> IMAPClient | None:
        with self._lock:
            return self._clients.pop(key, None)

    def give(self, key: Hashable, client: IMAPClient) -> None:
        with self._lock:
            old = self._clients.pop(key, None)
            self._clients[key] = client
        if old is not None:
            _close(old, polite=True)

    def __len__(self) -> int:
        return len(self._clients)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            _close(client, polite=True)


def _close(client: IMAPClient, polite: bool) -> None:
    if polite:
        with contextlib.suppress(IMAPClientError, OSError):
            client.logout()
            return
    # The session may be stuck (timeout, server gone): close the socket, no LOGOUT.
    with contextlib.suppress(OSError):
        client.shutdown()


def _connect(account: MailAccount, timings: dict[str, float]) -> IMAPClient:
    client = open_imap(account, timings)
    client.normalise_times = False  # keep INTERNALDATE's own offset; we convert to UTC
    return client


def _transport_failure(exc: MailStepError) -> bool:
    """A kept session that died (server restart, idle logout) rather than a real refusal."""
    return isinstance(exc.__cause__, OSError | IMAPClientAbortError)


def read_mailbox(
    account: MailAccount,
    cursors: list[Cursor],
    folders: tuple[str, ...] = (),
    deadline_s: float = 60.0,
    pool: SessionPool | None = None,
    key: Hashable = None,
) -> MailboxRead:
    """Poll one mailbox. ``folders`` empty = INBOX (in) + the Sent folder (out).

    With a ``pool``, the session under ``key`` is reused if there is one (and reopened once if it
    died), and kept there afterwards; without one, the session is closed at the end."""
    deadline = time.monotonic() + deadline_s
    timings: dict[str, float] = {}
    client = pool.take(key) if pool is not None else None
    reused = client is not None
    if client is None:
        client = _connect(account, timings)
    try:
        try:
            read = _read_all(client, account, cursors, folders, deadline, timings)
        except MailStepError as exc:
            if not (reused and _transport_failure(exc)):
                raise
            _close(client, polite=False)
            client = _connect(account, timings)
            read = _read_all(client, account, cursors, folders, deadline, timings)
    except BaseException:
        _close(client, polite=False)
        raise
    if pool is not None:
        pool.give(key, client)
    else:
        _close(client, polite=True)
    return read


def _read_all(
    client: IMAPClient,
    account: MailAccount,
    cursors: list[Cursor],
    folders: tuple[str, ...],
    deadline: float,
    timings: dict[str, float],
) -> MailboxRead:
    """Read every target folder; a missing one becomes a problem, the others are still read."""
    read = MailboxRead([], timings)
    known = {c.folder: c for c in cursors}
    missing: list[tuple[str, str]] = []
    for folder, direction in _targets(client, account, cursors, folders, timings):
        try:
            read.folders.append(
                _read_folder(client, account, folder, direction, known.get(folder), deadline)
            )
        except FolderMissing:
            missing.append((folder, direction))
    if missing and not folders:
        missing = _follow_moves(client, account, cursors, missing, read, deadline, timings)
    for folder, _direction in missing:
        if folder in known:
            read.vanished.append(folder)
            read.problems.append(_vanished_message(account, folder))
        else:
            read.problems.append(_missing_message(account, folder))
    return read


def _follow_moves(
    client: IMAPClient,
    account: MailAccount,
    cursors: list[Cursor],
    missing: list[tuple[str, str]],
    read: MailboxRead,
    deadline: float,
    timings: dict[str, float],
) -> list[tuple[str, str]]:
    """A folder found earlier is gone: ask the server again. If the direction's folder now has
    another name (renamed, special-use moved), read it with the old cursor: a different
    UIDVALIDITY then resynchronises without double counts. Returns what is still missing."""
    by_direction = {c.direction: c for c in cursors}
    now = {d: f for f, d in _targets(client, account, [], (), timings)}
    still = []
    for folder, direction in missing:
        other = now.get(direction)
        if other is None or other == folder or other in {f.folder for f in read.folders}:
            still.append((folder, direction))
            continue
        cursor = by_direction.get(direction)
        try:
            read.folders.append(_read_folder(client, account, other, direction, cursor, deadline))
        except FolderMissing:
            still.append((folder, direction))
    return still


def _vanished_message(account: MailAccount, folder: str) -> str:
    return (
        f"Dossier « {folder} » disparu sur {account.where} pour {account.username} : ses "
        "messages seront comptés à son retour, sans doublon."
    )


def _missing_message(account: MailAccount, folder: str) -> str:
    return f"Dossier « {folder} » introuvable sur {account.where} pour {account.username}."


def _targets(
    client: IMAPClient,
    account: MailAccount,
    cursors: list[Cursor],
    folders: tuple[str, ...],
    timings: dict[str, float],
) -> list[tuple[str, str]]:
    """(folder, direction) pairs to read; LIST only when the cursors do not already say."""
    if not folders and {c.direction for c in cursors} == {"in", "out"}:
        return [(c.folder, c.direction) for c in sorted(cursors, key=lambda c: c.direction)]
    with timed_step(account, "select", timings):
        listed = client.list_folders()
    sent = special_folder(listed, "sent")
    if not folders:
        return [("INBOX", "in")] + ([(sent, "out")] if sent else [])
    drafts = special_folder(listed, "drafts")
    if drafts in folders:
        log.info("poll %s: drafts folder %s is never read", account.username, drafts)
    return [(f, "out" if f == sent else "in") for f in folders if f != drafts]


def _examine(client: IMAPClient, account: MailAccount, folder: str) -> dict:
    try:
        with timed_step(account, "select", {}):
            return client.select_folder(folder, readonly=True)
    except MailStepError as exc:
        cause = exc.__cause__
        if isinstance(cause, IMAPClientError) and not isinstance(cause, IMAPClientAbortError):
            raise FolderMissing(_missing_message(account, folder), folder) from exc
        raise


def _read_folder(
    client: IMAPClient,
    account: MailAccount,
    folder: str,
    direction: str,
    cursor: Cursor | None,
    deadline: float,
) -> FolderRead:
    info = _examine(client, account, folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    uidnext = int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None
    reset = cursor is not None and cursor.uidvalidity != uidvalidity
    start_uid = cursor.last_uid if cursor and not reset else 0
    read = FolderRead(
        folder,
        direction,
        uidvalidity,
        start_uid,
        cursor.last_seen_at if cursor else None,
        reset=reset,
    )
    if int(info.get(b"EXISTS", 0)) == 0 or (uidnext is not None and uidnext <= start_uid + 1):
        return read
    floor = cursor.last_seen_at if reset and cursor else None
    for meta in _fetch_after(client, account, start_uid, deadline):
        read.last_uid = max(read.last_uid, meta.uid)
        if floor is not None and meta.at <= floor:
            continue  # counted before the UIDVALIDITY reset
        read.messages.append(meta)
        read.last_seen_at = max(read.last_seen_at or meta.at, meta.at)
    return read


def _fetch_after(
    client: IMAPClient,
    account: MailAccount,
    last_uid: int,
    deadline: float,
) -> list[MessageMeta]:
    """Messages with UID > ``last_uid``: one UID SEARCH, then FETCH in chunks of UIDs."""
    with timed_step(account, "fetch", {}):
        # "n:*" always includes the highest UID, even below n: keep only what is new.
        uids = [u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid]
    found: list[MessageMeta] = []
    for i in range(0, len(uids), CHUNK):
        if time.monotonic() > deadline:
            raise MailStepError(
                f"Délai dépassé pendant la lecture de {account.username} sur {account.where}.",
                "fetch",
            )
        with timed_step(account, "fetch", {}):
            fetched = client.fetch(uids[i : i + CHUNK], FETCH_ITEMS)
        found.extend(to_meta(uid, data) for uid, data in fetched.items())
    return found
