"""The whole ``balise`` command tree (the core's commands and every plug-in's), for the tests that
must hold for every command: a new command is covered without anyone remembering it."""

from __future__ import annotations

import click


def walk(group: click.Group) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every runnable command under ``group``: leaves, and groups that run by themselves."""
    ctx = click.Context(group)
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def visit(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                visit(command.get_command(ctx, name), (*path, name))
            if not command.invoke_without_command:
                return
        found.append((path, command))

    visit(group, ())
    return found
