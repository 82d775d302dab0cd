"""A refused read or action leaves exactly one audit line (outcome ``refused``, with the reason),
whoever notices the refusal first: the service that checks, or the command's edge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from balise.errors import PermissionDenied
from balise.services.access import Actor

if TYPE_CHECKING:
    from sqlalchemy import Engine


def audit_refusal(
    engine: Engine,
    actor: Actor,
    action: str,
    exc: PermissionDenied,
    obj: str | None = None,
    department: str | None = None,
) -> None:
    """Write the refusal's audit line in a transaction of its own, unless already written."""
    if exc.audited:
        return
    from balise.services import audit  # the models load only when a refusal is written

    with engine.begin() as conn:
        audit.record(conn, actor, action, obj, "refused", department, {"motif": str(exc)})
    exc.audited = True


@contextmanager
def refusals_audited(
    engine: Engine,
    actor: Actor,
    action: str,
    obj: str | None = None,
    department: str | None = None,
) -> Iterator[None]:
    """Audit a PermissionDenied raised in the block, then let it travel. Wrap the block around
    (not inside) any open transaction: the audit line needs a transaction of its own."""
    try:
        yield
    except PermissionDenied as exc:
        audit_refusal(engine, actor, action, exc, obj, department)
        raise
