"""Who may run each ``balise`` command.

Every command of the tree declares its permission with :func:`requires` (the core's and the
plugged-in packages' alike). The declaration is enforced at the edge, before the command does
anything: the account named by ``BALISE_USER`` must exist and be enabled, its role must reach the
level, and the departments named by the declared option must be the actor's. The services check
again (they are the real gate: the pages call them too) for what only they can see, such as the
department of a BAL named by its address. Every refusal, wherever it is noticed, leaves one
audit line (``balise.services.refusals``).

Levels:

- ``public``: reads no data and needs no account (``ins``, ``bal template``);
- ``read``: any enabled account; an animator reads their own departments only;
- ``act``: an administrator, or an animator on their own departments; never a programme manager;
- ``admin``: an administrator, or the local operator (``BALISE_USER`` unset): the commands that
  act on the whole system (accounts, demo data, sandbox, worker, dashboard server, keys).

A test walks the whole tree (tests/test_command_access.py): a command without a declaration, or
whose declared options do not exist, fails it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import click

from balise.errors import PermissionDenied
from balise.services.access import Actor, actable_departments, readable_departments
from balise.services.refusals import audit_refusal

LEVELS = ("public", "read", "act", "admin")


@dataclass(frozen=True)
class Permission:
    """``departments``: the parameter holding department codes, checked at the edge.
    ``objects``: the parameters naming objects (BAL, mailbox, FINESS, account, file) whose
    department only the service can check."""

    level: str
    departments: str | None = None
    objects: tuple[str, ...] = ()


def requires(
    level: str, departments: str | None = None, objects: Iterable[str] = ()
) -> Callable[[click.Command], click.Command]:
    """Declare and enforce who may run the decorated command (put it above ``@x.command()``)."""
    if level not in LEVELS:
        raise ValueError(f"unknown permission level {level!r}")
    permission = Permission(level, departments, tuple(objects))

    def declare(command: click.Command) -> click.Command:
        names = {p.name for p in command.params}
        missing = {departments, *permission.objects} - names - {None}
        if missing:
            raise ValueError(f"{command.name}: no parameter named {sorted(missing)}")
        command.balise_permission = permission  # type: ignore[attr-defined]
        if command.callback is not None:
            command.callback = _guarded(command.callback, permission)
        return command

    return declare


def permission_of(command: click.Command) -> Permission | None:
    return getattr(command, "balise_permission", None)


def action_name(ctx: click.Context) -> str:
    """``bal.test`` for ``balise bal test``: the audit's name for the command."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return ".".join(reversed(names))


def _guarded(callback: Callable, permission: Permission) -> Callable:
    @functools.wraps(callback)
    def run(*args, **kwargs):
        ctx = click.get_current_context()
        if permission.level == "public":
            return callback(*args, **kwargs)
        actor = check(ctx, permission)
        # A refusal the services raise without auditing it (a read) is audited here, once. The
        # store is opened only then: ``--help`` and the local operator's commands need none.
        try:
            return callback(*args, **kwargs)
        except PermissionDenied as exc:
            audit_refusal(ctx.find_root().obj.engine, actor, action_name(ctx), exc)
            raise

    return run


def check(ctx: click.Context, permission: Permission) -> Actor:
    """The edge check of ``permission`` for the command of ``ctx``; returns the actor.
    Raises PermissionDenied (audited) when the actor may not run it with these options."""
    context = ctx.find_root().obj
    action = action_name(ctx)
    try:
        actor = context.actor
    except PermissionDenied as exc:  # BALISE_USER names an unknown or disabled account
        audit_refusal(context.engine, Actor(context.claimed_login[:255], "animator"), action, exc)
        raise
    try:
        _check_level(actor, permission.level, action)
        wanted = _departments(ctx.params.get(permission.departments or ""))
        if wanted and permission.level == "act":
            actable_departments(actor, wanted, action)
        elif wanted:
            readable_departments(actor, wanted)
    except PermissionDenied as exc:  # the store is opened only to write the refusal's line
        audit_refusal(context.engine, actor, action, exc)
        raise
    return actor


def _check_level(actor: Actor, level: str, action: str) -> None:
    if level == "admin" and actor.role != "admin":
        command = action.replace(".", " ")
        raise PermissionDenied(f"Seul un administrateur peut lancer « balise {command} ».")
    if level == "act":
        actable_departments(actor, (), action)  # a programme manager never acts


def _departments(value: object) -> tuple[str, ...]:
    """Department codes from an option: ``("01", "38")``, ``"01,38"``, ``"38"`` or nothing."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(code.strip().upper() for code in items if str(code).strip())  # type: ignore[union-attr]
