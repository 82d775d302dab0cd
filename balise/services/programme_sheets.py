"""The programme's tables as spreadsheet sheets: « Indicateurs » in the webinar pack (the usage
of the watched mailboxes is its « Activité » sheet: ``pack_animation``), and the workbook of ``balise indicateurs --xlsx`` (indicators plus the ESMS
below each target). Layout only goes through :mod:`balise.exports` (hence the one writer)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from balise.exports import Sheet, build_workbook
from balise.formatting import fr_decimal, fr_int, fr_month, fr_percent
from balise.referentials.indicator_catalogue import LEVELS, STATUSES, CatalogueError, Indicator
from balise.services import indicators, pack
from balise.services.access import Actor
from balise.services.labels import category_label, department_label

INDICATOR_SHEET = "Indicateurs"


def threshold_text(ind: Indicator) -> str:
    """« oui », « ≥ 60 % », « ≥ 20 messages/mois »."""
    if ind.threshold is None:
        return "oui"
    number = fr_decimal(ind.threshold, 0 if float(ind.threshold).is_integer() else 1)
    return f"≥ {number} {'%' if ind.unit_value_is_share else 'messages/mois'}"


def value_text(ind: Indicator, value: float | None) -> str:
    """A unit's value as read: « 35,7 % », « 12,3 messages/mois », « — » when unknown."""
    if value is None or pd.isna(value):
        return "—"
    if ind.unit_value_is_share:
        return fr_percent(value / 100)
    return f"{fr_decimal(value)} messages/mois"


def indicator_matrix(report: indicators.IndicatorReport) -> pd.DataFrame:
    """Indicators × departments as read on the Programme page: « 35,7 % (120/336) » for the
    ESMS and organisme levels, « ✔ 64,0 % » / « ✘ 35,7 % » for the department level."""
    by_id = {i.id: i for i in report.catalogue.indicators}

    def cell(row) -> str:
        ind = by_id[row.indicator]
        if ind.level == "departement":
            return f"{'✔' if row.met else '✘'} {value_text(ind, row.value)}"
        return f"{fr_percent(row.share / 100)} ({fr_int(row.met)}/{fr_int(row.units)})"

    t = report.table.assign(cell=[cell(r) for r in report.table.itertuples()])
    order = [i.id for i in report.catalogue.indicators]
    matrix = t.pivot(index="indicator", columns="department", values="cell").reindex(order)
    matrix.columns = [department_label(d) for d in matrix.columns]
    head = pd.DataFrame({
        "Indicateur": [by_id[i].label for i in order],
        "Objectif": [threshold_text(by_id[i]) for i in order],
    }, index=order)  # fmt: skip
    return head.join(matrix).reset_index(names="id")


def catalogue_note(report: indicators.IndicatorReport) -> str:
    cat = report.catalogue
    return (
        f"Catalogue {cat.file_name} (campagne {cat.year}, {STATUSES[cat.status]}) — mois de "
        f"référence {fr_month(report.month)}. Niveau ESMS ou organisme : part des unités qui "
        "atteignent le seuil ; niveau département : sa valeur."
    )


def indicator_table(report: indicators.IndicatorReport) -> pd.DataFrame:
    """The report's table in French, one row per indicator and department."""
    by_id = {i.id: i for i in report.catalogue.indicators}
    t = report.table
    return pd.DataFrame({
        "Indicateur": t["label"],
        "Niveau": t["level"].map(LEVELS),
        "Seuil": t["indicator"].map(lambda i: threshold_text(by_id[i])),
        "Période": t["period"],
        "Département": t["department"].map(department_label),
        "Unités": t["units"],
        "Atteignent": t["met"],
        "Part qui atteint": t["share"] / 100.0,
        "Valeur du département": t["value"].round(1),
    })  # fmt: skip


def indicator_sheet(report: indicators.IndicatorReport) -> Sheet:
    formats = {"Unités": "int", "Atteignent": "int", "Part qui atteint": "pct"}
    return Sheet(INDICATOR_SHEET, indicator_table(report), formats, note=catalogue_note(report))


def pack_indicator_sheet(
    engine: Engine, actor: Actor, departments: tuple[str, ...] | None, directory: Path
) -> Sheet:
    """The pack's « Indicateurs » sheet; a catalogue that cannot be read leaves the sheet empty
    with the reason, and the rest of the pack is still written."""
    try:
        return indicator_sheet(indicators.evaluate(engine, actor, departments, directory=directory))
    except CatalogueError as exc:
        return Sheet(INDICATOR_SHEET, pd.DataFrame({"Indicateur": []}), note=str(exc))


def misses_table(report: indicators.IndicatorReport) -> pd.DataFrame:
    """Every ESMS below each target, by indicator and department."""
    frames = []
    for ind in report.catalogue.indicators:
        for dep in sorted(report.esms["department"].unique()):
            df = indicators.misses(report, ind.id, dep)
            frames.append(df.assign(indicator=ind.label, department=dep))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    value = df["value"].map(lambda v: "non" if v is False else v)
    return pd.DataFrame({
        "Indicateur": df["indicator"], "Département": df["department"].map(department_label),
        "FINESS": df["finess_et"], "Organisme": df["ej_name"], "FINESS EJ": df["finess_ej"],
        "Nom": df["name"],
        "Commune": df["city"], "Catégorie": df["category_code"].map(category_label),
        "Valeur": value.map(lambda v: round(v, 1) if isinstance(v, float) else v),
    })  # fmt: skip


def indicator_workbook(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    year: int | None,
    month,
    directory: Path,
) -> tuple[bytes, indicators.IndicatorReport]:
    """``balise indicateurs --xlsx``: an export (checked and audited like the pack)."""
    departments = pack._check_export(engine, actor, departments, "indicateurs xlsx")
    report = indicators.evaluate(engine, actor, departments, year, month, directory)
    sheets = [indicator_sheet(report), Sheet("ESMS sous l'objectif", misses_table(report))]
    cover = pack.cover_lines(engine, departments, datetime.now(UTC))
    cover.append(("Catalogue", catalogue_note(report)))
    return build_workbook("Indicateurs du programme ESMS numérique", cover, sheets), report
