"""``balise worker``: run the per-department jobs on their own rhythm.

Jobs: the poll of each department that has watched mailboxes (every ``poll_every`` minutes), and
the directory / FINESS refresh (daily) from their configured URLs (data.gouv.fr by default). The
refresh is a conditional request (ETag / Last-Modified; a HEAD for a server that only announces a
dated file name): an unchanged file is neither downloaded nor imported again (``ingest.refresh``),
and every attempt is recorded for ``balise sources``. A refresh that fails (server down, cut
download, unreadable file) is tried again every hour (``REFRESH_RETRY_S``): up to five times on
PostgreSQL, until it succeeds on SQLite.

- PostgreSQL: jobs go through procrastinate (a Postgres-backed task queue). A periodic task
  defers one poll job per department with ``lock="poll:<dept>"`` (procrastinate never runs two
  jobs with the same lock at once, whichever worker takes them) and ``queueing_lock`` (a slow
  department does not pile up jobs). Any number of workers share the jobs.
- SQLite: one worker (a file lock refuses a second), a plain loop keeping each department's
  next due time.

After each poll that counted messages, the onboarding pipeline advances from the facts
(``balise.services.onboarding.advance_from_facts``); a refresh that imports a file advances it in
the import's own transaction. A refreshed file the deletion gate refuses (``ingest.gate``) is not
imported: it leaves an alert (``balise.services.ingest_alerts``) until someone decides.

A worker keeps its IMAP sessions between polls (``SessionPool``): a quiet mailbox then costs one
EXAMINE per folder. cron or a systemd timer running ``balise poll`` is the alternative (README).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from balise.config import Settings
from balise.errors import BaliseError, ConfigurationError, DropRefused
from balise.models import WatchedMailbox
from balise.referentials.departments import resolve_selection
from balise.referentials.lifecycles import DataSource
from balise.services.access import SYSTEM
from ingest.imap_reader import SessionPool
from ingest.poll import PollReport, run_poll

log = logging.getLogger(__name__)
# A failed refresh is tried again an hour later (a daily source should not wait for tomorrow
# because of a morning's network failure); on PostgreSQL at most this many more times.
REFRESH_RETRY_S = 3600.0
REFRESH_RETRIES = 5


@dataclass
class Runtime:
    """What the jobs of one worker process use: the store, the settings, kept IMAP sessions."""

    engine: Engine
    settings: Settings
    timeout: float = 30.0
    workers: int = 8
    # The whole of one source download in a refresh (``--timeout`` of ``balise ingest``).
    download_timeout: float = 600.0
    sessions: SessionPool = field(default_factory=SessionPool)


def departments_to_poll(engine: Engine) -> list[str]:
    w = WatchedMailbox
    with engine.connect() as conn:
        stmt = select(w.department).distinct().where(w.enabled.is_(True)).order_by(w.department)
        return list(conn.scalars(stmt))


def advance_onboarding(engine: Engine, departments: list[str] | None) -> int:
    """Move structures up the onboarding pipeline from the facts a job just brought in
    (directory lines, activity). An ingest holding the store defers it to the next job."""
    from balise.services.onboarding import advance_from_facts

    try:
        moved = advance_from_facts(engine, departments)
    except BaliseError as exc:
        log.info("onboarding advance deferred: %s", exc)
        return 0
    if moved:
        log.info("onboarding: %d structure(s) advanced from the facts", moved)
    return moved


def advance_after_poll(engine: Engine, report: PollReport, departments: list[str] | None) -> int:
    """The advance after a poll, when it counted new messages (the only fact a poll adds)."""
    if not any(o.messages for o in report.outcomes):
        return 0
    return advance_onboarding(engine, departments)


def poll_department(rt: Runtime, department: str) -> PollReport:
    report = run_poll(
        rt.engine,
        SYSTEM,  # the worker is started by an administrator (``balise worker``: admin only)
        departments=[department],
        workers=rt.workers,
        timeout=rt.timeout,
        secret_key=rt.settings.secret_key,
        sessions=rt.sessions,
    )
    log.info("worker: poll %s: %s", department, report.summary())
    advance_after_poll(rt.engine, report, [department])
    return report


def refresh_source(rt: Runtime, kind: str) -> str:
    """Refresh the directory ("annuaire") or FINESS from its configured URL: a conditional
    request first, the file downloaded and imported only if it changed (``ingest.refresh``),
    with its audit line and onboarding advance in the import's transaction. A file the
    deletion gate refuses leaves an alert for the Vue régionale (one per file) instead."""
    from ingest import jobs
    from ingest.refresh import refresh
    from ingest.sources.download import DownloadLimits

    s = rt.settings
    if not s.source_url(kind):
        return "aucune URL configurée"
    selection = resolve_selection(None, None, False, s.region, s.departments)
    limits = DownloadLimits.of(rt.download_timeout, s.max_download_mb)
    policy = jobs.Policy(SYSTEM, s.max_drop)
    try:
        report = refresh(rt.engine, kind, s, selection, limits, s.ca_bundle or None, policy)
    except DropRefused as refusal:
        return f"refusé (alerte n° {_alert(rt.engine, kind, refusal)}) : {refusal}"
    if report.ingest is None:
        return f"inchangé ({report.how})"
    return f"importé : {report.ingest.file_name}"


def _alert(engine: Engine, kind: str, refusal: DropRefused) -> int:
    """The open alert for the refused file: the existing one, else a new one."""
    from balise.services import ingest_alerts

    existing = ingest_alerts.is_open_for(engine, kind, refusal.file_name)
    if existing:
        return existing
    with engine.begin() as conn:
        alert = ingest_alerts.record(conn, SYSTEM, kind, refusal.file_name, refusal)
    log.warning("worker: %s refused by the deletion gate, alert %d", kind, alert)
    return alert


# ----- SQLite: one worker, a plain loop ----------------------------------------------------------
@contextmanager
def single_worker_lock(engine: Engine) -> Iterator[None]:
    """Refuse a second worker on the same SQLite file (SQLite has one writer anyway)."""
    database = make_url(str(engine.url)).database or ":memory:"
    path = Path(f"{database}.worker.lock")
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigurationError(
                "Un autre worker tourne déjà sur cette base SQLite ; un seul est possible "
                "(plusieurs workers demandent PostgreSQL)."
            ) from exc
        yield


def run_loop(
    rt: Runtime,
    poll_every_s: float,
    refresh_every_s: float,
    stop: threading.Event,
    tick_s: float = 1.0,
    refresh_retry_s: float = REFRESH_RETRY_S,
) -> None:
    """Run due jobs until ``stop`` is set; each department keeps its own next due time (a
    source whose refresh failed comes back after ``refresh_retry_s`` instead)."""
    due: dict[str, float] = {}
    with single_worker_lock(rt.engine):
        while not stop.is_set():
            now = time.monotonic()
            for kind in (DataSource.FINESS, DataSource.ANNUAIRE):
                if due.get(kind, 0.0) <= now:
                    done = _guarded(lambda kind=kind: refresh_source(rt, kind))
                    wait = refresh_every_s if done else min(refresh_retry_s, refresh_every_s)
                    due[kind] = now + wait
            for dep in departments_to_poll(rt.engine):
                if due.get(f"poll:{dep}", 0.0) <= time.monotonic():
                    due[f"poll:{dep}"] = time.monotonic() + poll_every_s
                    _guarded(lambda dep=dep: poll_department(rt, dep))
            stop.wait(tick_s)
    rt.sessions.close()


def _guarded(job) -> bool:
    """Whether ``job`` ran through; a failing job is logged and the loop goes on (the poll and
    the refresh record their failures themselves)."""
    try:
        job()
    except BaliseError as exc:
        log.warning("worker job failed: %s", exc)
    except Exception:
        log.exception("worker job crashed")
    else:
        return True
    return False


# ----- PostgreSQL: procrastinate --------------------------------------------------------------
def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as a plain libpq connection string for procrastinate."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_app(
    rt: Runtime,
    poll_cron: str = "*/15 * * * *",
    refresh_cron: str = "0 6 * * *",
    periodic: bool = True,
):
    """A procrastinate App whose tasks poll departments and refresh sources with ``rt``.
    ``periodic=False`` leaves out the schedulers (only jobs deferred by hand run)."""
    import procrastinate
    from procrastinate.exceptions import AlreadyEnqueued

    database_url = rt.engine.url.render_as_string(hide_password=False)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url))
    )

    @app.task(name="balise.poll_department")
    def poll_task(department: str) -> None:
        report = poll_department(rt, department)
        if report.failed:
            log.info("worker: %d mailbox(es) failed in %s", len(report.failed), department)

    retry = procrastinate.RetryStrategy(max_attempts=REFRESH_RETRIES, wait=int(REFRESH_RETRY_S))

    @app.task(name="balise.refresh_source", lock="refresh", retry=retry)
    def refresh_task(kind: str) -> None:
        log.info("refresh %s: %s", kind, refresh_source(rt, kind))

    def defer_polls() -> int:
        deferred = 0
        for dep in departments_to_poll(rt.engine):
            # queueing_lock: while the previous one has not started, no pile-up.
            with suppress(AlreadyEnqueued):
                poll_task.configure(lock=f"poll:{dep}", queueing_lock=f"poll:{dep}").defer(
                    department=dep
                )
                deferred += 1
        return deferred

    app.defer_polls = defer_polls  # type: ignore[attr-defined]
    if periodic:
        _add_schedulers(app, poll_cron, refresh_cron, defer_polls, refresh_task)
    return app


def _add_schedulers(app, poll_cron: str, refresh_cron: str, defer_polls, refresh_task) -> None:
    """Periodic tasks: procrastinate defers them on time from whichever worker is up."""
    from procrastinate.exceptions import AlreadyEnqueued

    @app.periodic(cron=poll_cron)
    @app.task(name="balise.schedule_polls", queueing_lock="schedule_polls")
    def schedule_polls(timestamp: int) -> None:
        log.info("worker: %d department poll(s) deferred", defer_polls())

    @app.periodic(cron=refresh_cron)
    @app.task(name="balise.schedule_refresh", queueing_lock="schedule_refresh")
    def schedule_refresh(timestamp: int) -> None:
        for kind in (DataSource.FINESS, DataSource.ANNUAIRE):
            with suppress(AlreadyEnqueued):
                refresh_task.configure(queueing_lock=f"refresh:{kind}").defer(kind=kind)


def ensure_queue_schema(app, engine: Engine) -> None:
    """Create procrastinate's tables once (an advisory lock keeps two workers from racing)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('balise-procrastinate-schema'))"))
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")):
            return
        # Applied on procrastinate's own connection while this transaction holds the lock.
        app.open()
        try:
            app.schema_manager.apply_schema()
        finally:
            app.close()


def count_jobs(engine: Engine, status: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status = :s"), {"s": status}
            )
            or 0
        )
