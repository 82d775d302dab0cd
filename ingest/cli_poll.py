"""``balise poll`` and ``balise worker``: thin commands over ``ingest.poll`` and ``ingest.worker``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.formatting import fr_count
from balise.services.access import actable_departments

if TYPE_CHECKING:
    pass


@requires("act", departments="departments", objects=("mailboxes",))
@click.command()
@click.option("--department", "departments", multiple=True, help="Département à relever.")
@click.option("--mailbox", "mailboxes", multiple=True, help="Adresse d'une boîte suivie.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Connexions IMAP en parallèle.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30, show_default=True,
              help="Délai par boîte, en secondes.")  # fmt: skip
@pass_context
def poll(
    ctx: Context,
    departments: tuple[str, ...],
    mailboxes: tuple[str, ...],
    workers: int,
    timeout: float,
) -> None:
    """Relever l'activité des boîtes suivies (métadonnées seulement) ; code de sortie 1 si une
    boîte est en échec (toutes sont relevées et signalées d'abord)."""
    from balise.db import engine_for, upgrade
    from ingest.poll import run_poll
    from ingest.worker import advance_after_poll

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    report = run_poll(
        engine,
        ctx.actor,
        departments=departments or None,
        addresses=mailboxes or None,
        workers=workers,
        timeout=timeout,
        secret_key=ctx.settings.secret_key,
    )
    if not report.outcomes:
        ctx.echo("Aucune boîte suivie à relever.", {"outcomes": []})
        return
    if not ctx.as_json:
        # Failures are recorded on each mailbox too; say them here for the person at the prompt.
        for o in report.failed:
            click.echo(f"Échec {o.address} : {o.message}", err=True)
    scope = actable_departments(ctx.actor, departments or None, "poll")  # checked by run_poll
    moved = advance_after_poll(engine, report, list(scope) if scope is not None else None)
    summary = report.summary()
    if moved:
        summary += "\n" + fr_count(moved, "structure avancée", "structures avancées")
        summary += " dans l'accompagnement d'après les faits."
    ctx.echo(
        summary,
        {
            "outcomes": [o.__dict__ for o in report.outcomes],
            "seconds": round(report.seconds, 3),
            "onboarding_advanced": moved,
        },
    )
    if report.failed:
        ctx_exit = click.get_current_context()
        ctx_exit.exit(1)


@requires("admin")  # polls every department and refreshes the sources, as the system
@click.command()
@click.option("--poll-every", type=click.IntRange(1, 59), default=15, show_default=True,
              help="Minutes entre deux relèves d'un département.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 32), default=2, show_default=True,
              help="Tâches en parallèle dans ce worker (PostgreSQL).")  # fmt: skip
@click.option("--once", is_flag=True, help="Relever chaque département une fois, puis s'arrêter.")
@pass_context
def worker(ctx: Context, poll_every: int, concurrency: int, once: bool) -> None:
    """Lancer les relèves et les mises à jour à leur rythme (PostgreSQL : plusieurs workers)."""
    from balise.db import engine_for, upgrade
    from ingest.worker import Runtime

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    rt = Runtime(engine, ctx.settings)
    if engine.dialect.name == "postgresql":
        _procrastinate_worker(ctx, rt, poll_every, concurrency, once)
    else:
        _sqlite_worker(ctx, rt, poll_every, once)


def _sqlite_worker(ctx: Context, rt, poll_every: int, once: bool) -> None:
    import signal
    import threading

    from ingest.worker import departments_to_poll, poll_department, run_loop, single_worker_lock

    if once:
        with single_worker_lock(rt.engine):
            departments = departments_to_poll(rt.engine)
            for dep in departments:
                poll_department(rt, dep)
        rt.sessions.close()
        done = fr_count(len(departments), "département relevé", "départements relevés")
        ctx.echo(f"Worker : {done}.", {"departments": departments})
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Worker SQLite démarré : relève toutes les {poll_every} min (Ctrl+C pour arrêter).")
    run_loop(rt, poll_every * 60.0, 24 * 3600.0, stop)
    ctx.echo("Worker arrêté.")


def _procrastinate_worker(ctx: Context, rt, poll_every: int, concurrency: int, once: bool) -> None:
    from ingest.worker import ensure_queue_schema, make_app

    app = make_app(rt, poll_cron=f"*/{poll_every} * * * *")
    ensure_queue_schema(app, rt.engine)
    if once:
        with app.open():
            deferred = app.defer_polls()
    else:
        click.echo(f"Worker PostgreSQL démarré : relève toutes les {poll_every} min.")
    app.run_worker(concurrency=concurrency, wait=not once, listen_notify=not once)
    rt.sessions.close()
    if once:
        done = fr_count(
            deferred, "relève de département traitée", "relèves de département traitées"
        )
        ctx.echo(f"Worker : {done}.")
    else:
        ctx.echo("Worker arrêté.")
