"""``balise indicateurs`` (the programme's indicators, per department) and ``balise priorites``
(whom to call first, and ``--backtest`` to measure the score on the stored snapshots)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from balise.cli import Context, json_option, pass_context
from balise.command_access import requires
from balise.commands.export import _store, _write
from balise.errors import NotFoundError
from balise.formatting import fr_count, fr_date, fr_decimal, fr_int, fr_month, fr_percent
from balise.referentials.departments import resolve_selection
from balise.referentials.indicator_catalogue import LEVELS, STATUSES

if TYPE_CHECKING:
    from balise.services import backtest as bt
    from balise.services import indicators

department_option = click.option(
    "--department", "departments", multiple=True, metavar="CODE",
    help="Département à inclure (répétable) ; par défaut la région configurée (ses "
         "départements accessibles à l'utilisateur).",
)  # fmt: skip


def _selection(ctx: Context, codes: tuple[str, ...]) -> tuple[str, ...] | None:
    """The named departments, else the configured region narrowed to what the user reads."""
    if codes:
        return resolve_selection(departments=",".join(codes))
    s = ctx.settings
    wanted = resolve_selection(default_region=s.region, default_departments=s.departments) or ()
    actor = ctx.actor
    if actor.sees_all:
        return tuple(wanted)
    return tuple(d for d in wanted if d in actor.departments) or actor.departments


# ----- balise indicateurs ------------------------------------------------------------------------


@requires("read", departments="departments")  # --xlsx: an export, checked by the service
@click.command("indicateurs")
@click.option("--annee", type=int, help="Campagne (fichier data/indicateurs/AAAA.toml).")
@click.option("--mois", "month", metavar="AAAA-MM", help="Mois de référence (défaut : celui "
              "du dernier instantané de l'annuaire).")  # fmt: skip
@department_option
@json_option
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrire aussi le classeur (indicateurs et ESMS sous l'objectif).")  # fmt: skip
@pass_context
def indicateurs(ctx: Context, annee: int | None, month: str | None, departments: tuple[str, ...],
                xlsx: Path | None) -> None:  # fmt: skip
    """Les indicateurs du programme ESMS numérique, par département."""
    from balise.services import indicators, programme_sheets
    from balise.services.esms_facts import parse_month

    departments = _selection(ctx, departments)
    engine = _store(ctx)
    when = parse_month(month) if month else None
    directory = ctx.settings.indicators_dir
    if xlsx is not None:
        data, report = programme_sheets.indicator_workbook(
            engine, ctx.actor, departments, annee, when, directory
        )
        _write(xlsx, data)
    else:
        report = indicators.evaluate(engine, ctx.actor, departments, annee, when, directory)
    lines = _indicator_lines(report)
    if xlsx is not None:
        lines.append(f"Classeur écrit dans {xlsx}.")
    ctx.echo("\n".join(lines), _indicator_payload(report, xlsx))


def _indicator_lines(report: indicators.IndicatorReport) -> list[str]:
    from balise.services import programme_sheets
    from balise.services.labels import department_label

    cat = report.catalogue
    departments = sorted(report.table["department"].unique())
    lines = [
        f"Indicateurs du programme — campagne {cat.year} ({STATUSES[cat.status]}), mois de "
        f"référence {fr_month(report.month)}, {fr_count(len(departments), 'département', 'départements')}."
    ]
    for ind in cat.indicators:
        rows = report.table[report.table["indicator"] == ind.id]
        period = rows["period"].iloc[0] if len(rows) else ""
        lines.append(f"{ind.id} — {ind.label} (niveau {LEVELS[ind.level]}, objectif "
                     f"{programme_sheets.threshold_text(ind)}, période {period})")  # fmt: skip
        lines += [f"  {department_label(r.department)} : {_cell(ind, r)}"
                  for r in rows.itertuples()]  # fmt: skip
    return lines


def _cell(ind, row) -> str:
    from balise.services import programme_sheets

    if ind.level == "departement":
        value = programme_sheets.value_text(ind, row.value)
        return f"{value} — {'atteint' if row.met else 'non atteint'}"
    met = (
        fr_count(row.met, "ESMS", "ESMS")
        if ind.level == "esms"
        else fr_count(row.met, "organisme", "organismes")
    )
    return f"{met} sur {fr_int(row.units)} ({fr_percent(row.share / 100)})"


def _indicator_payload(report: indicators.IndicatorReport, xlsx: Path | None) -> dict:
    table = report.table.astype(object).where(report.table.notna(), None)
    return {
        "year": report.catalogue.year,
        "status": report.catalogue.status,
        "month": f"{report.month:%Y-%m}",
        "indicators": table.to_dict("records"),
        **({"file": str(xlsx)} if xlsx else {}),
    }


# ----- balise priorites --------------------------------------------------------------------------


@requires("read", departments="departments")
@click.command("priorites")
@department_option
@click.option("--top", type=click.IntRange(min=1), default=30, show_default=True,
              help="Nombre d'ESMS listés (ou précision des k premiers avec --backtest).")  # fmt: skip
@click.option("--backtest", is_flag=True, help="Rejouer les instantanés stockés et mesurer.")
@json_option
@pass_context
def priorites(ctx: Context, departments: tuple[str, ...], top: int, backtest: bool) -> None:
    """Qui appeler d'abord : les ESMS non équipés classés, avec leurs raisons."""
    from balise.services import backtest as bt
    from balise.services import priorities

    departments = _selection(ctx, departments)
    engine = _store(ctx)
    if backtest:
        result = bt.backtest(engine, ctx.actor, departments, k=top)
        if result.snapshots == 0:
            raise NotFoundError(
                "Le backtest demande au moins deux instantanés de l'annuaire : importez-en un "
                "autre plus tard (« balise ingest annuaire SOURCE »)."
            )
        ctx.echo("\n".join(_backtest_lines(result)), result.as_dict())
        return
    df = priorities.priorities(engine, ctx.actor, departments, top)
    ctx.echo("\n".join(_priority_lines(df, departments)), _priority_payload(df))


