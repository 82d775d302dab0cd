"""Commands the ``ingest`` package plugs into ``balise``: ``ingest annuaire|finess`` and ``demo``."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from balise.cli import Context, pass_context
from balise.cli_french import Day
from balise.command_access import requires
from balise.formatting import fr_count, fr_int, fr_seconds
from balise.referentials.departments import resolve_selection
from balise.referentials.lifecycles import DATA_SOURCES, DataSource
from balise.services.access import Actor, check_can_act
from balise.services.refusals import refusals_audited

if TYPE_CHECKING:
    from ingest import jobs

_selection = [
    click.option("--departments", "departments", help="Départements, ex. 01,38."),
    click.option("--region", help="Code région INSEE, ex. 84."),
    click.option("--all", "all_departments", is_flag=True, help="Tous les départements."),
]


def selection_options(f):
    for option in reversed(_selection):
        f = option(f)
    return f


@click.group()
def ingest() -> None:
    """Importer l'annuaire MSSanté ou le fichier FINESS."""


def _run_ingest(
    ctx: Context,
    kind,
    source,
    departments,
    region,
    all_departments,
    ca_bundle,
    timeout=600.0,
    accept_drop=False,
):
    from ingest import jobs
    from ingest.sources.download import DownloadLimits

    settings = ctx.settings
    engine, actor, selection = prepare(ctx, kind, (departments, region, all_departments))
    with ExitStack() as stack:
        progress = on_size = None
        if sys.stderr.isatty() and not ctx.as_json:
            bar = {}

            def on_size(size: int) -> None:
                bar["b"] = stack.enter_context(
                    click.progressbar(length=size, label="Import", file=sys.stderr)
                )

            def progress(n: int) -> None:
                if "b" in bar:
                    bar["b"].update(n)

        report = jobs.ingest(
            engine,
            kind,
            source,
            selection,
            ca_bundle=ca_bundle or settings.ca_bundle or None,
            progress=progress,
            on_size=on_size,
            limits=DownloadLimits.of(timeout, settings.max_download_mb),
            archive_dir=settings.resolved_archive_dir(),
            # The audit line and the onboarding advance (new directory lines or
            # establishments are onboarding facts) commit with the import.
            policy=jobs.Policy(actor, settings.max_drop, accept_drop),
        )
    after_ingest(ctx, report, report.as_dict())


def prepare(ctx: Context, kind: str, picked: tuple) -> tuple:
    """(engine, actor, selection) for an import of ``kind`` into the departments ``picked``
    (``--departments``, ``--region``, ``--all``), once the actor may import every one of them."""
    from balise.db import engine_for, upgrade

    settings = ctx.settings
    selection = resolve_selection(*picked, settings.region, settings.departments)
    engine = engine_for(settings.resolved_database_url())
    upgrade(engine)
    return engine, _check_import(ctx, engine, kind, selection), selection


def after_ingest(ctx: Context, report, payload: dict) -> None:
    """The summary of an import (its audit line and onboarding advance committed with it), plus
    a warning on the error output when the file could not be archived: the import stands."""
    ctx.echo(summary(report), payload)
    if report.archive_error and not ctx.as_json:
        click.echo(f"Attention : {report.archive_error}", err=True)


def _check_import(ctx: Context, engine, kind: str, selection) -> Actor:
    """The CLI's actor (``BALISE_USER``) must be allowed to import every selected department
    (a region or ``--all`` included); a refusal is audited like any refused action."""
    actor = ctx.actor
    with refusals_audited(engine, actor, f"ingest.{kind}"):
        for department in selection or ("*",):
            check_can_act(actor, department, "import")
    return actor


