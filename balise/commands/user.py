"""``balise user add|list|disable|passwd|role``, ``balise audit export|purge|verify`` and
``balise secret-key [rotate]``: thin commands over ``balise.services.users``, ``audit_log`` and
``keyring``.

Passwords are typed at a hidden prompt (or piped on standard input), never passed as an
option: options end up in the shell history and in ``ps``.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.errors import BaliseError, ConfigurationError, TamperingDetected
from balise.services.access import ROLES, Actor

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from balise.services import audit_log


def _store(ctx: Context) -> Engine:
    from balise.db import engine_for, upgrade

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    return engine


def _actor(ctx: Context, engine: Engine) -> Actor:
    return ctx.actor  # after _store(): the accounts table exists


def _password(from_stdin: bool = False) -> str:
    if from_stdin:  # scripts: one line on standard input, never an option value
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(
        "Mot de passe", hide_input=True, confirmation_prompt="Confirmez le mot de passe"
    )


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard."
)


@click.group()
def user() -> None:
    """Gérer les comptes (administrateurs seulement)."""


@requires("admin")
@user.command()
@click.argument("login", metavar="IDENTIFIANT")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="Rôle du compte.")
@click.option("--department", "departments", multiple=True, help="Département (animateur).")
@click.option("--name", "display_name", default="", help="Nom affiché.")
@click.option("--oidc", is_flag=True, help="Compte sans mot de passe local (connexion OIDC).")
@password_stdin
@pass_context
def add(ctx: Context, login: str, role: str, departments, display_name: str, oidc: bool,
        password_stdin: bool) -> None:  # fmt: skip
    """Créer un compte ; le premier administrateur se crée ainsi."""
    from balise.services import users

    engine = _store(ctx)
    actor = _actor(ctx, engine)
    password = None if oidc else _password(password_stdin)
    new = users.NewUser(login, role, tuple(departments), password, display_name)
    created = users.add_user(engine, actor, new)
    where = f" ({', '.join(created.departments)})" if created.departments else ""
    ctx.echo(
        f"Compte {created.login} créé : {ROLES[created.role].lower()}{where}.",
        {"login": created.login, "role": created.role, "departments": list(created.departments)},
    )


@requires("admin")
@user.command(name="list")
@pass_context
def list_(ctx: Context) -> None:
    """Lister les comptes."""
    from balise.services import users

    engine = _store(ctx)
    df = users.list_users(engine, _actor(ctx, engine))
    if ctx.as_json:
        records = df.astype(object).where(df.notna(), None).to_dict("records")
        ctx.echo("", {"users": records})
        return
    for r in df.itertuples():
        state = "désactivé" if r.disabled else "actif"
        kind = "local" if r.local else "OIDC"
        departments = r.departments or "tous départements"
        click.echo(f"{r.login}  {ROLES.get(r.role, r.role)}  {departments}  {kind}  {state}")
    click.echo(f"{len(df)} compte(s).")


@requires("admin")
@user.command()
@click.argument("login", metavar="IDENTIFIANT")
@pass_context
def disable(ctx: Context, login: str) -> None:
    """Désactiver un compte (il reste dans le journal d'audit)."""
    from balise.services import users

    engine = _store(ctx)
    users.disable_user(engine, _actor(ctx, engine), login)
    ctx.echo(f"Compte {login.strip().lower()} désactivé.")


@requires("read", objects=("login",))  # one's own password; anyone's for an administrator
@user.command()
@click.argument("login", metavar="IDENTIFIANT")
@password_stdin
@pass_context
def passwd(ctx: Context, login: str, password_stdin: bool) -> None:
    """Changer le mot de passe d'un compte (lève aussi un verrouillage)."""
    from balise.services import users

    engine = _store(ctx)
    actor = _actor(ctx, engine)
    users.check_password_change(engine, actor, login)  # before asking for the password
    users.set_password(engine, actor, login, _password(password_stdin))
    ctx.echo(f"Mot de passe de {login.strip().lower()} changé.")


@requires("admin")
@user.command()
@click.argument("login", metavar="IDENTIFIANT")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--department", "departments", multiple=True)
@pass_context
def role(ctx: Context, login: str, role: str, departments) -> None:
    """Changer le rôle et les départements d'un compte."""
    from balise.services import users

    engine = _store(ctx)
    users.set_role(engine, _actor(ctx, engine), login, role, departments)
    ctx.echo(f"Compte {login.strip().lower()} : {ROLES[role].lower()}.")


@requires("admin")
@click.group("secret-key", invoke_without_command=True)
@click.pass_context
def secret_key(click_ctx: click.Context) -> None:
    """Afficher une nouvelle clé pour BALISE_SECRET_KEY (« rotate » : changer de clé)."""
    if click_ctx.invoked_subcommand is None:
        from balise.secrets import new_key

        click.echo(new_key())


@requires("admin")
@secret_key.command()
@click.option(
    "--old-key-env", default="BALISE_OLD_SECRET_KEY", show_default=True,
    help="Variable d'environnement qui contient l'ancienne clé.",
)  # fmt: skip
@pass_context
def rotate(ctx: Context, old_key_env: str) -> None:
    """Rechiffrer les secrets enregistrés de l'ancienne clé vers BALISE_SECRET_KEY (administrateurs)."""
    from balise.services import keyring

    engine = _store(ctx)
    old_key = os.environ.get(old_key_env, "")
    if not old_key:
        raise ConfigurationError(
            f"{old_key_env} n'est pas définie : mettez-y l'ancienne clé (celle qui a chiffré "
            "les secrets), et la nouvelle dans BALISE_SECRET_KEY."
        )
    new = ctx.settings.secret_key
    count = keyring.rotate(engine, _actor(ctx, engine), old_key, new, old_key_env)
    fp = keyring.fingerprint(new)[:8]
    ctx.echo(
        f"Clé changée : {count} secret(s) rechiffré(s) avec BALISE_SECRET_KEY (empreinte "
        f"{fp}…). Retirez {old_key_env} de l'environnement.",
        {"secrets": count, "fingerprint": fp},
    )


@click.group()
def audit() -> None:
    """Consulter, exporter et purger le journal d'audit."""


def _filter(since: str | None, action: tuple[str, ...]) -> audit_log.AuditFilter:
    from balise.services import audit_log

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError as exc:
        raise BaliseError(f"Date invalide : {since} (attendu AAAA-MM-JJ).") from exc
    return audit_log.AuditFilter(start=start, actions=action)


@requires("read")  # scoped by the service: an animator sees their departments and own lines
@audit.command(name="export")
@click.argument("out", metavar="SORTIE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--since", help="Depuis cette date (AAAA-MM-JJ).")
@click.option("--action", multiple=True, help="Action (répétable), par ex. bal.provision.")
@pass_context
def export_(ctx: Context, out: Path, since: str | None, action: tuple[str, ...]) -> None:
    """Écrire le journal d'audit filtré en CSV."""
    from balise.services import audit_log

    engine = _store(ctx)
    data = audit_log.export_csv(engine, _actor(ctx, engine), _filter(since, action))
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise BaliseError(f"Impossible d'écrire le fichier {out} : {exc.strerror}.") from exc
    rows = max(data.count(b"\n") - 1, 0)
    ctx.echo(f"Journal d'audit écrit dans {out} : {rows} lignes.", {"file": str(out), "rows": rows})


@requires("admin")
@audit.command()
@click.option("--days", type=int, help="Durée de conservation (sinon le réglage).")
@pass_context
def purge(ctx: Context, days: int | None) -> None:
    """Supprimer les lignes plus anciennes que la durée de conservation."""
    from balise.services import audit_log

    engine = _store(ctx)
    keep = days if days is not None else ctx.settings.audit_retention_days
    deleted = audit_log.purge(engine, _actor(ctx, engine), keep)
    ctx.echo(
        f"Journal d'audit purgé : {deleted} ligne(s) de plus de {keep} jours supprimée(s).",
        {"deleted": deleted, "retention_days": keep},
    )


@requires("read")  # administrators and programme managers: the service refuses animators
@audit.command()
@pass_context
def verify(ctx: Context) -> None:
    """Vérifier la chaîne d'empreintes du journal d'audit (sortie 1 si elle est rompue)."""
    from balise.services import audit_log

    engine = _store(ctx)
    report = audit_log.verify(engine, _actor(ctx, engine))
    if report.problem:
        raise TamperingDetected(f"Journal d'audit altéré : {report.problem}")
    span = f" (n°{report.first_id} à n°{report.last_id})" if report.lines else ""
    ctx.echo(
        f"Journal d'audit intact : {report.lines} ligne(s) chaînée(s){span} ; "
        f"empreinte de la dernière : {report.head_hash}.",
        {"lines": report.lines, "first_id": report.first_id, "last_id": report.last_id,
         "head_hash": report.head_hash},
    )  # fmt: skip
