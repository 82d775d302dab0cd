"""``balise ins NUMBER``: check a patient's INS and print what it says and the patient's
MSSanté address. Pure: opens no database, writes no log."""

from __future__ import annotations

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.referentials.ins import check_ins


@requires("public")
@click.command("ins")
@click.argument("number", metavar="NUMÉRO")
@pass_context
def ins(ctx: Context, number: str) -> None:
    """Vérifier un INS (15 caractères) et afficher l'adresse MSSanté du patient."""
    result = check_ins(number)
    lines = [result.sentence(), result.address, *(f"Attention : {w}" for w in result.warnings)]
    ctx.echo(
        "\n".join(lines),
        {
            "sexe": result.sex,
            "annee_naissance": result.birth_year,
            "mois_naissance": result.birth_month,
            "lieu_naissance": result.place.code,
            "lieu_libelle": result.place.label,
            "adresse": result.address,
            "avertissements": list(result.warnings),
        },
    )
