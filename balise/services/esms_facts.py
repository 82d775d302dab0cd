"""What Balise knows about each ESMS over a period: the facts the programme's indicators count
(``balise.referentials.indicator_catalogue.FACTS``), one SQL aggregate per fact.

Directory facts are read at the end of the period, on the newest directory snapshot dated
before it (the mailbox versions valid then, ``links.valid_at``); dated facts (round-trip tests,
messages) are those of the period; the onboarding stage is the last one the history recorded
before the end of the period. "Equipped" and "linked" are ``balise.services.links``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, case, distinct, func, or_, select
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.elements import ColumnElement

from balise.errors import ValidationError
from balise.formatting import fr_month
from balise.models import (
    BalTest,
    DailyActivity,
    Establishment,
    LegalEntity,
    Mailbox,
    OnboardingHistory,
    ProvisionedBal,
    Snapshot,
    WatchedMailbox,
)
from balise.referentials.lifecycles import DataSource, OnboardingStage, RoundTripOutcome
from balise.services.access import Actor, readable_departments
from balise.services.adoption import frame, in_departments
from balise.services.links import links_to_establishment, valid_at
from balise.services.onboarding import structure_addresses
from balise.services.snapshots import data_date

FACT_COLUMNS = ["org_app", "mailboxes", "dematerialised", "tested", "messages", "stage"]
ESMS_COLUMNS = ["finess_et", "finess_ej", "ej_name", "name", "city", "department",
                "category_code"]  # fmt: skip


@dataclass(frozen=True)
class Period:
    """Whole months: ``start`` included, ``end`` (first day after the period) excluded."""

    kind: str  # "mois" | "trimestre" | "campagne"
    start: date
    end: date

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        if self.months == 1:
            return fr_month(last)
        return f"{fr_month(self.start)} à {fr_month(last)}"


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def period_of(kind: str, month: date) -> Period:
    """The period of ``kind`` that ends with ``month`` (any day of it)."""
    first = month.replace(day=1)
    end = _add_months(first, 1)
    start = {"mois": first, "trimestre": _add_months(first, -2), "campagne": first.replace(month=1)}
    return Period(kind, start[kind], end)


def parse_month(text: str) -> date:
    """« 2026-10 » -> 1 October 2026; a French refusal otherwise."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise ValidationError(
            f"Le mois s'écrit AAAA-MM (par exemple 2026-10), pas « {text} »."
        ) from None


def default_month(engine: Engine) -> date:
    """The month of the newest directory snapshot (the data's « now »), else this month."""
    with engine.connect() as conn:
        newest = conn.scalar(
            select(func.max(data_date())).where(Snapshot.source == DataSource.ANNUAIRE)
        )
    newest = pd.Timestamp(newest).date() if newest is not None else date.today()
    return newest.replace(day=1)


def snapshot_before(engine: Engine, moment: datetime) -> int | None:
    """The newest directory snapshot dated before ``moment`` (None: none yet)."""
    with engine.connect() as conn:
        return conn.scalar(
            select(func.max(Snapshot.id)).where(
                Snapshot.source == DataSource.ANNUAIRE, data_date() < moment
            )
        )


def esms_in(departments: tuple[str, ...] | None, opened_before: date | None = None) -> list:
    """ESMS of ``departments``, without those FINESS says opened after ``opened_before``."""
    conds = [
        Establishment.is_medico_social.is_(True),
        in_departments(Establishment.department, departments),
    ]
    if opened_before is not None:
        conds.append(
            or_(Establishment.opened_on.is_(None), Establishment.opened_on < opened_before)
        )
    return conds


def stages_at(moment: datetime) -> Subquery:
    """(finess_et, stage): the last stage the onboarding history recorded before ``moment``."""
    h = OnboardingHistory
    newest_first = (h.at.desc(), h.id.desc())
    ranked = (
        select(h.finess_et, h.to_stage, func.row_number().over(
            partition_by=h.finess_et, order_by=newest_first).label("n"))
        .where(h.at < moment)
        .subquery()
    )  # fmt: skip
    return (
        select(ranked.c.finess_et, ranked.c.to_stage.label("stage"))
        .where(ranked.c.n == 1)
        .subquery()
    )