def summary(r: jobs.IngestReport) -> str:
    """The one-line French summary of an ingest."""
    from ingest.gate import describe

    head = f"{DATA_SOURCES[r.source]} « {r.file_name} »"
    if r.already_ingested and r.completed:
        return (
            f"{head} : déjà importé (instantané n° {r.snapshot_id}) ; sa ligne d'audit et "
            "l'avancement de l'accompagnement manquaient : complétés."
        )
    if r.already_ingested:
        return f"{head} : déjà importé (instantané n° {r.snapshot_id}), rien à faire."
    rejected = r.rejects.total if r.rejects else 0
    parts = [
        fr_count(r.lines, "ligne lue", "lignes lues"),
        fr_count(r.kept, "retenue", "retenues"),
        fr_count(rejected, "rejetée", "rejetées")
        + (f" ({_reject_detail(r.rejects)})" if rejected else ""),
    ]
    if r.duplicates:
        parts.append(fr_count(r.duplicates, "doublon", "doublons"))
    if r.out_of_scope:
        parts.append(fr_count(r.out_of_scope, "hors sélection", "hors sélection"))
    diff = (
        f"depuis le dernier instantané : {fr_count(r.created, 'créée', 'créées')}, "
        f"{fr_count(r.removed, 'supprimée', 'supprimées')}, "
        f"{fr_count(r.changed, 'modifiée', 'modifiées')}"
    )
    accepted = ""
    if r.accepted_drops:
        accepted = (
            f" Suppressions acceptées (--accept-drop) : {describe(r.source, r.accepted_drops)}."
        )
    if r.settled_alerts:
        accepted += f" Alerte(s) n° {', '.join(map(str, r.settled_alerts))} close(s)."
    noticed = "".join(f" {note}" for note in r.notes)
    return (
        f"{head} : {', '.join(parts)} ; {diff} ; instantané n° {r.snapshot_id} "
        f"en {fr_seconds(r.duration_s)}.{accepted}{noticed}"
    )


def _reject_detail(rejects) -> str:
    chunks = []
    for reason, count in rejects.reasons.most_common():
        lines = [str(line) for line, why in rejects.examples if why == reason][:3]
        more = "…" if count > len(lines) else ""
        chunks.append(f"{reason} : {fr_int(count)}, ligne(s) {', '.join(lines)}{more}")
    return " ; ".join(chunks)


def _ingest_command(kind: DataSource, help_text: str):
    @requires("act", departments="departments")
    @ingest.command(name=kind.value, help=help_text)
    @click.argument("source", metavar="[SOURCE]", required=False)
    @selection_options
    @click.option(
        "--ca-bundle", type=click.Path(dir_okay=False), help="Autorité(s) de confiance PEM."
    )
    @click.option("--timeout", type=click.FloatRange(1, 86400), default=600, show_default=True,
                  help="Délai maximal d'un téléchargement https, en secondes.")  # fmt: skip
    @click.option("--from-archive", is_flag=True,
                  help="Réimporter les fichiers archivés (BALISE_ARCHIVE_DIR), du plus ancien au plus récent.")  # fmt: skip
    @click.option("--since", type=Day(),
                  help="Avec --from-archive : à partir de cette date (AAAA-MM-JJ).")  # fmt: skip
    @click.option("--until", type=Day(),
                  help="Avec --from-archive : jusqu'à cette date incluse (AAAA-MM-JJ).")  # fmt: skip
    @click.option("--accept-drop", is_flag=True,
                  help="Accepter un import qui fermerait plus de BALISE_MAX_DROP % des BAL (ou "
                  "établissements) d'un département (tracé dans le journal d'audit).")  # fmt: skip
    @pass_context
    def command(ctx, source, departments, region, all_departments, ca_bundle, timeout,
                from_archive, since, until, accept_drop):  # fmt: skip
        picked = (departments, region, all_departments)
        if from_archive or since or until:
            from ingest.cli_sources import check_replay_options, run_replay

            check_replay_options(source, from_archive)
            run_replay(ctx, kind, picked, timeout, since, until, accept_drop=accept_drop)
        elif source is None:
            from ingest.cli_sources import run_refresh

            run_refresh(ctx, kind, picked, ca_bundle, timeout, accept_drop)
        else:
            _run_ingest(ctx, kind, source, *picked, ca_bundle, timeout, accept_drop)

    return command


