"""One mailbox's IMAP session for the poll: network only, no database.

Given where the last good poll stopped in each folder (:class:`Cursor`), it opens the folders
read-only (EXAMINE, so nothing is marked seen), and fetches only the new UIDs with
INTERNALDATE, RFC822.SIZE, FLAGS and the From/To/Cc header fields, which are reduced at once to
domains (``ingest.sources.mail_headers``). An incremental poll with no new mail costs the login
and one EXAMINE per folder.

UIDVALIDITY: when the server renumbers a folder, UIDs say nothing any more, so the folder is
read again and only messages that arrived after the last one counted (``last_seen_at``) count.
"""

from __future__ import annotations

import contextlib
import threading
import time
import unicodedata
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from balise.mail.connection import MailAccount, MailStepError, open_imap, timed_step
from ingest.sources.mail_headers import MessageMeta, to_meta

FETCH_ITEMS = [
    "INTERNALDATE",
    "RFC822.SIZE",
    "FLAGS",
    "BODY.PEEK[HEADER.FIELDS (FROM TO CC)]",
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
    """Poll one mailbox. ``folders`` empty = INBOX (in) + the special-use \\Sent folder (out).

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
            reads = _read_all(client, account, cursors, folders, deadline, timings)
        except MailStepError as exc:
            if not (reused and _transport_failure(exc)):
                raise
            _close(client, polite=False)
            client = _connect(account, timings)
            reads = _read_all(client, account, cursors, folders, deadline, timings)
    except BaseException:
        _close(client, polite=False)
        raise
    if pool is not None:
        pool.give(key, client)
    else:
        _close(client, polite=True)
    return MailboxRead(reads, timings)


def _read_all(
    client: IMAPClient,
    account: MailAccount,
    cursors: list[Cursor],
    folders: tuple[str, ...],
    deadline: float,
    timings: dict[str, float],
) -> list[FolderRead]:
    targets = _targets(client, account, cursors, folders, timings)
    known = {c.folder: c for c in cursors}
    try:
        return [
            _read_folder(client, account, folder, direction, known.get(folder), deadline)
            for folder, direction in targets
        ]
    except MailStepError as exc:
        if folders or exc.step != "select" or _transport_failure(exc):
            raise
    # A folder found earlier is gone (renamed, recreated): ask the server again and carry each
    # direction's cursor over; a different UIDVALIDITY then resynchronises without double counts.
    by_direction = {c.direction: c for c in cursors}
    targets = _targets(client, account, [], (), timings)
    return [
        _read_folder(client, account, folder, direction, by_direction.get(direction), deadline)
        for folder, direction in targets
    ]


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
    sent = _sent_folder(listed)
    if not folders:
        return [("INBOX", "in")] + ([(sent, "out")] if sent else [])
    return [(f, "out" if f == sent else "in") for f in folders]


# Names of the sent folder on servers without SPECIAL-USE (compared without case or accents).
SENT_NAMES = {"sent", "sent items", "sent messages", "sent mail", "envoyes", "elements envoyes",
              "messages envoyes"}  # fmt: skip


def _sent_folder(listed: list) -> str | None:
    """The folder the server flags \\Sent; failing that, one with a usual sent-folder name."""
    for flags, _sep, name in listed:
        if b"\\Sent" in flags:
            return name
    for _flags, sep, name in listed:
        leaf = name.rsplit(sep.decode(), 1)[-1] if sep else name
        plain = unicodedata.normalize("NFKD", leaf).encode("ascii", "ignore").decode().lower()
        if plain.strip() in SENT_NAMES:
            return name
    return None


def _examine(client: IMAPClient, account: MailAccount, folder: str) -> dict:
    try:
        with timed_step(account, "select", {}):
            return client.select_folder(folder, readonly=True)
    except MailStepError as exc:
        cause = exc.__cause__
        if isinstance(cause, IMAPClientError) and not isinstance(cause, IMAPClientAbortError):
            raise MailStepError(
                f"Dossier « {folder} » introuvable sur {account.where} pour {account.username}.",
                "select",
            ) from exc
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
