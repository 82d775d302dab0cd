"""``balise poll``: count the activity of the watched mailboxes, metadata only.

Mailboxes are read in parallel (a bounded pool of IMAP connections, each with a timeout); results
are written as they arrive, a few mailboxes per transaction (``ingest.activity_store``), and the
mailboxes with nothing new are marked together at the end.
A mailbox that fails (unreachable, TLS refused, auth refused, timeout, folder gone) is marked with
a French message while the others go on. A mailbox leased by another poll is left to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine

from balise.clock import utc_now
from balise.config import load_settings
from balise.errors import BaliseError
from balise.formatting import fr_count, fr_int, fr_seconds
from balise.services import keyring
from balise.services.access import Actor
from balise.services.counterparts import domain_categories
from balise.services.watched_mailboxes import poll_scope
from ingest.activity_store import (
    Target,
    load_targets,
    save_failure,
    save_successes,
    save_unchanged,
    take_leases,
    unchanged,
)
from ingest.imap_reader import MailboxRead, SessionPool, read_mailbox

log = logging.getLogger(__name__)

BUSY = "Relève déjà en cours par un autre processus."
# Results are written a few mailboxes per transaction: at most this many, or this often.
FLUSH_EVERY = 50
FLUSH_S = 0.5


@dataclass(frozen=True)
class Outcome:
    address: str
    ok: bool
    messages: int = 0  # messages counted by this poll
    message: str | None = None  # French, when it failed or was skipped
    seconds: float = 0.0


@dataclass
class PollReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def summary(self) -> str:
        counted = sum(o.messages for o in self.outcomes)
        return (
            f"{fr_count(len(self.outcomes), 'boîte relevée', 'boîtes relevées')}, "
            f"{fr_int(len(self.failed))} en échec, "
            f"{fr_count(counted, 'nouveau message compté', 'nouveaux messages comptés')} "
            f"en {fr_seconds(self.seconds)}."
        )


def _read(
    target: Target,
    timeout: float,
    on_start: Callable[[Target], None] | None,
    sessions: SessionPool | None,
) -> tuple[MailboxRead, float]:
    if on_start:
        on_start(target)
    started = time.perf_counter()
    read = read_mailbox(
        target.account,
        list(target.cursors),
        target.folders,
        deadline_s=timeout,
        pool=sessions,
        key=(target.id, target.account),
    )
    return read, time.perf_counter() - started


def run_poll(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None = None,
    addresses: Iterable[str] | None = None,
    workers: int = 8,
    timeout: float = 30.0,
    secret_key: str = "",
    on_result: Callable[[Outcome], None] | None = None,
    on_start: Callable[[Target], None] | None = None,
    sessions: SessionPool | None = None,
) -> PollReport:
    """Poll the selected watched mailboxes. ``on_start`` is called (in a worker thread) before
    each mailbox is read, ``on_result`` after each one is saved: progress for the CLI.
    ``sessions`` keeps IMAP sessions open between runs (the worker); None closes them.
    ``actor`` must be allowed to act on every department and mailbox named; without any, an
    animator polls their own departments' mailboxes only (refusals audited)."""
    started = time.perf_counter()
    departments = poll_scope(engine, actor, departments, addresses)
    targets = load_targets(engine, departments, addresses, timeout, secret_key)
    if any((t.account.secret_ref or "").startswith("enc:") for t in targets):
        # A missing or wrong key is one configuration error, not a failure of every mailbox.
        keyring.require_key(engine, secret_key or load_settings().secret_key)
    # The lease outlives the poll's own deadline: a crashed poll frees its mailboxes later.
    leased = take_leases(engine, [t.id for t in targets], utc_now(), 2 * timeout + 60)
    with engine.connect() as conn:
        categories = domain_categories(conn)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="poll") as pool:
        futures = {
            t.id: pool.submit(_read, t, timeout, on_start, sessions)
            for t in targets
            if t.id in leased
        }
        outcomes, quiet = _collect(engine, targets, futures, categories, on_result)
    # Mailboxes with nothing new: one statement for all of them rather than a transaction each.
    save_unchanged(engine, [t.id for t, _ in quiet], utc_now())
    for _target, outcome in quiet:
        outcomes.append(outcome)
        if on_result:
            on_result(outcome)
    report = PollReport(outcomes, time.perf_counter() - started)
    log.info("poll: %s", report.summary())
    return report


def _collect(
    engine: Engine,
    targets: list[Target],
    futures: dict[int, Future],
    categories: dict[str, str],
    on_result: Callable[[Outcome], None] | None,
) -> tuple[list[Outcome], list[tuple[Target, Outcome]]]:
    """Save results as they arrive, a few mailboxes per transaction; quiet mailboxes are
    returned to be marked together at the end."""
    outcomes: list[Outcome] = []
    quiet: list[tuple[Target, Outcome]] = []
    pending: list[tuple[Target, MailboxRead, float]] = []
    flushed_at = time.monotonic()

    def emit(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_result:
            on_result(outcome)

    for target in targets:
        if target.id not in futures:
            emit(Outcome(target.address, False, message=BUSY))
            continue
        failure, read, seconds = _wait(engine, target, futures[target.id])
        if failure is not None:
            emit(failure)
        elif unchanged(target, read):
            quiet.append((target, Outcome(target.address, True, seconds=seconds)))
        else:
            pending.append((target, read, seconds))
        if len(pending) >= FLUSH_EVERY or (pending and time.monotonic() - flushed_at > FLUSH_S):
            _flush(engine, pending, categories, emit)
            flushed_at = time.monotonic()
    _flush(engine, pending, categories, emit)
    return outcomes, quiet


def _flush(engine: Engine, pending: list, categories: dict[str, str], emit) -> None:
    if not pending:
        return
    counted = save_successes(engine, [(t, r) for t, r, _s in pending], categories, utc_now())
    for (target, read, seconds), n in zip(pending, counted, strict=True):
        problems = " ".join(read.problems) or None
        emit(Outcome(target.address, not problems, messages=n, message=problems, seconds=seconds))
    pending.clear()


def _wait(
    engine: Engine, target: Target, future: Future
) -> tuple[Outcome | None, MailboxRead | None, float]:
    """Wait for one mailbox's read; a failure is recorded on the mailbox at once."""
    try:
        read, seconds = future.result()
    except BaliseError as exc:
        save_failure(engine, target, str(exc), utc_now())
        log.info("poll %s failed: %s", target.address, exc)
        return Outcome(target.address, False, message=str(exc)), None, 0.0
    except Exception as exc:  # a bug or an unexpected server answer: keep the others going
        log.exception("poll %s: unexpected error", target.address)
        message = f"Erreur inattendue pendant la relève ({type(exc).__name__})."
        save_failure(engine, target, message, utc_now())
        return Outcome(target.address, False, message=message), None, 0.0
    return None, read, seconds
