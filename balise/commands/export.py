"""``balise export xlsx|csv``: the webinar pack or one of its tables, written to a file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.errors import BaliseError, NotFoundError
from balise.referentials.departments import resolve_selection
from balise.referentials.lifecycles import PACK_TABLES

if TYPE_CHECKING:
    from sqlalchemy import Engine


NO_DATA = (
    "La base ne contient aucune donnée d'adoption : lancez d'abord « balise demo » "
    "ou « balise ingest annuaire SOURCE » et « balise ingest finess SOURCE »."
)


def _store(ctx: Context) -> Engine:
    """The configured store, refusing an empty or unmigrated one with a French sentence."""
    from sqlalchemy.exc import SQLAlchemyError

    from balise.db import engine_for, is_lock_timeout
    from balise.services import snapshots

    engine = engine_for(ctx.settings.resolved_database_url())
    try:
        version = snapshots.data_version(engine)
    except SQLAlchemyError as exc:
        if is_lock_timeout(exc):  # a locked store is not an empty one: the CLI says so
            raise
        raise NotFoundError(NO_DATA) from exc
    if version == 0:
        raise NotFoundError(NO_DATA)
    return engine


def _selection(ctx: Context, codes: tuple[str, ...]) -> tuple[str, ...] | None:
    return resolve_selection(
        departments=",".join(codes) or None,
        default_region=ctx.settings.region,
        default_departments=ctx.settings.departments,
    )


def _write(out: Path, data: bytes) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise BaliseError(f"Impossible d'écrire le fichier {out} : {exc.strerror}.") from exc


def _summary(departments: tuple[str, ...] | None) -> str:
    if departments is None:
        return "tous les départements"
    return f"{len(departments)} département{'s' if len(departments) > 1 else ''}"


department_option = click.option(
    "--department", "departments", multiple=True, metavar="CODE",
    help="Département à inclure (répétable) ; par défaut la région configurée.",
)  # fmt: skip


@click.group()
def export() -> None:
    """Exporter le pack webinaire (xlsx) ou un tableau (csv)."""


@requires("read", departments="departments")
@export.command("xlsx")
@click.argument(
    "out", metavar="[SORTIE]", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
@department_option
@pass_context
def xlsx(ctx: Context, out: Path | None, departments: tuple[str, ...]) -> None:
    """Écrire le pack webinaire SORTIE.xlsx (par défaut balise-pack-<départements>-<AAAA-MM-JJ>.xlsx
    dans le dossier courant)."""
    from openpyxl import load_workbook

    from balise.services import pack

    departments = _selection(ctx, departments)
    data = pack.build_pack(_store(ctx), ctx.actor, departments, ctx.settings.indicators_dir)
    out = out or Path(pack.file_name(departments))
    _write(out, data)
    # Counted in the workbook itself: the pack adds sheets of its own (e.g. « Événements »).
    sheets = len(load_workbook(io.BytesIO(data), read_only=True).sheetnames)
    ctx.echo(
        f"Pack webinaire écrit dans {out} : {sheets} feuilles, {_summary(departments)}.",
        {
            "file": str(out),
            "sheets": sheets,
            "departments": list(departments) if departments else "*",
        },
    )


@requires("read", departments="departments")
@export.command("csv")
@click.argument("out", metavar="SORTIE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--table", type=click.Choice(PACK_TABLES), default="departements", show_default=True,
    help="Tableau à exporter.",
)  # fmt: skip
@department_option
@pass_context
def csv(ctx: Context, out: Path, table: str, departments: tuple[str, ...]) -> None:
    """Écrire un tableau du pack en CSV (séparateur ;)."""
    from balise.services import pack

    departments = _selection(ctx, departments)
    data = pack.table_csv(_store(ctx), ctx.actor, departments, table)
    _write(out, data)
    rows = max(data.count(b"\n") - 1, 0)
    ctx.echo(
        f"Tableau « {table} » écrit dans {out} : {rows} lignes, {_summary(departments)}.",
        {"file": str(out), "table": table, "rows": rows},
    )