def _scope(departments: tuple[str, ...] | None) -> str:
    from balise.services.labels import department_label

    if departments is None:
        return "tous les départements"
    return ", ".join(department_label(d) for d in departments)


def _priority_lines(df, departments: tuple[str, ...] | None) -> list[str]:
    n, total = len(df), df.attrs["candidates"]
    head = (
        f"Priorités d'appel — {_scope(departments)} : {fr_int(n)} premiers sur "
        f"{fr_count(total, 'ESMS non équipé', 'ESMS non équipés')} (score sur "
        f"{fr_decimal(df.attrs['maximum'])}, poids : {df.attrs['weights']})."
    )
    lines = [head]
    for r in df.itertuples():
        why = r.reasons or "aucun signal"
        lines.append(f"{r.rank:>3}. {fr_decimal(r.score):>5}  {r.finess_et}  {r.name} "
                     f"({r.city or '—'}) — {why}")  # fmt: skip
    return lines


def _priority_payload(df) -> dict:
    cols = ["rank", "finess_et", "name", "city", "department", "category_code", "finess_ej",
            "ej_name", "score", "reasons", "siblings_equipped", "personal_bals", "category_share",
            "stage"]  # fmt: skip
    return {"candidates": df.attrs["candidates"], "maximum": df.attrs["maximum"],
            "priorities": df[cols].to_dict("records")}  # fmt: skip


def _backtest_lines(r: bt.BacktestResult) -> list[str]:
    first, last = (date.fromisoformat(r.per_snapshot[i]["date"]) for i in (0, -1))
    when = f"le {fr_date(first)}" if first == last else f"du {fr_date(first)} au {fr_date(last)}"
    lines = [
        f"Backtest des priorités : {fr_count(r.snapshots, 'instantané rejoué', 'instantanés rejoués')}"
        f" ({when}), chacun comparé aux suivants ; {fr_int(r.pairs)} notes d'ESMS non équipés "
        f"({fr_int(r.structures)} ESMS distincts).",
        f"Devenus équipés ensuite : {fr_int(r.positives)} (taux de base "
        f"{fr_percent(r.base_rate)}).",
        f"Précision {_first(r.k)} : {fr_percent(r.precision)} ({fr_int(r.hits)} sur "
        f"{fr_int(r.picked)}), soit {_times(r.lift)} le taux de base.",
        f"ROC AUC : {_auc(r.auc)} (0,5 = hasard).",
    ]
    for s in r.per_snapshot:
        lines.append(
            f"  {fr_date(date.fromisoformat(s['date']))} : {fr_int(s['scored'])} notés, "
            f"{fr_count(s['positives'], 'équipé ensuite', 'équipés ensuite')}, "
            f"{fr_int(s['hits'])} {_first(r.k, 'dans')}, AUC {_auc(s['auc'])}"
        )
    return lines


def _first(k: int, preposition: str = "") -> str:
    """« des 30 premiers » / « du premier » (« dans les 30 premiers » / « dans le premier »)."""
    if preposition:
        return f"{preposition} le premier" if k == 1 else f"{preposition} les {k} premiers"
    return "du premier" if k == 1 else f"des {k} premiers"


def _times(lift: float | None) -> str:
    return "—" if lift is None else f"{fr_decimal(lift)} fois"


def _auc(auc: float | None) -> str:
    return "— (une seule classe)" if auc is None else fr_decimal(auc, 3)
