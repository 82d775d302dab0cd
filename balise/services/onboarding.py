"""The onboarding pipeline: its stages, and their automatic advance from facts the store
already holds (:func:`advance_from_facts`, which never moves a stage backwards), run by ingest,
poll and the worker. Moves by hand and follow-ups are ``balise.services.onboarding_actions``;
what the Accompagnement page reads is ``balise.services.onboarding_reads``.

A structure without an ``onboarding`` row is « à contacter ». Facts, weakest to strongest:

- a BAL was requested from the operator (``provisioned_bals`` status requested) -> BAL demandée
- a mailbox linked to the structure is in the current directory, or a BAL was provisioned for it
  -> BAL créée
- a round trip passed on one of its addresses (``bal_tests`` outcome passed) -> BAL testée
- a watched mailbox of the structure shows messages in the last ``ACTIVE_DAYS`` -> usage régulier
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.sql import Select, Subquery

from balise.clock import utc_now
from balise.db import write_transaction
from balise.models.tables import (
    bal_tests,
    daily_activity,
    establishments,
    mailboxes,
    onboarding,
    onboarding_history,
    provisioned_bals,
    watched_mailboxes,
)
from balise.referentials.lifecycles import (
    ONBOARDING_STAGES,
    BalStatus,
    OnboardingStage,
    RoundTripOutcome,
)
from balise.services import audit
from balise.services.access import SYSTEM
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.queries import in_departments

STAGES = ONBOARDING_STAGES  # code -> French label, in order
RANK = {code: i for i, code in enumerate(STAGES)}
ACTIVE_DAYS = 30  # messages within this window count as regular use
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


# ----- facts ----------------------------------------------------------------------------------


def structure_addresses(among: Select) -> Select:
    """(address, finess_et) of the mailboxes among the addresses ``among`` selects that belong
    to an ESMS: current directory mailboxes linked to it (ET or EJ) and BALs the project
    provisioned for it. Starting from the few addresses with a fact keeps this an index lookup,
    not a pass over the 500k directory mailboxes."""
    directory = select(mailboxes.c.address, establishments.c.finess_et).where(
        mailboxes.c.address.in_(among), valid_at(None), links_to_establishment()
    )
    provisioned = select(provisioned_bals.c.address, provisioned_bals.c.finess).where(
        provisioned_bals.c.address.in_(among), provisioned_bals.c.finess.is_not(None)
    )
    return union(directory, provisioned)


def _facts(today: date) -> list[tuple[str, str, Select]]:
    """(stage, reason, SELECT finess_et) for each kind of fact."""
    S = OnboardingStage
    esms = establishments.c.is_medico_social.is_(True)
    bal = select(provisioned_bals.c.finess).join(
        establishments, establishments.c.finess_et == provisioned_bals.c.finess
    )
    passed = bal_tests.c.outcome == RoundTripOutcome.PASSED
    tested_addresses = union(
        select(bal_tests.c.recipient).where(passed), select(bal_tests.c.sender).where(passed)
    )
    tested = select(structure_addresses(tested_addresses).subquery().c.finess_et)
    recent = daily_activity.c.day >= today - timedelta(days=ACTIVE_DAYS)
    active_mailboxes = (
        select(watched_mailboxes.c.address, func.sum(daily_activity.c.messages).label("messages"))
        .join(daily_activity, daily_activity.c.mailbox_id == watched_mailboxes.c.id)
        .where(recent)
        .group_by(watched_mailboxes.c.address)
        .subquery()
    )
    owned = structure_addresses(select(active_mailboxes.c.address)).subquery()
    active = (
        select(owned.c.finess_et)
        .join(active_mailboxes, active_mailboxes.c.address == owned.c.address)
        .group_by(owned.c.finess_et)
        .having(func.sum(active_mailboxes.c.messages) > 0)
    )
    return [
        (S.BAL_DEMANDEE, "BAL demandée à l'opérateur", bal.where(provisioned_bals.c.status == BalStatus.REQUESTED, esms)),
        (S.BAL_CREEE, "BAL provisionnée", bal.where(provisioned_bals.c.status.in_(CREATED_STATUSES), esms)),
        (S.BAL_CREEE, "BAL dans l'annuaire MSSanté", select(establishments.c.finess_et).where(esms, is_equipped())),
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


def esms_with_stage(departments: tuple[str, ...] | None) -> Select:
    return (
        select(establishments)
        .outerjoin(onboarding, onboarding.c.finess_et == establishments.c.finess_et)
        .where(establishments.c.is_medico_social.is_(True))
        .where(in_departments(establishments.c.department, departments))
    )


def _moves_up(departments: tuple[str, ...] | None, today: date) -> Select:
    """(finess_et, department, current, stage, reason) of each ESMS whose facts prove a stage
    above its current one."""
    esms = (
        esms_with_stage(departments)
        .with_only_columns(
            establishments.c.finess_et,
            establishments.c.department,
            onboarding.c.stage.label("current"),
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
    now = literal(utc_now(), DateTime)
    conn.execute(insert(onboarding_history).from_select(
        ["finess_et", "from_stage", "to_stage", "source", "reason", "actor", "at"],
        select(moves.finess_et, func.coalesce(moves.current, FIRST.value), moves.stage,
               literal("auto"), moves.reason, literal(SYSTEM.login), now),
    ))  # fmt: skip
    conn.execute(
        update(onboarding)
        .where(onboarding.c.finess_et.in_(select(moves.finess_et)))
        .values(
            stage=select(moves.stage)
            .where(moves.finess_et == onboarding.c.finess_et)
            .scalar_subquery(),
            stage_since=now,
            updated_at=now,
        )
    )
    conn.execute(insert(onboarding).from_select(
        ["finess_et", "department", "stage", "stage_since", "updated_at"],
        select(moves.finess_et, moves.department, moves.stage, now, now)
        .where(moves.current.is_(None)),
    ))  # fmt: skip
    _MOVES.drop(conn)
    if moved:
        audit.record(conn, SYSTEM, "onboarding_auto", None, detail={"structures": moved})
    return moved