_ingest_command(
    DataSource.ANNUAIRE,
    "Importer un extrait de l'annuaire MSSanté (.txt, .zip ou URL https ; sans SOURCE : "
    "l'adresse configurée, BALISE_ANNUAIRE_URL, si le fichier a changé).",
)
_ingest_command(
    DataSource.FINESS,
    "Importer le fichier FINESS (CSV etalab ou JSON FiNESS+, ou URL https ; sans SOURCE : "
    "l'adresse configurée, BALISE_FINESS_URL, si le fichier a changé).",
)


@requires("read")  # the alerts of the actor's departments
@ingest.command("alerts")
@pass_context
def alerts(ctx: Context) -> None:
    """Lister les imports automatiques refusés qui attendent une décision."""
    from balise.db import engine_for, upgrade
    from balise.formatting import fr_date, paris_time
    from balise.services import ingest_alerts

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    df = ingest_alerts.open_alerts(engine, ctx.actor, None)
    lines = [
        f"n° {a.id} du {fr_date(paris_time(a.created_at))} ({DATA_SOURCES[a.source]}, « {a.file_name} ») : "
        f"{a.message}"
        for a in df.itertuples()
    ]
    ctx.echo(
        "\n".join(lines) or "Aucune alerte d'import en attente.",
        {"alerts": df.to_dict(orient="records")},
    )


@requires("act", objects=("alert_id",))  # the service checks the alert's departments
@ingest.command("dismiss")
@click.argument("alert_id", metavar="ALERTE", type=int)
@click.option("--reason", default="", help="Pourquoi l'alerte est close sans import.")
@pass_context
def dismiss(ctx: Context, alert_id: int, reason: str) -> None:
    """Clore une alerte d'import sans importer le fichier refusé (tracé dans l'audit)."""
    from balise.db import engine_for, upgrade
    from balise.services import ingest_alerts

    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    ingest_alerts.dismiss(engine, ctx.actor, alert_id, reason)
    ctx.echo(f"Alerte n° {alert_id} close sans import.", {"alert": alert_id})


@requires("admin")  # writes every department's data, as the system
@click.command()
@click.option("--national", is_flag=True, help="Fichiers à l'échelle nationale (bancs d'essai).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Dossier des fichiers."
)
@click.option("--no-ingest", is_flag=True, help="Écrire les fichiers sans les importer.")
@pass_context
def demo(ctx: Context, national: bool, out: Path | None, no_ingest: bool) -> None:
    """Générer des données de démonstration (fictives) et les importer ; « balise sandbox
    activity » y ajoute une activité de messagerie sur l'opérateur bac à sable."""
    from balise.db import engine_for, upgrade
    from ingest import jobs
    from ingest.demo import write_demo

    out = out or ctx.settings.data_dir / ("demo-national" if national else "demo")
    files = write_demo(out, national=national)
    if no_ingest:
        ctx.echo(f"Données de démonstration écrites dans {out}.", {"out": str(out)})
        return
    engine = engine_for(ctx.settings.resolved_database_url())
    upgrade(engine)
    selection = None if national else resolve_selection(region=ctx.settings.region)
    policy = jobs.Policy(ctx.actor, ctx.settings.max_drop)
    reports = [
        jobs.ingest(engine, kind, str(path), selection, is_demo=True, policy=policy)
        for kind, path in [(DataSource.FINESS, files.finess)]
        + [(DataSource.ANNUAIRE, p) for p in files.annuaire]
    ]
    fresh = sum(not r.already_ingested for r in reports)
    ctx.echo(
        f"Données de démonstration : {fresh} fichier(s) importé(s) sur {len(reports)} "
        f"(FINESS + {len(files.annuaire)} instantanés de l'annuaire), depuis {out}.",
        {"reports": [r.as_dict() for r in reports]},
    )
