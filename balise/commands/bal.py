"""``balise bal provision|import|template|test|list|confirm|disable|retry``: thin commands over
``balise.services.provisioning``, ``bal_import`` and ``bal_tests``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.errors import BaliseError, ValidationError
from balise.formatting import fr_int, fr_seconds
from balise.referentials.lifecycles import BAL_STATUSES, BalStatus
from balise.services.access import SYSTEM

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _store(ctx: Context) -> Engine:
    from balise.db import engine_for, upgrade

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    return engine


def _settings(ctx: Context, backend: str | None):
    from dataclasses import replace

    return replace(ctx.settings, provision_backend=backend) if backend else ctx.settings


@click.group()
def bal() -> None:
    """Provisionner et tester des BAL MSSanté."""


backend_option = click.option(
    "--backend", type=click.Choice(["dovecot", "request"]), help="Moteur de provisionnement."
)


@requires("act", departments="department")
@bal.command()
@click.option("--type", "bal_type", required=True, help="PER, ORG, APP ou CAB.")
@click.option("--department", required=True, help="Code du département (01, 2A, 974...).")
@click.option("--address", default="", help="Adresse ; sinon proposée à partir de --domain.")
@click.option("--domain", default="", help="Domaine pour l'adresse proposée.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--holder-id", default="", help="RPPS ou ADELI du titulaire (PER).")
@click.option("--finess", default="")
@click.option("--service", default="")
@click.option("--responsible", default="", help="Professionnel responsable (ORG, APP).")
@click.option("--structure-head", default="", help="Responsable de la structure (ORG).")
@click.option("--software", default="", help="Logiciel émetteur (APP).")
@click.option("--practice", default="", help="Nom du cabinet (CAB).")
@backend_option
@pass_context
def provision(ctx: Context, backend: str | None, domain: str, **fields: str) -> None:
    """Provisionner une BAL."""
    from balise.referentials.bal_rules import BalRequest, suggest_address
    from balise.services import provisioning as prov

    request = BalRequest(**fields)
    if not request.address and domain:
        request.address = suggest_address(request, domain)
    settings = _settings(ctx, backend)
    report = prov.provision(_store(ctx), ctx.actor, settings, request)
    verb = "créée" if report.status == BalStatus.PROVISIONED else "demandée à l'opérateur"
    if not report.created:
        verb = "déjà provisionnée, rien n'a été refait"
    summary = f"BAL {report.address} {verb}."
    if report.files:
        summary += f" Demande : {report.files[0]}"
    if report.secret and not ctx.as_json:
        # Handed once: it is stored encrypted and never shown again.
        summary += f"\nMot de passe (affiché une seule fois) : {report.secret}"
    payload = {"adresse": report.address, "statut": report.status, "créée": report.created,
               "fichiers": [str(f) for f in report.files]}  # fmt: skip
    ctx.echo(summary, payload)


@requires("act", objects=("file",))
@bal.command(name="import")
@click.argument(
    "file", metavar="FICHIER", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--dry-run", is_flag=True, help="Vérifier seulement, ne rien créer.")
@backend_option
@pass_context
def import_(ctx: Context, file: Path, dry_run: bool, backend: str | None) -> None:
    """Importer un classeur de BAL (modèle : « balise bal template »)."""
    from balise.services import bal_import

    engine, settings, data = _store(ctx), _settings(ctx, backend), file.read_bytes()
    if dry_run:
        report = bal_import.dry_run(engine, ctx.actor, settings, data)
    else:
        try:
            report = bal_import.apply(engine, ctx.actor, settings, data)
        except ValidationError as exc:
            lines = [m for _, m in exc.problems]
            raise BaliseError("\n".join([str(exc), *lines])) from exc
    payload = {"lignes": [r.__dict__ | {"etat": r.state} for r in report.rows],
               "appliqué": report.applied}  # fmt: skip
    ctx.echo("\n".join([report.summary(), *report.problem_lines()]), payload)
    if report.errors:
        ctx_exit = click.get_current_context()
        ctx_exit.exit(1)


@requires("public")
@bal.command()
@click.argument("out", metavar="SORTIE", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def template(ctx: Context, out: Path) -> None:
    """Écrire le modèle de classeur d'import."""
    from balise.referentials.bal_sheet import template_bytes

    out.write_bytes(template_bytes())
    ctx.echo(f"Modèle d'import écrit : {out}")


