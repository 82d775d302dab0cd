"""``balise worker``: procrastinate on PostgreSQL (two workers never run one department's poll at
once), a single-worker loop on SQLite; both poll the real Dovecot."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from balise.cli import cli
from balise.config import load_settings
from balise.db import make_engine, upgrade
from balise.errors import ConfigurationError
from balise.models import WatchedMailbox
from ingest.worker import (
    REFRESH_RETRY_S,
    Runtime,
    count_jobs,
    ensure_queue_schema,
    make_app,
    run_loop,
    single_worker_lock,
)
from tests.support.activity import raw_message, watch
from tests.support.dovecot import TEST_SECRET_KEY, unique_address

pytestmark = pytest.mark.mail


@pytest.fixture
def pg_engine(postgres_server):
    """An empty PostgreSQL store (procrastinate only runs there)."""
    name = f"balise_worker_{time.monotonic_ns()}"
    admin = create_engine(postgres_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(postgres_server.url(name))
    upgrade(engine)
    yield engine
    engine.dispose()


def _runtime(engine) -> Runtime:
    return Runtime(engine, load_settings(secret_key=TEST_SECRET_KEY), timeout=10.0, workers=2)


def _watch_departments(engine, dovecot, plan: dict[str, int]) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {}
    for dep, n in plan.items():
        for _ in range(n):
            address = unique_address(f"w{dep}")
            watch(engine, dovecot, address, department=dep)
            dovecot.deliver(address, raw_message("a@dac.test", [address]))
            made.setdefault(dep, []).append(address)
    return made


@pytest.mark.postgres
def test_two_workers_never_run_one_departments_poll_at_once(pg_engine, dovecot):
    _watch_departments(pg_engine, dovecot, {"38": 2, "01": 1})
    runs: list[tuple[str, str, float, float]] = []
    guard = threading.Lock()

    def recorder(call_next, context, worker):
        # Hold each job a while, so that two runs of one department would overlap without the lock.
        start = time.monotonic()
        result = call_next()
        time.sleep(0.3)
        with guard:
            runs.append((worker.worker_name, context.job.task_kwargs["department"],
                         start, time.monotonic()))  # fmt: skip
        return result

    apps = [make_app(_runtime(pg_engine), periodic=False) for _ in range(2)]
    ensure_queue_schema(apps[0], pg_engine)
    poll_task = apps[0].tasks["balise.poll_department"]
    with apps[0].open():
        for dep in ("38", "38", "38", "01", "01"):
            poll_task.configure(lock=f"poll:{dep}").defer(department=dep)

    async def both() -> None:
        # wait=False would stop a worker as soon as the only jobs left are locked: run them
        # until every job is done, then stop them.
        async with apps[0].open_async(), apps[1].open_async():
            workers = [
                asyncio.create_task(app.run_worker_async(
                    name=name, concurrency=3, install_signal_handlers=False,
                    task_middleware=[recorder], listen_notify=False,
                    fetch_job_polling_interval=0.05,
                ))
                for app, name in ((apps[0], "w1"), (apps[1], "w2"))
            ]  # fmt: skip
            deadline = time.monotonic() + 30
            while count_jobs(pg_engine, "succeeded") < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    asyncio.run(both())
    assert count_jobs(pg_engine, "succeeded") == 5
    assert len(runs) == 5
    for dep in ("38", "01"):
        spans = sorted((s, e) for _w, d, s, e in runs if d == dep)
        for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
            assert s2 >= e1, f"two polls of {dep} overlapped"
    # Every mailbox of both departments was polled.
    with pg_engine.connect() as conn:
        oks = conn.scalars(select(WatchedMailbox.last_poll_ok)).all()
    assert oks == [True, True, True]


@pytest.mark.postgres
def test_periodic_scheduler_defers_one_job_per_department(pg_engine, dovecot):
    _watch_departments(pg_engine, dovecot, {"69": 1, "73": 1})
    app = make_app(_runtime(pg_engine))
    ensure_queue_schema(app, pg_engine)
    ensure_queue_schema(app, pg_engine)  # idempotent
    with app.open():
        assert app.defer_polls() == 2
        assert app.defer_polls() == 0  # queueing lock: no pile-up while they wait
    assert count_jobs(pg_engine, "todo") == 2


@pytest.mark.postgres
def test_a_failed_source_refresh_is_tried_again_an_hour_later(pg_engine):
    """The source is down (nothing listens on its port): the job fails and comes back in an
    hour (``REFRESH_RETRY_S``), not with tomorrow's schedule."""
    settings = load_settings(secret_key=TEST_SECRET_KEY, departments="38", finess_url="",
                             annuaire_url="https://127.0.0.1:1/annuaire")  # fmt: skip
    app = make_app(Runtime(settings=settings, engine=pg_engine, timeout=5.0), periodic=False)
    ensure_queue_schema(app, pg_engine)

    async def one_attempt() -> None:
        async with app.open_async():
            await app.tasks["balise.refresh_source"].defer_async(kind="annuaire")
            await app.run_worker_async(wait=False, install_signal_handlers=False,
                                       listen_notify=False)  # fmt: skip

    asyncio.run(one_attempt())
    with pg_engine.connect() as conn:
        status, attempts, wait_s = conn.execute(text(
            "SELECT status, attempts, extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs"
        )).one()  # fmt: skip
    assert (status, attempts) == ("todo", 1)
    assert REFRESH_RETRY_S - 120 < float(wait_s) <= REFRESH_RETRY_S


