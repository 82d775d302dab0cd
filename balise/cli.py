"""The ``balise`` command host.

It only hosts: each package plugs its own commands in through the ``balise.commands``
entry-point group (see pyproject.toml), so the core never imports ``ingest`` or ``dashboard``.
Errors are translated here: ``Erreur : <message>`` on stderr, exit status 1.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points

import click

from balise.config import Settings, load_settings
from balise.errors import BaliseError
from balise.services.access import Actor


class Context:
    """What every command receives: the settings and the output mode."""

    def __init__(self, settings: Settings, as_json: bool):
        self.settings = settings
        self.as_json = as_json

    @property
    def actor(self) -> Actor:
        """Who the command acts as: the account named by ``BALISE_USER`` (the same department
        rules as in the dashboard), else the local operator."""
        from balise.db import engine_for
        from balise.services.users import cli_actor

        return cli_actor(lambda: engine_for(self.settings.resolved_database_url()))

    def echo(self, summary: str, payload: dict | None = None) -> None:
        """Print the one-line summary, or ``payload`` as JSON with ``--json``."""
        if self.as_json:
            click.echo(json.dumps(payload or {"message": summary}, ensure_ascii=False, default=str))
        else:
            click.echo(summary)


pass_context = click.make_pass_decorator(Context)


class BaliseGroup(click.Group):
    """A group that loads plugged-in commands and turns BaliseError into ``Erreur : ...``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {ep.name for ep in _plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            for ep in _plugins():
                if ep.name == name:
                    return ep.load()
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BaliseError as exc:
            click.echo(f"Erreur : {exc}", err=True)
            ctx.exit(1)


def _plugins():
    return entry_points(group="balise.commands")


@click.group(cls=BaliseGroup)
@click.option("--database-url", envvar="BALISE_DATABASE_URL", help="URL SQLAlchemy de la base.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON pour les scripts.")
@click.option("-v", "--verbose", is_flag=True, help="Journal détaillé sur la sortie d'erreur.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, as_json: bool, verbose: bool) -> None:
    """Balise : adoption de MSSanté dans le médico-social."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings(database_url=database_url)
    except BaliseError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        ctx.exit(1)
    ctx.obj = Context(settings, as_json)


def main() -> None:
    cli(prog_name="balise")
