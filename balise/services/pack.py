"""The webinar pack: the adoption views of a selection as one workbook (or one table as CSV).

An export is an action: the actor must be allowed to export every selected department, and one
audit line records it (selection and format; no figures, no file content)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from balise.errors import NotFoundError
from balise.exports import Chart, Sheet, build_workbook
from balise.formatting import fr_date, fr_int, iso_day, paris_time
from balise.referentials.bal_types import TYPE_COLUMNS, TYPES
from balise.referentials.departments import department_name, load_departments
from balise.referentials.lifecycles import PACK_TABLES, DataSource
from balise.services import (
    adoption,
    audit,
    changes,
    events,
    pack_animation,
    snapshots,
    structures,
)
from balise.services.access import Actor, check_can_act, readable_departments
from balise.services.labels import COLUMNS, readable
from balise.services.refusals import refusals_audited
from balise.spreadsheets import frame_csv

TITLE = "Adoption de MSSanté dans le médico-social"
_PCT = COLUMNS["share"]
_TYPES = [COLUMNS[c] for c in TYPE_COLUMNS]
CHART_CATEGORIES = 15  # bars a slide can show: the categories with the most ESMS


def _as_fraction(df: pd.DataFrame) -> pd.DataFrame:
    """Shares go to spreadsheets as fractions (0.452) under a percent format."""
    df[_PCT] = df[_PCT] / 100.0
    return df


def _coverage_sheet(engine, actor, departments, by: str, name: str, chart_title: str) -> Sheet:
    cov = adoption.coverage(engine, actor, departments, by=by)
    mix = adoption.mailbox_mix(engine, actor, departments, by=by)
    df = cov.merge(mix, on=by, how="left").fillna(0)
    if by == "category_code":  # the categories with the most ESMS first
        df = df.sort_values(["structures", by], ascending=[False, True], ignore_index=True)
    cols = [by, "structures", "equipped", "share", *TYPE_COLUMNS]
    table = _as_fraction(readable(df, cols))
    formats = dict.fromkeys(table.columns[1:], "int") | {_PCT: "pct"}
    key = table.columns[0]
    shown = None
    if by == "category_code" and len(table) > CHART_CATEGORIES:
        shown = CHART_CATEGORIES
        chart_title += f" (les {fr_int(shown)} qui comptent le plus d'ESMS)"
    chart = Chart("bar", chart_title, key, (_PCT,), "Part équipée", horizontal=True,
                  max_categories=shown)  # fmt: skip
    return Sheet(name, table, formats, chart)


def _types_sheet(engine, actor, departments) -> Sheet:
    totals = adoption.mailbox_totals(engine, actor, departments)
    df = pd.DataFrame(
        {"Type de BAL": [t.label for t in TYPES], "BAL": [totals[t.code] for t in TYPES]}
    ).sort_values("BAL", ascending=False, kind="stable", ignore_index=True)
    chart = Chart("bar", "BAL des ESMS par type", "Type de BAL", ("BAL",), "Nombre de BAL")
    return Sheet("Types de BAL", df, {"BAL": "int"}, chart)


def _trend_sheet(engine, actor, departments) -> Sheet:
    df = _as_fraction(
        readable(
            adoption.trend(engine, actor, departments), ["date", "structures", "equipped", "share"]
        )
    )
    formats = {
        COLUMNS["date"]: "date",
        COLUMNS["structures"]: "int",
        COLUMNS["equipped"]: "int",
        _PCT: "pct",
    }
    chart = Chart("line", "Part des ESMS équipés", COLUMNS["date"], (_PCT,), "Part équipée", "Date")
    return Sheet("Évolution", df, formats, chart)


def _changes_sheet(engine, actor, departments) -> Sheet:
    snaps = snapshots.directory_snapshots(engine)
    if len(snaps) < 2:
        empty = pd.DataFrame(columns=[COLUMNS[c] for c in ("department", "created", "removed")])
        return Sheet("Créations-suppressions", empty, note="Une seule extraction de l'annuaire.")
    before, after = snaps.iloc[-2], snaps.iloc[-1]
    df = readable(
        changes.changes(engine, actor, departments, int(before.snapshot_id), int(after.snapshot_id))
    )
    note = f"BAL créées et supprimées entre le {fr_date(before.date)} et le {fr_date(after.date)}"
    chart = Chart("bar", "BAL créées et supprimées par département", COLUMNS["department"],
                  (COLUMNS["created"], COLUMNS["removed"]), "BAL", "")  # fmt: skip
    return Sheet("Créations-suppressions", df, dict.fromkeys(df.columns[1:], "int"), chart, note)


def _structures_sheet(engine, actor, departments) -> Sheet:
    df = structures.structures(engine, actor, departments)
    table = readable(df, structures.STRUCTURE_COLUMNS)
    return Sheet("Structures", table, dict.fromkeys(_TYPES, "int"))


_BUILDERS = {
    "departements": lambda e, a, d: _coverage_sheet(e, a, d, "department", "Départements", "Part des ESMS équipés par département"),
    "categories": lambda e, a, d: _coverage_sheet(e, a, d, "category_code", "Catégories", "Part des ESMS équipés par catégorie"),
    "types": _types_sheet,
    "evolution": _trend_sheet,
    "changements": _changes_sheet,
    "structures": _structures_sheet,
}  # fmt: skip
TABLES = PACK_TABLES
if tuple(_BUILDERS) != TABLES:  # one list of names: the command line's choices use it
    raise RuntimeError(
        "balise.referentials.lifecycles.PACK_TABLES differs from the pack's builders"
    )


def sheets(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, only: Iterable[str] = TABLES
) -> dict[str, Sheet]:
    """The pack's views by table name (see ``TABLES``), in pack order."""
    departments = readable_departments(actor, departments)
    return {name: _BUILDERS[name](engine, actor, departments) for name in only}


