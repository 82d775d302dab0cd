"""The signals that say which non-equipped ESMS to call first, as known at one moment.

A :class:`Moment` is a directory snapshot (the mailbox versions valid then, ``links.valid_at``)
and a time: dated facts count only when dated strictly before it (events, contacts, onboarding
history). Scoring now uses the current mailboxes and the present time; the backtest replays
each stored snapshot, so no signal may read anything that was not known at that moment.

FINESS is kept without history: the ESMS of a past moment are today's (minus those FINESS says
opened later), with today's category and legal entity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, and_, case, func, select, union_all

from balise.clock import utc_now
from balise.models import Attendance, AuditEntry, Establishment, Event, Mailbox, OnboardingHistory
from balise.referentials.lifecycles import OnboardingStage
from balise.services.adoption import frame, in_departments
from balise.services.esms_facts import esms_in, stages_at
from balise.services.events import confirmed
from balise.services.links import is_equipped, valid_at

SIGNAL_COLUMNS = [
    "finess_et", "finess_ej", "name", "city", "department", "category_code",
    "siblings_equipped", "personal_bals", "category_share", "last_event", "last_event_title",
    "last_contact", "stage",
]  # fmt: skip


@dataclass(frozen=True)
class Moment:
    snapshot_id: int | None  # None: the current mailbox versions
    at: datetime  # naive; dated facts strictly before it

    @classmethod
    def now(cls) -> Moment:
        return cls(None, utc_now())


def signals(
    engine: Engine,
    departments: tuple[str, ...] | None,
    moment: Moment,
    sibling_deps: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row per ESMS of ``departments`` not equipped at ``moment``, with its signals
    (``SIGNAL_COLUMNS``). Siblings are counted in ``sibling_deps`` (None: everywhere)."""
    e = Establishment
    scope = esms_in(departments, moment.at.date())
    stmt = select(e.finess_et, e.finess_ej, e.name, e.city, e.department, e.category_code).where(
        *scope, ~is_equipped(moment.snapshot_id)
    )
    df = frame(engine, stmt, SIGNAL_COLUMNS[:6])
    df = df.merge(_siblings(engine, sibling_deps, moment), on="finess_ej", how="left")
    df = df.merge(_category_shares(engine, departments, moment), on=["department", "category_code"],
                  how="left")  # fmt: skip
    for part in (_personal_bals(engine, departments, moment), _last_event(engine, moment),
                 _last_contact(engine, moment), frame(engine, select(stages_at(moment.at)),
                                                      ["finess_et", "stage"])):  # fmt: skip
        df = df.merge(part, on="finess_et", how="left")
    df["siblings_equipped"] = df["siblings_equipped"].fillna(0).astype(int)
    df["personal_bals"] = df["personal_bals"].fillna(0).astype(int)
    df["category_share"] = df["category_share"].fillna(0.0).astype(float)
    df["stage"] = df["stage"].fillna(OnboardingStage.A_CONTACTER)
    return df[SIGNAL_COLUMNS]


def _siblings(engine: Engine, departments: tuple[str, ...] | None, moment: Moment) -> pd.DataFrame:
    """Equipped ESMS per legal entity (the candidate itself is not equipped: never counted)."""
    e = Establishment
    stmt = (
        select(e.finess_ej, func.count())
        .where(*esms_in(departments, moment.at.date()), e.finess_ej.is_not(None),
               is_equipped(moment.snapshot_id))
        .group_by(e.finess_ej)
    )  # fmt: skip
    return frame(engine, stmt, ["finess_ej", "siblings_equipped"])


def _category_shares(
    engine: Engine, departments: tuple[str, ...] | None, moment: Moment
) -> pd.DataFrame:
    e = Establishment
    equipped = func.sum(case((is_equipped(moment.snapshot_id), 1), else_=0))
    stmt = (
        select(e.department, e.category_code, equipped * 1.0 / func.count())
        .where(*esms_in(departments, moment.at.date()))
        .group_by(e.department, e.category_code)
    )
    return frame(engine, stmt, ["department", "category_code", "category_share"])


