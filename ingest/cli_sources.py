"""``balise ingest annuaire|finess`` without a file (the configured source, fetched only when it
changed) and with ``--from-archive`` (the archive replayed, oldest first). Loaded by the command
when it runs, like every heavy part of the command line."""

from __future__ import annotations

import click

from balise.cli import Context
from balise.errors import ConfigurationError
from balise.formatting import fr_count, fr_int
from balise.referentials.lifecycles import DATA_SOURCES
from ingest.cli import after_ingest, prepare, summary

MSG_ARCHIVE_OFF = "L'archive est désactivée (réglage BALISE_ARCHIVE_DIR vide) : rien à réimporter."
REPLAY_OUTCOMES = ("imported", "already", "older", "failed")


def check_replay_options(source: str | None, from_archive: bool) -> None:
    if not from_archive:
        raise click.UsageError("--since et --until vont avec --from-archive.")
    if source is not None:
        raise click.UsageError("--from-archive réimporte l'archive : ne donnez pas de SOURCE.")


def run_refresh(
    ctx: Context, kind: str, picked: tuple, ca_bundle, timeout: float, accept_drop: bool = False
) -> None:
    """No SOURCE: the configured URL, downloaded and imported only if its file changed."""
    from balise.services import audit
    from ingest import jobs
    from ingest.refresh import refresh
    from ingest.sources.download import DownloadLimits

    settings = ctx.settings
    engine, actor, selection = prepare(ctx, kind, picked)
    limits = DownloadLimits.of(timeout, settings.max_download_mb)
    policy = jobs.Policy(actor, settings.max_drop, accept_drop)
    done = refresh(
        engine, kind, settings, selection, limits, ca_bundle or settings.ca_bundle or None, policy
    )
    if done.ingest is not None:
        after_ingest(ctx, done.ingest, done.as_dict())
        return
    with engine.begin() as conn:
        audit.record(conn, actor, f"ingest.{kind}", done.url,
                     detail={"résultat": "inchangé", "départements": selection or "*"})  # fmt: skip
    ctx.echo(f"{DATA_SOURCES[kind]} : inchangé ({done.how}) ; rien n'est importé.", done.as_dict())


def run_replay(
    ctx: Context, kind: str, picked: tuple, timeout: float, since, until, accept_drop=False
) -> None:
    """``--from-archive``: one line per archived file, then the totals; exit 1 if one failed.
    Each import commits with its audit line (naming the archived file) and onboarding advance."""
    from ingest import jobs
    from ingest.replay import replay
    from ingest.sources.download import DownloadLimits

    folder = ctx.settings.resolved_archive_dir()
    if folder is None:
        raise ConfigurationError(MSG_ARCHIVE_OFF)
    engine, actor, selection = prepare(ctx, kind, picked)

    def tell(one) -> None:
        if not ctx.as_json:
            click.echo(summary(one.report) if one.report else one.line, err=one.outcome == "failed")

    limits = DownloadLimits.of(timeout, ctx.settings.max_download_mb)
    policy = jobs.Policy(actor, ctx.settings.max_drop, accept_drop)
    done = replay(engine, kind, folder, selection, since, until, limits, tell, policy)
    counts = {o: sum(one.outcome == o for one in done) for o in REPLAY_OUTCOMES}
    ctx.echo(_replay_total(kind, counts), {"files": [one.as_dict() for one in done], **counts})
    if counts["failed"]:
        click.get_current_context().exit(1)


def _replay_total(kind: str, counts: dict[str, int]) -> str:
    return (
        f"Archive {DATA_SOURCES[kind]} : "
        f"{fr_count(counts['imported'], 'fichier importé', 'fichiers importés')}, "
        f"{fr_int(counts['already'])} déjà présent(s), "
        f"{fr_int(counts['older'])} antérieur(s) au dernier instantané, "
        f"{fr_int(counts['failed'])} en échec."
    )