@requires("act", departments="department", objects=("address", "recipient"))
@bal.command()
@click.argument("address", metavar="[ADRESSE]", required=False)
@click.option("--department", help="Tester toutes les BAL de ce département.")
@click.option(
    "--to",
    "recipient",
    help="Destinataire : une autre BAL provisionnée (par défaut la BAL elle-même).",
)
@click.option("--use-case", "case_id", help="Cas d'usage du message (data/use_cases.csv).")
@click.option("--xdm", is_flag=True, help="Joindre une archive IHE_XDM.ZIP factice.")
@click.option("--timeout", type=float, default=30, show_default=True, help="Attente maximale (s).")
@click.option("--concurrency", default=4, show_default=True, help="Tests simultanés (lot).")
@click.option("--token-env", help="Variable d'environnement contenant le jeton PSC (XOAUTH2).")
@pass_context
def test(ctx: Context, address, department, recipient, case_id, xdm, timeout, concurrency,
         token_env) -> None:  # fmt: skip
    """Test aller-retour d'une BAL (envoi SMTP puis réception IMAP)."""
    from balise.services import bal_tests

    engine = _store(ctx)
    if department:
        results = bal_tests.run_department_tests(
            engine, ctx.actor, ctx.settings, department, concurrency, timeout
        )
    elif address:
        token = os.environ.get(token_env) if token_env else None
        results = [bal_tests.run_bal_test(engine, ctx.actor, ctx.settings, address, recipient,
                                          case_id, xdm, token, timeout)]  # fmt: skip
    else:
        raise BaliseError("Indiquez une adresse ou --department.")
    lines = [_result_line(r) for r in results] or ["Aucune BAL à tester dans ce département."]
    failed = [r for r in results if not r.outcome.arrived]
    if len(results) > 1:
        lines.append(f"{fr_int(len(results))} BAL testées, {fr_int(len(failed))} en échec.")
    ctx.echo("\n".join(lines), {"tests": [r.__dict__ for r in results]})
    if failed:  # after every BAL is reported
        click.get_current_context().exit(1)


def _result_line(result) -> str:
    from balise.mail.roundtrip import SEEN_BY, STEP_LABELS

    steps = ", ".join(
        f"{STEP_LABELS[step].lower()} {fr_seconds(seconds, 2)}"
        for step, seconds in result.steps.items()
    )
    seen = f" ; vu par {SEEN_BY[result.seen_by]}" if result.seen_by else ""
    details = f"{steps}{seen}".removeprefix(" ; ")
    timings = f" ({details})" if details else ""
    return f"{result.sender} : {result.outcome.label.lower()} — {result.message}{timings}"


@requires("read", departments="departments")
@bal.command(name="list")
@click.option("--department", "departments", multiple=True)
@click.option("--status", type=click.Choice(list(BAL_STATUSES)))
@pass_context
def list_(ctx: Context, departments: tuple[str, ...], status: str | None) -> None:
    """Lister les BAL provisionnées (celles qui ont du trafic réel passent « actives »)."""
    from balise.services import provisioning as prov

    engine = _store(ctx)
    # Bookkeeping from facts (real traffic seen by the poll), like the onboarding auto-advance:
    # done by the system whoever lists, so that a reader's list is up to date.
    prov.activate_from_traffic(engine, SYSTEM)
    frame = prov.bals_frame(engine, ctx.actor, list(departments) or None, status)
    lines = [
        f"{r.adresse}  {r.type}  {r.departement}  {prov.STATUSES[r.statut]}"
        for r in frame.itertuples()
    ]
    ctx.echo("\n".join(lines) or "Aucune BAL provisionnée.", {"bal": frame.to_dict("records")})


def _lifecycle(action_name: str, verb: str):
    @click.argument("address", metavar="ADRESSE")
    @pass_context
    def command(ctx: Context, address: str) -> None:
        from balise.services import provisioning as prov

        action = getattr(prov, action_name)
        status = action(_store(ctx), ctx.actor, address)
        ctx.echo(f"BAL {address} {verb} (statut : {prov.STATUSES[status].lower()}).")

    return command


requires("act", objects=("address",))(
    bal.command(name="confirm", help="Confirmer qu'une BAL demandée a été créée par l'opérateur.")(
        _lifecycle("confirm", "confirmée")
    )
)
requires("act", objects=("address",))(
    bal.command(name="disable", help="Désactiver une BAL.")(_lifecycle("disable", "désactivée"))
)


@requires("act", objects=("address",))
@bal.command()
@click.argument("address", metavar="ADRESSE")
@pass_context
def retry(ctx: Context, address: str) -> None:
    """Relancer l'étape en échec : une demande restée en attente ou un test échoué."""
    from balise.services import bal_tests
    from balise.services import provisioning as prov

    done = bal_tests.retry(_store(ctx), ctx.actor, ctx.settings, address)
    if isinstance(done, prov.ProvisionReport):
        status = prov.STATUSES[done.status].lower()
        summary = f"BAL {done.address} : provisionnement relancé (statut : {status})."
        if done.secret and not ctx.as_json:
            summary += f"\nMot de passe (affiché une seule fois) : {done.secret}"
        ctx.echo(summary, {"adresse": done.address, "statut": done.status})
        return
    ctx.echo(_result_line(done), {"tests": [done.__dict__]})
    if not done.outcome.arrived:
        click.get_current_context().exit(1)