def esms_facts(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, period: Period
) -> pd.DataFrame:
    """One row per ESMS of the selection: identity (``ESMS_COLUMNS``) and ``FACT_COLUMNS``:
    ORG/APP mailbox published (bool), mailboxes and those with « Dématérialisation » = O,
    a provisioned BAL tested OK in the period (bool), messages in the period, stage reached."""
    departments = readable_departments(actor, departments)
    end = datetime.combine(period.end, datetime.min.time())
    scope = esms_in(departments, period.end)
    e = Establishment
    # The organisation's raison sociale: FiNESS+ only (empty from the legacy file).
    base = frame(engine, select(e.finess_et, e.finess_ej, LegalEntity.name, e.name, e.city,
                                e.department, e.category_code)
                 .outerjoin(LegalEntity, LegalEntity.finess_ej == e.finess_ej)
                 .where(*scope).order_by(e.department, e.name), ESMS_COLUMNS)  # fmt: skip
    snapshot = snapshot_before(engine, end)
    parts = [
        _mailbox_counts(engine, scope, snapshot),
        _tested(engine, scope, period),
        _messages(engine, period),
        frame(engine, select(stages_at(end)), ["finess_et", "stage"]),
    ]
    df = base
    for part in parts:
        df = df.merge(part, on="finess_et", how="left")
    for col in ("mailboxes", "dematerialised", "messages"):
        df[col] = df[col].fillna(0).astype(int)
    for col in ("org_app", "tested"):
        df[col] = df[col].astype("boolean").fillna(False).astype(bool)
    df["stage"] = df["stage"].fillna(OnboardingStage.A_CONTACTER)
    df.attrs["snapshot_id"] = snapshot
    return df


def _mailbox_counts(engine: Engine, scope: list, snapshot: int | None) -> pd.DataFrame:
    columns = ["finess_et", "org_app", "mailboxes", "dematerialised"]
    if snapshot is None:  # no directory yet at the end of the period
        return pd.DataFrame(columns=columns)
    m = Mailbox
    org_app = func.max(case((m.bal_type.in_(("ORG", "APP")), 1), else_=0)) > 0
    stmt = (
        select(Establishment.finess_et, org_app, func.count(distinct(m.id)),
               func.count(distinct(case((m.dematerialisation == "O", m.id)))))
        .join(m, and_(links_to_establishment(), valid_at(snapshot)))
        .where(*scope)
        .group_by(Establishment.finess_et)
    )  # fmt: skip
    return frame(engine, stmt, columns)


def _in_period(column, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _tested(engine: Engine, scope: list, period: Period) -> pd.DataFrame:
    """ESMS with a BAL the project provisioned for it (or for its EJ) and a round trip that
    passed during the period."""
    p, t = ProvisionedBal, BalTest
    start, end = (datetime.combine(d, datetime.min.time()) for d in (period.start, period.end))
    stmt = (
        select(Establishment.finess_et, func.count() > 0)
        .join(p, or_(p.finess == Establishment.finess_et, p.finess == Establishment.finess_ej))
        .join(t, or_(t.sender == p.address, t.recipient == p.address))
        .where(
            *scope, t.outcome == RoundTripOutcome.PASSED, t.started_at >= start, t.started_at < end
        )
        .group_by(Establishment.finess_et)
    )
    return frame(engine, stmt, ["finess_et", "tested"])


def _messages(engine: Engine, period: Period) -> pd.DataFrame:
    """Messages sent and received during the period on the watched mailboxes of each structure
    (its current directory mailboxes and the BALs provisioned for it)."""
    owned = structure_addresses(select(WatchedMailbox.address)).subquery()
    w, d = WatchedMailbox, DailyActivity
    stmt = (
        select(owned.c.finess_et, func.sum(d.messages))
        .join(w, w.address == owned.c.address)
        .join(d, d.mailbox_id == w.id)
        .where(_in_period(d.day, period))
        .group_by(owned.c.finess_et)
    )
    return frame(engine, stmt, ["finess_et", "messages"])