def cover_lines(
    engine: Engine, departments: tuple[str, ...] | None, now: datetime
) -> list[tuple[str, str]]:
    """The cover sheet: date (``now``, an instant, as its day in Paris), selection, each source
    with its snapshot date."""
    selection = (
        "Tous les départements"
        if departments is None
        else ", ".join(f"{d} {department_name(d)}" for d in departments)
    )
    lines = [("Date du document", fr_date(paris_time(now))), ("Sélection", selection)]
    latest = snapshots.latest_by_source(engine)
    for source in DataSource:
        row = latest[latest["source"] == source]
        value = "aucune donnée importée"
        if not row.empty:
            value = f"extraction du {fr_date(row.iloc[0]['date'])} ({row.iloc[0]['file_name']})"
        lines.append((source.label, value))
    if latest["is_demo"].any():
        lines.append(("Attention", "Données de démonstration : ces chiffres sont fictifs."))
    return lines


def _check_export(engine: Engine, actor: Actor, departments, what: str) -> tuple[str, ...] | None:
    with refusals_audited(engine, actor, "export", what):  # a refused export: one audit line
        departments = readable_departments(actor, departments)
        for dep in departments or ("*",):
            check_can_act(actor, dep, "export")
    with engine.begin() as conn:
        audit.record(
            conn,
            actor,
            "export",
            what,
            detail={"departments": list(departments) if departments else "*"},
        )
    return departments


def build_pack(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    indicators_dir: Path | None = None,
) -> bytes:
    """The webinar workbook for the selection (built on demand; takes about a second): the
    adoption views, « Accompagnement », « Activité », « Événements » when the selection has
    events, the programme's « Indicateurs », and the structure list last (the long annex)."""
    departments = _check_export(engine, actor, departments, "pack xlsx")
    views = sheets(engine, actor, departments)
    listing = views.pop("structures")
    found = [
        *views.values(),
        pack_animation.accompaniment_sheet(engine, actor, departments),
        pack_animation.activity_sheet(engine, actor, departments),
        events.pack_sheet(engine, actor, departments),
        _indicator_sheet(engine, actor, departments, indicators_dir),
        listing,
    ]
    cover = cover_lines(engine, departments, datetime.now(UTC))
    return build_workbook(TITLE, cover, [s for s in found if s is not None])


def _indicator_sheet(engine, actor, departments, indicators_dir: Path | None) -> Sheet:
    """The programme's « Indicateurs » sheet."""
    from balise.services import indicators, programme_sheets  # they build on this module

    directory = indicators_dir or indicators.DEFAULT_DIR
    return programme_sheets.pack_indicator_sheet(engine, actor, departments, directory)


def _selection_words(departments: tuple[str, ...] | None) -> str:
    """« 38-63 »; a whole region by its name (« auvergne-rhone-alpes »); more than four parts
    by their count (« 7-departements »); no selection: « france »."""
    if departments is None:
        return "france"
    regions: dict[str, list[str]] = {}
    for dep in load_departments().values():
        regions.setdefault(dep.region_code, []).append(dep.code)
    chosen, parts = set(departments), []
    for members in sorted(regions.values(), key=min):
        if len(members) > 1 and set(members) <= chosen:
            parts.append(load_departments()[members[0]].region_name)
            chosen -= set(members)
    parts += sorted(chosen)
    if len(parts) > 4:
        return f"{len(departments)}-departements"
    words = unicodedata.normalize("NFKD", "-".join(parts)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")


def file_name(departments: Iterable[str] | None, now: datetime | None = None) -> str:
    """The pack's file name: « balise-pack-38-63-2026-11-30.xlsx », the selection then the day
    in Paris (``now``, an instant, by default the present one)."""
    chosen = None if departments is None else tuple(sorted(departments))
    day = paris_time(now or datetime.now(UTC))
    return f"balise-pack-{_selection_words(chosen)}-{iso_day(day)}.xlsx"


def table_csv(engine: Engine, actor: Actor, departments: Iterable[str] | None, table: str) -> bytes:
    """One view of the pack as CSV."""
    if table not in TABLES:
        raise NotFoundError(f"Tableau inconnu : {table} (choix : {', '.join(TABLES)}).")
    departments = _check_export(engine, actor, departments, f"csv {table}")
    sheet = sheets(engine, actor, departments, only=[table])[table]
    df = sheet.frame.copy()
    if _PCT in df:
        df[_PCT] = (df[_PCT] * 100).round(1)
    return frame_csv(df)