@pytest.fixture
def sqlite_db(tmp_path):
    """An empty SQLite store: the single-worker loop is SQLite's (on PostgreSQL the worker is
    procrastinate: the tests above, and the command line test below on both)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'balise.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_sqlite_worker_loop_polls_and_refuses_a_second_worker(sqlite_db, dovecot):
    made = _watch_departments(sqlite_db, dovecot, {"38": 1, "01": 1})
    rt = _runtime(sqlite_db)
    stop = threading.Event()
    loop = threading.Thread(target=run_loop, args=(rt, 0.2, 3600.0, stop, 0.05))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sqlite_db.connect() as conn:
                polled = conn.scalars(select(WatchedMailbox.last_poll_ok)).all()
            if polled == [True, True]:
                break
            time.sleep(0.05)
        assert polled == [True, True]
        second = pytest.raises(ConfigurationError, match="Un autre worker tourne déjà")
        with second, single_worker_lock(sqlite_db):
            pass
    finally:
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert sorted(made) == ["01", "38"]


def test_worker_once_from_the_command_line(empty_db, database_url, dovecot):
    _watch_departments(empty_db, dovecot, {"38": 1})
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "worker", "--once"],
        env={"BALISE_SECRET_KEY": TEST_SECRET_KEY},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    if empty_db.dialect.name == "sqlite":
        assert result.stdout == "Worker : 1 département relevé.\n"
    else:
        assert result.stdout == "Worker : 1 relève de département traitée.\n"
    with empty_db.connect() as conn:
        assert conn.scalars(select(WatchedMailbox.last_poll_ok)).all() == [True]


def test_source_refresh_of_a_server_that_only_names_its_file_downloads_once(
    empty_db, dovecot, tmp_path
):
    """The ANS web service gives no ETag nor Last-Modified, but a dated file name: once a file
    is known, a HEAD tells whether the one on offer is the same."""
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ingest.worker import refresh_source
    from tests.support.extracts import directory_line, write_directory

    name = "Extraction_Correspondance_MSSante_202611250312.txt"
    body = write_directory(tmp_path / name, [
        directory_line("ORG", "accueil@ehpad-rose.test", "380000001", department="38"),
        directory_line("ORG", "secretariat@dac.test", "380000003", department="38"),
    ]).read_bytes()  # fmt: skip
    methods: list[str] = []

    class Ans(BaseHTTPRequestHandler):
        def _headers(self) -> None:
            methods.append(self.command)
            self.send_response(200)
            self.send_header("Content-Disposition", f'attachment; filename="{name}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def do_HEAD(self):  # http.server calls it by this name
            self._headers()

        def do_GET(self):  # http.server calls it by this name
            self._headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ans)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(dovecot.pki.server_cert, dovecot.pki.server_key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://localhost:{server.server_address[1]}/annuaire"
        settings = load_settings(annuaire_url=url, ca_bundle=str(dovecot.ca_path), departments="38")
        rt = Runtime(empty_db, settings)
        assert refresh_source(rt, "annuaire") == f"importé : {name}"
        assert methods == ["GET"]
        assert refresh_source(rt, "annuaire") == (
            f"inchangé (le serveur annonce le même fichier, {name})"
        )
        assert methods == ["GET", "HEAD"]  # nothing downloaded twice
        assert refresh_source(rt, "finess") == "aucune URL configurée"
    finally:
        server.shutdown()
        server.server_close()
