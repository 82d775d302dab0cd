"""``balise sources``: the health of each published source (URL, last check, last change, date of
the file, last snapshot). Exit 1, with one French line per problem on the error output, when a
source has not changed for ``BALISE_SOURCE_STALE_DAYS`` days, was never imported, or its last
attempt failed: cron sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from balise.cli import Context, json_option, pass_context
from balise.command_access import requires
from balise.formatting import fr_date, fr_datetime

if TYPE_CHECKING:
    from balise.services import sources as source_health


@requires("read")
@click.command("sources")
@json_option
@pass_context
def sources(ctx: Context) -> None:
    """État des sources (annuaire, FINESS) : adresse, dernière vérification, dernier changement,
    date du fichier, dernier instantané ; code 1 si une source est en retard ou en échec."""
    from balise.db import engine_for, upgrade
    from balise.services import sources as source_health

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    found = source_health.health(engine, ctx.settings)
    problems = [p for h in found for p in h.problems]
    ctx.echo(
        "\n".join(_describe(h) for h in found),
        {"sources": [h.as_dict() for h in found], "problems": problems},
    )
    if problems:
        if not ctx.as_json:
            for problem in problems:
                click.echo(problem, err=True)
        click.get_current_context().exit(1)


def _describe(h: source_health.SourceHealth) -> str:
    from balise.services import sources as source_health

    checked = fr_datetime(h.checked_at)
    if h.outcome:
        checked += f" ({source_health.outcome_label(h.outcome)}"
        checked += f" : {h.message})" if h.message else ")"
    snapshot = f"n° {h.snapshot_id} du {fr_date(h.snapshot_date)}" if h.snapshot_id else "aucun"
    return "\n".join(
        [
            f"{h.label} : {h.url or 'aucune adresse configurée'}",
            f"  dernière vérification : {checked}",
            f"  dernier changement : {fr_datetime(h.changed_at)}",
            f"  date du fichier : {fr_datetime(h.file_date)}",
            f"  dernier instantané : {snapshot}",
        ]
    )
