"""The programme's indicators: the catalogue of a campaign year (``data/indicateurs/AAAA.toml``)
evaluated on the facts of each ESMS (:mod:`balise.services.esms_facts`), per department.

For each indicator, every *unit* of its level gets a value and meets the target when the value
reaches the threshold:
- ESMS: its own value (an oui/non fact: met when « oui »);
- organisme gestionnaire (EJ), within one department: the share of its ESMS with an oui/non
  fact, the share of its BALs with « Dématérialisation » = O, or messages per month per ESMS;
- department: the same over all its ESMS.
The table gives, per indicator and department, how many units meet the target (for the
department level: its value and whether it meets it); the drill-down lists the ESMS that miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from balise.config import DEFAULT_DATA_DIR
from balise.referentials.indicator_catalogue import (
    PERIODS,
    Catalogue,
    Indicator,
    catalogue_years,
    load_catalogue,
)
from balise.services.access import Actor, readable_departments
from balise.services.esms_facts import (
    ESMS_COLUMNS,
    Period,
    default_month,
    esms_facts,
    period_of,
)
from balise.services.onboarding import RANK, STAGES

DEFAULT_DIR = DEFAULT_DATA_DIR / "indicateurs"
TABLE_COLUMNS = [
    "indicator", "label", "level", "threshold", "period", "department", "units", "met", "share",
    "value",
]  # fmt: skip


@dataclass(frozen=True)
class IndicatorReport:
    """The evaluation of one catalogue for one selection and reference month."""

    catalogue: Catalogue
    month: date
    table: pd.DataFrame  # TABLE_COLUMNS, one row per indicator and department
    esms: pd.DataFrame  # one row per ESMS: facts, and per indicator ``<id>`` value, ``<id>:ok``
    periods: dict[str, Period]


def choose_catalogue(directory: Path, year: int | None, month: date) -> Catalogue:
    """The catalogue of ``year``; by default the one of the month's year, else the newest."""
    if year is None:
        years = catalogue_years(directory)
        year = month.year if month.year in years or not years else years[-1]
    return load_catalogue(directory, year, list(STAGES))


def evaluate(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    year: int | None = None,
    month: date | None = None,
    directory: Path = DEFAULT_DIR,
) -> IndicatorReport:
    """Every indicator of the catalogue for the selection, at ``month`` (default: the month
    of the newest directory snapshot)."""
    departments = readable_departments(actor, departments)
    month = (month or default_month(engine)).replace(day=1)
    catalogue = choose_catalogue(directory, year, month)
    periods = {kind: period_of(kind, month) for kind in PERIODS}
    # Every period ends with the month: the same ESMS (those open by then) in each frame.
    facts = {
        kind: esms_facts(engine, actor, departments, periods[kind])
        for kind in sorted({ind.period for ind in catalogue.indicators})
    }
    esms = next(iter(facts.values()))[ESMS_COLUMNS].copy()
    rows = []
    for ind in catalogue.indicators:
        df, period = facts[ind.period], periods[ind.period]
        esms[ind.id] = esms_value(ind, df, period)
        esms[f"{ind.id}:own"] = meets(ind, esms[ind.id], own=True)
        unit = _unit_values(ind, df, period)
        esms[f"{ind.id}:ok"] = meets(ind, unit)
        rows += _table_rows(ind, period, esms, unit)
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return IndicatorReport(catalogue, month, table, esms, periods)


def esms_value(ind: Indicator, df: pd.DataFrame, period: Period) -> pd.Series:
    """Each ESMS's own value: bool for oui/non facts, a percentage or messages per month."""
    if ind.fact == "bal_org_app":
        return df["org_app"]
    if ind.fact == "bal_testee":
        return df["tested"]
    if ind.fact == "etape":
        return df["stage"].map(RANK) >= RANK[ind.stage]
    if ind.fact == "dematerialisation":
        return 100.0 * df["dematerialised"] / df["mailboxes"].where(df["mailboxes"] > 0)
    return df["messages"] / period.months


def meets(ind: Indicator, values: pd.Series, own: bool = False) -> pd.Series:
    """Whether each value reaches the threshold (a missing value does not). ``own``: an ESMS's
    own value, where an oui/non fact is met by « oui » whatever the level's threshold."""
    if values.dtype == bool:
        return values if own or ind.threshold is None else 100.0 * values >= ind.threshold
    if ind.threshold is None:  # a share of oui/non at the ESMS level cannot happen
        return values.astype(bool)
    return values.astype(float).fillna(-np.inf) >= ind.threshold


def _unit_keys(ind: Indicator, df: pd.DataFrame) -> pd.Series | None:
    """Which unit each ESMS belongs to: its EJ within its department, its department, or
    itself (None). An ESMS without EJ is an organisation of its own."""
    if ind.level == "organisme":
        return df["department"] + "|" + df["finess_ej"].fillna(df["finess_et"])
    if ind.level == "departement":
        return df["department"]
    return None


def _unit_values(ind: Indicator, df: pd.DataFrame, period: Period) -> pd.Series:
    """The value of each ESMS's unit (see the module docstring), aligned on ``df``."""
    own = esms_value(ind, df, period)
    keys = _unit_keys(ind, df)
    if keys is None:
        return own
    if ind.fact == "dematerialisation":
        sums = df[["dematerialised", "mailboxes"]].groupby(keys).transform("sum")
        return 100.0 * sums["dematerialised"] / sums["mailboxes"].where(sums["mailboxes"] > 0)
    if ind.fact == "messages":
        return own.groupby(keys).transform("mean")
    return 100.0 * own.astype(float).groupby(keys).transform("mean")


def _table_rows(ind: Indicator, period: Period, esms: pd.DataFrame, unit: pd.Series) -> list:
    head = [ind.id, ind.label, ind.level, ind.threshold, period.label]
    ok = esms[f"{ind.id}:ok"]
    keys = _unit_keys(ind, esms)
    units = pd.DataFrame({"department": esms["department"], "ok": ok, "value": unit,
                          "key": esms["finess_et"] if keys is None else keys})  # fmt: skip
    units = units.drop_duplicates("key")
    rows = []
    for dep, part in units.groupby("department"):
        met, n = int(part["ok"].sum()), len(part)
        value = None
        if ind.level == "departement" and not pd.isna(part["value"].iloc[0]):
            value = float(part["value"].iloc[0])
        rows.append([*head, dep, n, met, 100.0 * met / n if n else 0.0, value])
    return rows


def misses(report: IndicatorReport, indicator_id: str, department: str) -> pd.DataFrame:
    """The ESMS of ``department`` that miss the indicator's target: on their own at the ESMS
    and department levels; at the organisme level, those of organisations missing it which
    themselves miss it too. Columns: finess_et, finess_ej, ej_name (the organisation's raison
    sociale, empty when FINESS gives none), name, city, category_code, value."""
    ind = next(i for i in report.catalogue.indicators if i.id == indicator_id)
    df = report.esms[report.esms["department"] == department]
    missing = ~df[f"{ind.id}:own"]
    if ind.level == "organisme":
        missing &= ~df[f"{ind.id}:ok"]
    out = df.loc[missing, ["finess_et", "finess_ej", "ej_name", "name", "city", "category_code",
                           ind.id]]  # fmt: skip
    out = out.assign(ej_name=out["ej_name"].fillna(""))
    return out.rename(columns={ind.id: "value"}).reset_index(drop=True)
