"""Onboarding by hand: an animator puts a structure at a stage (backwards too) and plans its
follow-up (next action, date, notes, assigned animator). Each action checks the actor's right to
act on the structure's department and writes one audit line; refusals are audited too. The
stages and their automatic advance are ``balise.services.onboarding``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from balise.clock import utc_now
from balise.errors import NotFoundError, PermissionDenied, ValidationError
from balise.models import Establishment, Onboarding, OnboardingHistory
from balise.services import audit
from balise.services.access import Actor, check_can_act
from balise.services.onboarding import FIRST, STAGES


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
    now = utc_now()
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
        now = utc_now()
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
