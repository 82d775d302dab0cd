"""``balise poll`` and ``balise worker``: thin commands over ``ingest.poll`` and ``ingest.worker``."""

from __future__ import annotations

import click

from balise.cli import Context, pass_context
from balise.db import engine_for, upgrade
from ingest.poll import run_poll


@click.command()
@click.option("--department", "departments", multiple=True, help="Département à relever.")
@click.option("--mailbox", "mailboxes", multiple=True, help="Adresse d'une boîte suivie.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Connexions IMAP en parallèle.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Délai par boîte, en secondes.")  # fmt: skip
@pass_context
def poll(
    ctx: Context,
    departments: tuple[str, ...],
    mailboxes: tuple[str, ...],
    workers: int,
    timeout: float,
) -> None:
    """Relever l'activité des boîtes suivies (métadonnées seulement)."""
    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    report = run_poll(
        engine,
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
    ctx.echo(
        report.summary(),
        {
            "outcomes": [o.__dict__ for o in report.outcomes],
            "seconds": round(report.seconds, 3),
        },
    )
