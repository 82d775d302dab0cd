"""What the Accompagnement page, the pack and ``balise onboarding late`` read about the
onboarding pipeline: one department's board, the funnel per stage, a structure's history, the
structures « à relancer », and the pages' cache key. The stages are ``balise.services.onboarding``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, func, literal, or_, select

from balise.errors import NotFoundError
from balise.formatting import fr_date, paris_time
from balise.models import AuditEntry, Establishment, Onboarding, OnboardingHistory
from balise.referentials.lifecycles import OnboardingStage
from balise.services.access import Actor, readable_departments
from balise.services.onboarding import FIRST, STAGES, esms_with_stage
from balise.services.queries import frame, in_departments

SILENT_DAYS = 30  # equipped this long without regular use: « à relancer »
EQUIPPED_STAGES = (OnboardingStage.BAL_CREEE, OnboardingStage.BAL_TESTEE)

_stage = func.coalesce(Onboarding.stage, literal(FIRST.value))


def board(engine: Engine, actor: Actor, department: str) -> pd.DataFrame:
    """Every ESMS of one department with its stage and follow-up, for the board."""
    readable_departments(actor, [department])
    columns = ["finess_et", "name", "city", "category_code", "stage", "stage_since",
               "next_action", "next_action_on", "notes", "assigned_to"]  # fmt: skip
    stmt = (
        esms_with_stage((department,))
        .with_only_columns(
            Establishment.finess_et, Establishment.name, Establishment.city,
            Establishment.category_code, _stage, Onboarding.stage_since, Onboarding.next_action,
            Onboarding.next_action_on, Onboarding.notes, Onboarding.assigned_to,
        )
        .order_by(Establishment.name)
    )  # fmt: skip
    return frame(engine, stmt, columns)


def funnel(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """(department, stage, label, structures) for every stage, zeros included."""
    departments = readable_departments(actor, departments)
    stmt = (
        esms_with_stage(departments)
        .with_only_columns(Establishment.department, _stage, func.count())
        .group_by(Establishment.department, _stage)
    )
    counts = frame(engine, stmt, ["department", "stage", "structures"])
    found = sorted(set(counts["department"]))
    grid = pd.MultiIndex.from_product([found, list(STAGES)], names=["department", "stage"])
    out = counts.set_index(["department", "stage"]).reindex(grid, fill_value=0).reset_index()
    out["label"] = out["stage"].map(STAGES)
    return out[["department", "stage", "label", "structures"]]


def history(engine: Engine, actor: Actor, finess: str) -> pd.DataFrame:
    """The stage changes of one structure, latest first."""
    with engine.connect() as conn:
        department = conn.scalar(
            select(Establishment.department).where(Establishment.finess_et == finess)
        )
    if department is None:
        raise NotFoundError(f"La structure FINESS {finess} n'existe pas dans le FINESS importé.")
    readable_departments(actor, [department])
    h = OnboardingHistory
    stmt = (
        select(h.at, h.from_stage, h.to_stage, h.source, h.reason, h.actor)
        .where(h.finess_et == finess)
        .order_by(h.at.desc(), h.id.desc())
    )
    return frame(engine, stmt, ["at", "from_stage", "to_stage", "source", "reason", "actor"])


def overdue(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, today: date | None = None
) -> pd.DataFrame:
    """« À relancer »: next actions past their date, and structures equipped for more than
    ``SILENT_DAYS`` without reaching regular use. Oldest first."""
    departments = readable_departments(actor, departments)
    today = today or date.today()
    silent_since = datetime.combine(today - timedelta(days=SILENT_DAYS), datetime.min.time())
    late = Onboarding.next_action_on < today
    silent = and_(Onboarding.stage.in_(EQUIPPED_STAGES), Onboarding.stage_since < silent_since)
    stmt = (
        select(
            Establishment.finess_et, Establishment.name, Establishment.department,
            Onboarding.stage, Onboarding.stage_since, Onboarding.next_action,
            Onboarding.next_action_on, Onboarding.assigned_to,
        )
        .join(Onboarding, Onboarding.finess_et == Establishment.finess_et)
        .where(in_departments(Establishment.department, departments))
        .where(or_(and_(late, Onboarding.stage != OnboardingStage.USAGE_REGULIER), silent))
    )  # fmt: skip
    columns = ["finess_et", "name", "department", "stage", "stage_since", "next_action",
               "next_action_on", "assigned_to"]  # fmt: skip
    df = frame(engine, stmt, columns)
    df["reason"] = [_why(r, today) for r in df.itertuples()]
    df["due"] = [
        r.next_action_on if _is_late(r, today) else (r.stage_since.date() + timedelta(SILENT_DAYS))
        for r in df.itertuples()
    ]
    return df.sort_values(["due", "name"], ignore_index=True)


def _is_late(row, today: date) -> bool:
    return row.next_action_on is not None and row.next_action_on < today


def _why(row, today: date) -> str:
    if _is_late(row, today) and row.stage != OnboardingStage.USAGE_REGULIER:
        what = f" : {row.next_action}" if row.next_action else ""
        return f"Action prévue le {fr_date(row.next_action_on)}{what}"
    return f"Équipée depuis le {fr_date(paris_time(row.stage_since))}, sans usage régulier"


def change_marker(engine: Engine) -> str:
    """Changes whenever an animation action or automatic advance happened: each of them
    writes one audit line (one tiny query; dashboard caches key on it)."""
    with engine.connect() as conn:
        return str(conn.scalar(select(func.max(AuditEntry.id))) or 0)
