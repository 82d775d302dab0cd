"""The onboarding pipeline: each structure's way from first contact to regular use.

Stages advance by themselves from facts the store already holds (:func:`advance_from_facts`,
which never moves a stage backwards) and by hand (:func:`move`, permission-checked and audited).
A structure without an ``onboarding`` row is « à contacter ». Facts, weakest to strongest:

- a BAL was requested from the operator (``provisioned_bals`` status requested) -> BAL demandée
- a mailbox linked to the structure is in the current directory, or a BAL was provisioned for it
  -> BAL créée
- a round trip passed on one of its addresses (``bal_tests`` outcome passed) -> BAL testée
- a watched mailbox of the structure shows messages in the last ``ACTIVE_DAYS`` -> usage régulier
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.sql import Select, Subquery

from balise.db import write_transaction
from balise.errors import NotFoundError, PermissionDenied, ValidationError
from balise.formatting import fr_date, paris_time
from balise.models import (
    AuditEntry,
    BalTest,
    DailyActivity,
    Establishment,
    Mailbox,
    Onboarding,
    OnboardingHistory,
    ProvisionedBal,
    WatchedMailbox,
)
from balise.referentials.lifecycles import (
    ONBOARDING_STAGES,
    BalStatus,
    OnboardingStage,
    RoundTripOutcome,
)
from balise.services import audit
from balise.services.access import SYSTEM, Actor, check_can_act, readable_departments
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.queries import frame, in_departments

if TYPE_CHECKING:  # pandas loads with the pages' reads, not with an ingest's advance
    import pandas as pd

STAGES = ONBOARDING_STAGES  # code -> French label, in order
RANK = {code: i for i, code in enumerate(STAGES)}
ACTIVE_DAYS = 30  # messages within this window count as regular use
SILENT_DAYS = 30  # equipped this long without regular use: « à relancer »
EQUIPPED_STAGES = (OnboardingStage.BAL_CREEE, OnboardingStage.BAL_TESTEE)
CREATED_STATUSES = (
    BalStatus.PROVISIONED, BalStatus.TEST_PASSED, BalStatus.TEST_FAILED, BalStatus.ACTIVE
)  # fmt: skip
FIRST = OnboardingStage.A_CONTACTER  # a structure without an onboarding row


# The moves of one automatic advance, for the length of its transaction.
_MOVES = Table(
    "onboarding_moves",
    MetaData(),
    Column("finess_et", String(9), primary_key=True),
    Column("department", String(3)),
    Column("current", String(16)),
    Column("stage", String(16)),
    Column("reason", String(255)),
    prefixes=["TEMPORARY"],
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ----- facts ----------------------------------------------------------------------------------


def _structure_addresses(among: Select) -> Select:
    """(address, finess_et) of the mailboxes among the addresses ``among`` selects that belong
    to an ESMS: current directory mailboxes linked to it (ET or EJ) and BALs the project
    provisioned for it. Starting from the few addresses with a fact keeps this an index lookup,
    not a pass over the 500k directory mailboxes."""
    directory = select(Mailbox.address, Establishment.finess_et).where(
        Mailbox.address.in_(among), valid_at(None), links_to_establishment()
    )
    provisioned = select(ProvisionedBal.address, ProvisionedBal.finess).where(
        ProvisionedBal.address.in_(among), ProvisionedBal.finess.is_not(None)
    )
    return union(directory, provisioned)


def _facts(today: date) -> list[tuple[str, str, Select]]:
    """(stage, reason, SELECT finess_et) for each kind of fact."""
    S = OnboardingStage
    esms = Establishment.is_medico_social.is_(True)
    bal = select(ProvisionedBal.finess).join(
        Establishment, Establishment.finess_et == ProvisionedBal.finess
    )
    passed = BalTest.outcome == RoundTripOutcome.PASSED
    tested_addresses = union(
        select(BalTest.recipient).where(passed), select(BalTest.sender).where(passed)
    )
    tested = select(_structure_addresses(tested_addresses).subquery().c.finess_et)
    recent = DailyActivity.day >= today - timedelta(days=ACTIVE_DAYS)
    active_mailboxes = (
        select(WatchedMailbox.address, func.sum(DailyActivity.messages).label("messages"))
        .join(DailyActivity, DailyActivity.mailbox_id == WatchedMailbox.id)
        .where(recent)
        .group_by(WatchedMailbox.address)
        .subquery()
    )
    owned = _structure_addresses(select(active_mailboxes.c.address)).subquery()
    active = (
        select(owned.c.finess_et)
        .join(active_mailboxes, active_mailboxes.c.address == owned.c.address)
        .group_by(owned.c.finess_et)
        .having(func.sum(active_mailboxes.c.messages) > 0)
    )
    return [
        (S.BAL_DEMANDEE, "BAL demandée à l'opérateur", bal.where(ProvisionedBal.status == BalStatus.REQUESTED, esms)),
        (S.BAL_CREEE, "BAL provisionnée", bal.where(ProvisionedBal.status.in_(CREATED_STATUSES), esms)),
        (S.BAL_CREEE, "BAL dans l'annuaire MSSanté", select(Establishment.finess_et).where(esms, is_equipped())),
        (S.BAL_TESTEE, "Test d'envoi et de réception réussi", tested),
        (S.USAGE_REGULIER, f"Messages échangés dans les {ACTIVE_DAYS} derniers jours", active),
    ]  # fmt: skip


def _strongest_facts(today: date) -> Subquery:
    """(finess_et, stage, reason, rank) of the strongest fact about each structure; among facts
    of equal rank, the first one ``_facts`` lists."""
    facts = union_all(*(
        select(
            stmt.subquery().c[0].label("finess_et"),
            literal(RANK[stage]).label("rank"),
            literal(order).label("fact_order"),
            cast(literal(stage), String).label("stage"),
            cast(literal(reason), String).label("reason"),
        )
        for order, (stage, reason, stmt) in enumerate(_facts(today))
    )).subquery()  # fmt: skip
    strongest_first = (facts.c.rank.desc(), facts.c.fact_order)
    ranked = select(
        facts,
        func.row_number().over(partition_by=facts.c.finess_et, order_by=strongest_first).label("n"),
    ).subquery()
    return (
        select(ranked.c.finess_et, ranked.c.stage, ranked.c.reason, ranked.c.rank)
        .where(ranked.c.n == 1, ranked.c.finess_et.is_not(None))
        .subquery()
    )


def _moves_up(departments: tuple[str, ...] | None, today: date) -> Select:
    """(finess_et, department, current, stage, reason) of each ESMS whose facts prove a stage
    above its current one."""
    esms = (
        _esms_with_stage(departments)
        .with_only_columns(
            Establishment.finess_et, Establishment.department, Onboarding.stage.label("current")
        )
        .subquery()
    )
    best = _strongest_facts(today)
    current_rank = case(RANK, value=esms.c.current, else_=0)
    return (
        select(esms.c.finess_et, esms.c.department, esms.c.current, best.c.stage, best.c.reason)
        .join(best, best.c.finess_et == esms.c.finess_et)
        .where(best.c.rank > current_rank)
    )


def advance_from_facts(
    engine: Engine,
    departments: Iterable[str] | None = None,
    today: date | None = None,
    wait_s: float | None = None,
) -> int:
    """Move every ESMS (of ``departments``, None = all) up to the stage its facts prove, never
    down; one history line per move. Returns how many structures moved. Set-wise: the first
    national ingest moves some 20,000 structures. ``wait_s``: how long to wait for the write
    lock (default: the engine's; a page view passes 0 and defers the advance)."""
    # The store-wide lock: two concurrent runs would both insert the same new row.
    with write_transaction(engine, "onboarding", wait_s=wait_s) as conn:
        return advance_in(conn, departments, today)


def advance_in(
    conn: Connection, departments: Iterable[str] | None = None, today: date | None = None
) -> int:
    """:func:`advance_from_facts` inside the caller's write transaction (an ingest advances the
    pipeline in the transaction that brings the facts, with its audit line)."""
    departments = tuple(departments) if departments is not None else None
    moves = _MOVES.c
    _MOVES.create(conn)
    conn.execute(
        insert(_MOVES).from_select(
            list(moves.keys()), _moves_up(departments, today or date.today())
        )
    )
    moved = conn.execute(select(func.count()).select_from(_MOVES)).scalar_one()
    now = literal(_now(), DateTime)
    conn.execute(insert(OnboardingHistory).from_select(
        ["finess_et", "from_stage", "to_stage", "source", "reason", "actor", "at"],
        select(moves.finess_et, func.coalesce(moves.current, FIRST.value), moves.stage,
               literal("auto"), moves.reason, literal(SYSTEM.login), now),
    ))  # fmt: skip
    conn.execute(
        update(Onboarding)
        .where(Onboarding.finess_et.in_(select(moves.finess_et)))
        .values(
            stage=select(moves.stage)
            .where(moves.finess_et == Onboarding.finess_et)
            .scalar_subquery(),
            stage_since=now,
            updated_at=now,
        )
    )
    conn.execute(insert(Onboarding).from_select(
        ["finess_et", "department", "stage", "stage_since", "updated_at"],
        select(moves.finess_et, moves.department, moves.stage, now, now)
        .where(moves.current.is_(None)),
    ))  # fmt: skip
    _MOVES.drop(conn)
    if moved:
        audit.record(conn, SYSTEM, "onboarding_auto", None, detail={"structures": moved})
    return moved


@dataclass(frozen=True)
class Move:
    """One structure going from ``current`` (None: no row yet) to ``stage``."""

    finess: str
    department: str
    current: str | None
    stage: str
    reason: str | None


def _set_stages(conn: Connection, moves: list[Move], source: str, actor: Actor) -> None:
    """Apply ``moves`` with one history line each, in three statements whatever their number
    (the first national ingest moves some 20,000 structures)."""
    if not moves:
        return
    now = _now()
    new = [m for m in moves if m.current is None]
    if new:
        conn.execute(insert(Onboarding), [
            {"finess_et": m.finess, "department": m.department, "stage": m.stage,
             "stage_since": now, "updated_at": now}
            for m in new
        ])  # fmt: skip
    known = [m for m in moves if m.current is not None]
    if known:
        conn.execute(
            update(Onboarding)
            .where(Onboarding.finess_et == bindparam("target"))
            .values(stage=bindparam("new_stage"), stage_since=now, updated_at=now),
            [{"target": m.finess, "new_stage": m.stage} for m in known],
        )
    conn.execute(insert(OnboardingHistory), [
        {"finess_et": m.finess, "from_stage": m.current or FIRST, "to_stage": m.stage,
         "source": source, "reason": m.reason, "actor": actor.login, "at": now}
        for m in moves
    ])  # fmt: skip


# ----- manual actions -------------------------------------------------------------------------


def _authorised(conn: Connection, actor: Actor, finess: str, action: str) -> tuple[str, str | None]:
    """(department, current stage) of an ESMS the actor may act on; refusals are audited."""
    row = conn.execute(
        select(Establishment.department, Onboarding.stage)
        .outerjoin(Onboarding, Onboarding.finess_et == Establishment.finess_et)
        .where(Establishment.finess_et == finess)
    ).first()
    if row is None:
        raise NotFoundError(f"La structure FINESS {finess} n'existe pas dans le FINESS importé.")
    try:
        check_can_act(actor, row.department, "onboarding")
    except PermissionDenied as exc:
        conn.commit()  # nothing written yet: the refusal line goes in its own transaction
        audit.record(conn, actor, action, finess, "refused", row.department, {"motif": str(exc)})
        conn.commit()
        exc.audited = True
        raise
    return row.department, row.stage


def move(engine: Engine, actor: Actor, finess: str, stage: str, reason: str | None = None) -> None:
    """Put a structure at ``stage`` by hand (backwards too: the animator corrects)."""
    if stage not in STAGES:
        raise ValidationError(f"Étape inconnue : {stage} (étapes : {', '.join(STAGES.values())}).")
    with engine.connect() as conn:
        department, current = _authorised(conn, actor, finess, "onboarding_move")
        if (current or FIRST) != stage:
            _set_stages(conn, [Move(finess, department, current, stage, reason)], "manuel", actor)
        detail = {"de": STAGES[current or FIRST], "vers": STAGES[stage]}
        audit.record(conn, actor, "onboarding_move", finess, "ok", department, detail)
        conn.commit()


@dataclass(frozen=True)
class FollowUp:
    """What an animator plans for a structure. Notes are follow-up notes, never patient data."""

    next_action: str | None = None
    next_action_on: date | None = None
    notes: str | None = None
    assigned_to: str | None = None


def plan_follow_up(engine: Engine, actor: Actor, finess: str, follow_up: FollowUp) -> None:
    """Record the next action, its date, notes and the assigned animator."""
    values = {k: (v.strip() or None) if isinstance(v, str) else v
              for k, v in follow_up.__dict__.items()}  # fmt: skip
    with engine.connect() as conn:
        department, current = _authorised(conn, actor, finess, "onboarding_plan")
        now = _now()
        if current is None:
            conn.execute(
                insert(Onboarding).values(
                    finess_et=finess, department=department, stage=FIRST,
                    stage_since=now, updated_at=now, **values,
                )
            )  # fmt: skip
        else:
            conn.execute(
                update(Onboarding)
                .where(Onboarding.finess_et == finess)
                .values(updated_at=now, **values)
            )
        detail = {"action": values["next_action"], "le": values["next_action_on"]}
        audit.record(conn, actor, "onboarding_plan", finess, "ok", department, detail)
        conn.commit()


# ----- reads ----------------------------------------------------------------------------------

_stage = func.coalesce(Onboarding.stage, literal(FIRST.value))


def _esms_with_stage(departments: tuple[str, ...] | None) -> Select:
    return (
        select(Establishment)
        .outerjoin(Onboarding, Onboarding.finess_et == Establishment.finess_et)
        .where(Establishment.is_medico_social.is_(True))
        .where(in_departments(Establishment.department, departments))
    )


def board(engine: Engine, actor: Actor, department: str) -> pd.DataFrame:
    """Every ESMS of one department with its stage and follow-up, for the board."""
    readable_departments(actor, [department])
    columns = ["finess_et", "name", "city", "category_code", "stage", "stage_since",
               "next_action", "next_action_on", "notes", "assigned_to"]  # fmt: skip
    stmt = (
        _esms_with_stage((department,))
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
        _esms_with_stage(departments)
        .with_only_columns(Establishment.department, _stage, func.count())
        .group_by(Establishment.department, _stage)
    )
    import pandas as pd

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
