"""The lifecycle of a provisioned BAL (``provisioned_bals.status``) once it exists::

    requested -> provisioned -> test_passed | test_failed -> active | disabled

Each move checks the actor's permission and writes one audit line; moving a BAL to the status it
already has is not an error. Provisioning and its retry are ``balise.services.provisioning``; the
round trip that passes or fails a test is ``balise.services.bal_tests``.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from balise.clock import utc_now
from balise.errors import ValidationError
from balise.models import ProvisionedBal, WatchedMailbox
from balise.referentials.lifecycles import BalStatus
from balise.services import audit
from balise.services.access import Actor, readable_departments
from balise.services.provisioning import STATUSES, authorise_bal, get_bal

_TRANSITIONS = {
    "bal.confirm": ({BalStatus.REQUESTED}, BalStatus.PROVISIONED),
    "bal.disable": (set(BalStatus) - {BalStatus.DISABLED}, BalStatus.DISABLED),
    "bal.activate": ({BalStatus.TEST_PASSED, BalStatus.PROVISIONED}, BalStatus.ACTIVE),
}


def _transition(engine: Engine, actor: Actor, address: str, action: str) -> str:
    bal = get_bal(engine, address)
    authorise_bal(engine, actor, bal, action)
    allowed, target = _TRANSITIONS[action]
    if bal.status == target:
        return target  # idempotent: confirming twice is not an error
    if bal.status not in allowed:
        current = STATUSES[bal.status].lower()
        raise ValidationError(f"Le champ « statut » ne le permet pas : la BAL est {current}.")
    with engine.begin() as conn:
        conn.execute(
            update(ProvisionedBal)
            .where(ProvisionedBal.id == bal.id)
            .values(status=target, updated_at=utc_now())
        )
        audit.record(conn, actor, action, bal.address, "ok", bal.department,
                     {"avant": bal.status, "après": target})  # fmt: skip
    return target


def confirm(engine: Engine, actor: Actor, address: str) -> str:
    """The operator created a requested BAL: requested -> provisioned."""
    return _transition(engine, actor, address, "bal.confirm")


def disable(engine: Engine, actor: Actor, address: str) -> str:
    return _transition(engine, actor, address, "bal.disable")


def activate(engine: Engine, actor: Actor, address: str) -> str:
    """First real traffic seen: test_passed -> active."""
    return _transition(engine, actor, address, "bal.activate")


def activate_from_traffic(engine: Engine, actor: Actor) -> list[str]:
    """BALs whose test passed and whose polled activity shows real traffic become *active*
    (``watched_mailboxes.last_activity_at``, filled by ``balise poll``). Returns them."""
    query = (
        select(ProvisionedBal.address)
        .join(WatchedMailbox, WatchedMailbox.address == ProvisionedBal.address)
        .where(ProvisionedBal.status == BalStatus.TEST_PASSED)
        .where(WatchedMailbox.last_activity_at.is_not(None))
    )
    allowed = readable_departments(actor, None)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    with engine.connect() as conn:
        addresses = list(conn.scalars(query))
    return [a for a in addresses if activate(engine, actor, a) == BalStatus.ACTIVE]