def _personal_bals(
    engine: Engine, departments: tuple[str, ...] | None, moment: Moment
) -> pd.DataFrame:
    """Personal mailboxes (PER) that name the structure without a FINESS link: its SIRET as
    structure id, or (when they name no SIRET) its name, any case, and postcode as « Raison
    sociale » and postcode.
    Linked ones would make it equipped already. The name match is made on two small
    aggregates (names compared case-folded in Python, the same on both databases)."""
    e, m = Establishment, Mailbox
    unlinked = (m.bal_type == "PER", m.link_kind.is_(None), valid_at(moment.snapshot_id))
    scope = esms_in(departments, moment.at.date())
    by_siret = (
        select(e.finess_et, func.count(func.distinct(m.id)))
        .join(m, and_(m.structure_id == e.siret, m.structure_id_type == "3"))
        .where(*scope, *unlinked)
        .group_by(e.finess_et)
    )
    names = (
        select(m.department, m.postcode, m.structure_name, func.count())
        .where(
            in_departments(m.department, departments),
            *unlinked,
            m.structure_name.is_not(None),
            func.coalesce(m.structure_id_type, "") != "3",
        )  # SIRET ones: matched above
        .group_by(m.department, m.postcode, m.structure_name)
    )
    esms = select(e.finess_et, e.department, e.postcode, e.name).where(*scope)
    key = ["department", "postcode", "name_key"]
    named = frame(engine, names, ["department", "postcode", "name", "n"])
    named = named.assign(name_key=named["name"].str.strip().str.casefold())
    named = named.groupby(key, as_index=False)["n"].sum()
    own = frame(engine, esms, ["finess_et", "department", "postcode", "name"])
    own = own.assign(name_key=own["name"].str.strip().str.casefold())
    by_name = own.merge(named, on=key)[["finess_et", "n"]]
    siret = frame(engine, by_siret, ["finess_et", "n"])
    both = pd.concat([siret, by_name]).groupby("finess_et", as_index=False)["n"].sum()
    return both.rename(columns={"n": "personal_bals"})


def _last_event(engine: Engine, moment: Moment) -> pd.DataFrame:
    """The latest event before the moment that each structure attended (confirmed lines)."""
    newest_first = (Event.date.desc(), Event.id.desc())
    ranked = (
        select(Attendance.finess_et, Event.date, Event.title,
               func.row_number().over(partition_by=Attendance.finess_et, order_by=newest_first)
               .label("n"))
        .join(Event, Event.id == Attendance.event_id)
        .where(confirmed(), Event.date < moment.at.date())
        .subquery()
    )  # fmt: skip
    stmt = select(ranked.c.finess_et, ranked.c.date, ranked.c.title).where(ranked.c.n == 1)
    df = frame(engine, stmt, ["finess_et", "last_event", "last_event_title"])
    df["last_event"] = pd.to_datetime(df["last_event"]).dt.date
    return df


def _last_contact(engine: Engine, moment: Moment) -> pd.DataFrame:
    """An animator's latest hand on the structure before the moment: a manual stage change or a
    follow-up recorded (both dated, in the onboarding history and the audit trail)."""
    h, a = OnboardingHistory, AuditEntry
    contacts = union_all(
        select(h.finess_et.label("finess_et"), h.at.label("at"))
        .where(h.source == "manuel", h.at < moment.at),
        select(a.object.label("finess_et"), a.at.label("at"))
        .where(a.action.in_(("onboarding_plan", "onboarding_move")), a.outcome == "ok",
               a.at < moment.at),
    ).subquery()  # fmt: skip
    stmt = select(contacts.c.finess_et, func.max(contacts.c.at)).group_by(contacts.c.finess_et)
    df = frame(engine, stmt, ["finess_et", "last_contact"])
    df["last_contact"] = pd.to_datetime(df["last_contact"])
    return df


def equipped_at_any(
    engine: Engine, departments: tuple[str, ...] | None, snapshot_ids: Iterable[int]
) -> set[str]:
    """ESMS of ``departments`` equipped at one at least of ``snapshot_ids`` (the backtest's outcome:
    those that became equipped later)."""
    found: set[str] = set()
    for snapshot_id in snapshot_ids:
        stmt = select(Establishment.finess_et).where(
            *esms_in(departments), is_equipped(snapshot_id)
        )
        found |= set(frame(engine, stmt, ["finess_et"])["finess_et"])
    return found
