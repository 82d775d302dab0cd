"""The ``balise`` command host.

It only hosts: each package plugs its own commands in through the ``balise.commands``
entry-point group (see pyproject.toml), so the core never imports ``ingest`` or ``dashboard``.
Errors are translated here: ``Erreur : <message>`` on stderr, exit status 1; so is a write lock
held longer than ``BALISE_LOCK_WAIT`` (any command that writes: ingest, poll, user, mailbox, bal,
onboarding, export...).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import click

from balise import cli_french
from balise.config import Settings, load_settings
from balise.errors import BaliseError
from balise.services.access import SYSTEM, Actor

if TYPE_CHECKING:
    from sqlalchemy import Engine

cli_french.install()  # before any plug-in's command is built: click's words in French


class Context:
    """What every command receives: the settings, the output mode and who is acting."""

    def __init__(self, settings: Settings, as_json: bool):
        self.settings = settings
        self.as_json = as_json
        self._actor: Actor | None = None
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The store, for the account look-up and refusals' audit lines (commands open theirs)."""
        if self._engine is None:
            from balise.db import engine_for

            self._engine = engine_for(self.settings.resolved_database_url())
        return self._engine

    @property
    def claimed_login(self) -> str:
        """The account ``BALISE_USER`` names ("" = the local operator)."""
        return os.environ.get("BALISE_USER", "").strip()

    @property
    def actor(self) -> Actor:
        """Who the command acts as: the account named by ``BALISE_USER`` (the same department
        rules as in the dashboard), else the local operator. An unknown or disabled account is
        refused (PermissionDenied), never replaced by the local operator."""
        if self._actor is None and not self.claimed_login:
            self._actor = SYSTEM  # nothing to look up: no store opened for it
        if self._actor is None:
            from balise.db import upgrade
            from balise.services.users import cli_actor

            def migrated() -> Engine:  # the accounts table exists before anyone is looked up
                engine = self.engine
                upgrade(engine)
                return engine

            self._actor = cli_actor(migrated, self.claimed_login)
        return self._actor

    def echo(self, summary: str, payload: dict | None = None) -> None:
        """Print the one-line summary, or ``payload`` as JSON with ``--json``."""
        if self.as_json:
            click.echo(json.dumps(payload or {"message": summary}, ensure_ascii=False, default=str))
        else:
            click.echo(summary)


pass_context = click.make_pass_decorator(Context)


def _json_everywhere(ctx: click.Context, _param, value: bool) -> bool:
    """``balise indicateurs --json`` means ``balise --json indicateurs``: set while parsing, so
    that refusals of the permission check are JSON too."""
    if value:
        root = ctx.find_root()
        root.params["as_json"] = True
        root.obj.as_json = True
    return value


json_option = click.option("--json", is_flag=True, expose_value=False, callback=_json_everywhere,
                           help="Sortie JSON (comme « balise --json … »).")  # fmt: skip


class BaliseGroup(click.Group):
    """A group that loads plugged-in commands and turns BaliseError into ``Erreur : ...``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {ep.name for ep in _plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            for ep in _plugins():
                if ep.name == name:
                    command = ep.load()
                    cli_french.frenchify(command)
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BaliseError as exc:
            fail(ctx, str(exc))
        except click.ClickException as exc:  # a usage error: JSON too when asked for
            if not _wants_json(ctx):
                raise
            fail(ctx, exc.format_message(), exc.exit_code)
        except Exception as exc:  # a write lock held longer than BALISE_LOCK_WAIT: a sentence
            if not _lock_timeout(exc):
                raise
            from balise.db import busy_message

            settings = ctx.obj.settings if isinstance(ctx.obj, Context) else load_settings()
            fail(ctx, busy_message(settings.lock_wait))


def _lock_timeout(exc: Exception) -> bool:
    """Whether ``exc`` says the store's write lock stayed held too long. Only a command that
    opened the store can raise that: the others (``--help``...) never load SQLAlchemy here."""
    if "balise.db" not in sys.modules:
        return False
    from balise.db import is_lock_timeout

    return is_lock_timeout(exc)


def _wants_json(ctx: click.Context) -> bool:
    return bool(ctx.find_root().params.get("as_json"))


def fail(ctx: click.Context, message: str, status: int = 1) -> None:
    """End the command with ``message``: ``Erreur : message`` on stderr, or with ``--json`` the
    object ``{"error": message}`` on stdout (scripts read one JSON document there); exit 1."""
    if _wants_json(ctx):
        click.echo(json.dumps({"error": message}, ensure_ascii=False))
    else:
        click.echo(f"Erreur : {message}", err=True)
    ctx.exit(status)


def _plugins():
    return entry_points(group="balise.commands")


@click.group(cls=BaliseGroup, subcommand_metavar=cli_french.SUBCOMMAND_METAVAR)
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
        fail(ctx, str(exc))
    ctx.obj = Context(settings, as_json)


def main() -> None:
    cli(prog_name="balise")
