"""``balise sandbox [--background | --stop]`` and ``balise sandbox activity``: the sandbox operator
plugged into the ``balise`` host through the ``balise.commands`` entry points (the core never
imports this package). Administrators only, like every command acting on the whole system."""

from __future__ import annotations

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.errors import ConfigurationError
from balise.formatting import fr_count, fr_int
from sandbox import operator


@requires("admin")
@click.group(invoke_without_command=True)
@click.option("--background", is_flag=True, help="Démarrer en arrière-plan puis rendre la main.")
@click.option("--stop", "stop_it", is_flag=True, help="Arrêter l'opérateur bac à sable.")
@pass_context
def sandbox(ctx: Context, background: bool, stop_it: bool) -> None:
    """Opérateur bac à sable : un Dovecot local et fictif pour provisionner et tester ;
    « balise sandbox activity » y dépose une activité de démonstration."""
    if click.get_current_context().invoked_subcommand:  # « balise sandbox activity »
        return
    directory = operator.sandbox_dir(ctx.settings)
    if stop_it:
        stopped = operator.stop(directory)
        ctx.echo("Opérateur bac à sable arrêté." if stopped else "Aucun opérateur bac à sable.")
        return
    from sandbox.server import MailSandbox

    operator.check_can_run()
    operator.secret_key(directory)
    env = MailSandbox(directory).provisioning_env()
    lines = "\n".join(f"  {k}={v}" for k, v in env.items())
    if background:
        pid = operator.start_background(directory)
        ctx.echo(
            f"Opérateur bac à sable (fictif) démarré : {directory} (processus {pid}).\n"
            f"Pour y provisionner des BAL :\n{lines}",
            {"dossier": str(directory), "pid": pid, "environnement": env},
        )
        return
    ctx.echo(f"Opérateur bac à sable (fictif) dans {directory} ; Ctrl+C pour l'arrêter.")
    operator.run_foreground(directory)


@requires("admin")
@sandbox.command("activity")
@pass_context
def activity(ctx: Context) -> None:
    """Activité de démonstration sur l'opérateur bac à sable : boîtes suivies dans chaque
    département de la région, messages, relève."""
    from balise.db import engine_for, upgrade
    from balise.referentials.departments import region_departments
    from sandbox.activity import plan_for, run_demo_activity
    from sandbox.server import MailSandbox

    directory = operator.sandbox_dir(ctx.settings)
    if operator.running_pid(directory) is None:
        raise ConfigurationError(
            "L'opérateur bac à sable ne tourne pas : lancez « balise sandbox --background »."
        )
    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    # The BAL passwords are sealed with the key the dashboard uses in ``make run``.
    key = ctx.settings.secret_key or operator.secret_key(directory)
    server = MailSandbox.attach(directory)
    r = run_demo_activity(engine, server, key, plan_for(region_departments(ctx.settings.region)))
    counted = sum(o.messages for o in r.poll.outcomes)
    for o in r.poll.failed if not ctx.as_json else ():
        click.echo(f"Échec {o.address} : {o.message}", err=True)
    if r.poll.failed and not ctx.as_json:
        click.echo(f"Journal du Dovecot du bac à sable : {server.log_path}", err=True)
    ctx.echo(
        f"Activité de démonstration : {fr_count(len(r.watched), 'boîte suivie', 'boîtes suivies')}"
        f" ({fr_count(r.created, 'nouvelle', 'nouvelles')}), "
        f"{fr_count(r.delivered, 'message déposé', 'messages déposés')}, "
        f"{fr_count(counted, 'nouveau message compté', 'nouveaux messages comptés')}, "
        f"{fr_int(len(r.poll.failed))} en échec.",
        {"watched": r.watched, "created": r.created, "delivered": r.delivered,
         "counted": counted, "failed": [o.address for o in r.poll.failed]},
    )  # fmt: skip
    if r.poll.failed:  # the Activité page would miss these boxes: say so to make and cron
        click.get_current_context().exit(1)
