"""``balise mailbox add|list|remove``: the mailboxes ``balise poll`` watches.

Secrets are never taken on the command line in clear (it would land in shell history and the
process list): ``--ask-secret`` reads it without echo (or from standard input) and seals it with
BALISE_SECRET_KEY; ``--secret-env VAR`` / ``--secret-file PATH`` store only where it lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.formatting import fr_count, fr_datetime
from balise.mail.endpoints import AUTH_MODES, IMAP_PORTS, TLS_MODES

if TYPE_CHECKING:
    from sqlalchemy import Engine


AUTH_LABELS = {
    "password": "mot de passe",
    "xoauth2": "jeton XOAUTH2",
    "oauthbearer": "jeton OAUTHBEARER",
    "external": "certificat client (EXTERNAL)",
}
TLS_LABELS = {"starttls": "STARTTLS", "implicit": "TLS implicite"}


def _store(ctx: Context) -> Engine:
    from balise.db import engine_for, upgrade

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    return engine


@click.group()
def mailbox() -> None:
    """Boîtes aux lettres suivies par la relève d'activité."""


@requires("act", departments="department")
@mailbox.command()
@click.argument("address", metavar="ADRESSE")
@click.option("--department", required=True, help="Code du département (01, 2A, 974...).")
@click.option("--host", required=True, help="Serveur IMAP de l'opérateur.")
@click.option("--port", type=int, help="Port IMAP (143 en STARTTLS, 993 en TLS implicite).")
@click.option("--tls", "tls_mode", type=click.Choice(TLS_MODES), default="starttls")
@click.option("--smtp-host", help="Serveur d'envoi (SMTP), si différent du serveur IMAP.")
@click.option("--smtp-port", type=int, help="Port d'envoi (587 en STARTTLS, 465 en TLS implicite).")
@click.option(
    "--smtp-tls", "smtp_tls_mode", type=click.Choice(TLS_MODES),
    help="TLS de l'envoi (défaut : celui de l'IMAP).",
)  # fmt: skip
@click.option("--auth", "auth_mode", type=click.Choice(AUTH_MODES), default="password")
@click.option("--username", help="Identifiant de connexion, s'il diffère de l'adresse.")
@click.option("--ask-secret", is_flag=True, help="Saisir le mot de passe ou jeton (chiffré).")
@click.option("--secret-env", help="Variable d'environnement qui contient le secret.")
@click.option("--secret-file", help="Fichier qui contient le secret.")
@click.option("--ca-bundle", help="Autorités de confiance (PEM), ex. IGC-Santé.")
@click.option("--client-cert", help="Certificat client (PEM), mode EXTERNAL.")
@click.option("--client-key", help="Clé du certificat client (PEM), mode EXTERNAL.")
@click.option(
    "--folder", "folders", multiple=True, help="Dossier à relever (défaut : INBOX + Envoyés)."
)
@pass_context
def add(
    ctx: Context,
    address: str,
    port: int | None,
    ask_secret: bool,
    secret_env: str | None,
    secret_file: str | None,
    **opts,
) -> None:
    """Suivre une boîte."""
    from balise.services import watched_mailboxes

    secret = click.prompt("Secret", hide_input=True, err=True) if ask_secret else None
    ref = f"env:{secret_env}" if secret_env else f"file:{secret_file}" if secret_file else None
    request = watched_mailboxes.WatchRequest(
        address=address,
        imap_port=port or IMAP_PORTS[opts["tls_mode"]],
        secret=secret,
        secret_ref=ref,
        folders=tuple(opts.pop("folders")),
        imap_host=opts.pop("host"),
        **opts,
    )
    engine = _store(ctx)
    watched_mailboxes.add_watched(engine, ctx.actor, request, ctx.settings.secret_key)
    clean = request.address.strip().lower()
    ctx.echo(
        f"Boîte {clean} suivie ({_endpoints_line(watched_mailboxes.endpoints(engine, ctx.actor, clean))}).",
        {"address": clean, "status": "watched"},
    )


def _endpoints_line(found) -> str:
    """« mot de passe, identifiant jdupont, IMAP STARTTLS h:143, envoi STARTTLS h:587 » (the
    login only when it differs from the address)."""
    login = f", identifiant {found['username']}" if found["username"] != found["address"] else ""
    return (
        f"{AUTH_LABELS[found['auth_mode']]}{login}, IMAP {TLS_LABELS[found['tls_mode']]} "
        f"{found['imap_host']}:{found['imap_port']}, envoi {TLS_LABELS[found['smtp_tls_mode']]} "
        f"{found['smtp_host']}:{found['smtp_port']}"
    )


@requires("read", departments="departments")
@mailbox.command(name="list")
@click.option("--department", "departments", multiple=True, help="Code du département.")
@pass_context
def list_(ctx: Context, departments: tuple[str, ...]) -> None:
    """Lister les boîtes suivies et leur dernière relève."""
    from balise.services.watch_list import watched_rows  # Core only: no ORM to load

    found = watched_rows(_store(ctx), ctx.actor, departments or None)
    if ctx.as_json:
        ctx.echo("", {"mailboxes": found})
        return
    for r in found:
        if r["last_poll_at"] is None:
            last = "jamais relevée"
        elif r["last_poll_ok"]:
            last = f"relevée le {fr_datetime(r['last_poll_at'])}"
        else:
            last = f"échec le {fr_datetime(r['last_poll_at'])} : {r['last_poll_message']}"
        click.echo(
            f"{r['address']}  {r['department']}  {_endpoints_line(r)}  secret : {r['secret']}  {last}"
        )
    click.echo(f"{fr_count(len(found), 'boîte suivie', 'boîtes suivies')}.")


@requires("act", objects=("address",))
@mailbox.command()
@click.argument("address", metavar="ADRESSE")
@pass_context
def remove(ctx: Context, address: str) -> None:
    """Ne plus suivre une boîte (ses comptages sont effacés)."""
    from balise.services import watched_mailboxes

    watched_mailboxes.remove_watched(_store(ctx), ctx.actor, address)
    ctx.echo(f"Boîte {address.strip().lower()} retirée du suivi.")
