"""``balise onboarding advance|move|late``: the onboarding pipeline from the command line, so
that cron (after ``balise ingest`` / ``balise poll``) advances stages without the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.formatting import fr_date
from balise.referentials.lifecycles import ONBOARDING_STAGES
from balise.services.access import actable_departments

if TYPE_CHECKING:
    pass

department_option = click.option(
    "--department", "departments", multiple=True, metavar="CODE",
    help="Département à inclure (répétable) ; par défaut tous ceux de l'utilisateur.",
)  # fmt: skip


@click.group()
def onboarding() -> None:
    """Suivre l'accompagnement des structures (étapes, relances)."""


@requires("act", departments="departments")
@onboarding.command("advance")
@department_option
@pass_context
def advance(ctx: Context, departments: tuple[str, ...]) -> None:
    """Avancer les étapes d'après les faits (annuaire, BAL, tests, activité)."""
    from balise.db import engine_for
    from balise.services import onboarding as ob

    departments = actable_departments(ctx.actor, departments or None, "onboarding.advance")
    moved = ob.advance_from_facts(engine_for(ctx.settings.resolved_database_url()), departments)
    ctx.echo(f"{moved} structure(s) avancée(s) d'après les faits.", {"moved": moved})


@requires("act", objects=("finess",))
@onboarding.command("move")
@click.argument("finess", metavar="FINESS")
@click.argument("stage", metavar="ÉTAPE", type=click.Choice(list(ONBOARDING_STAGES)))
@click.option("--motif", "reason", help="Pourquoi (sans donnée de patient).")
@pass_context
def move(ctx: Context, finess: str, stage: str, reason: str | None) -> None:
    """Mettre la structure FINESS à l'ÉTAPE : a_contacter, contacte, sensibilise, bal_demandee,
    bal_creee, bal_testee ou usage_regulier."""
    from balise.db import engine_for
    from balise.services import onboarding as ob

    ob.move(engine_for(ctx.settings.resolved_database_url()), ctx.actor, finess, stage, reason)
    ctx.echo(f"Structure {finess} : {ob.STAGES[stage]}.", {"finess": finess, "stage": stage})


@requires("read", departments="departments")
@onboarding.command("late")
@department_option
@pass_context
def late(ctx: Context, departments: tuple[str, ...]) -> None:
    """Lister les structures à relancer."""
    from balise.db import engine_for
    from balise.services import onboarding as ob

    engine = engine_for(ctx.settings.resolved_database_url())
    df = ob.overdue(engine, ctx.actor, departments or None)
    lines = [f"{fr_date(r.due)}  {r.finess_et}  {r.name} — {r.reason}" for r in df.itertuples()]
    summary = "\n".join([*lines, f"{len(df)} structure(s) à relancer."])
    ctx.echo(
        summary, {"late": df[["finess_et", "name", "department", "reason"]].to_dict("records")}
    )
