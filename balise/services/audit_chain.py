"""The audit trail's hash chain: how a line is linked, appended and checked.

Canonical serialisation: ``row_hash`` is the SHA-256 (lowercase hex) of the UTF-8 bytes of the
JSON array

    [prev_hash, at, actor, action, object, department, outcome, detail]

written without spaces (separators "," and ":"), non-ASCII characters as themselves, empty
fields as ``null``, ``at`` as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC, microseconds always written)
and ``detail`` as the stored JSON text (a string, not re-parsed). ``prev_hash`` is the previous
line's ``row_hash``: the first line ever follows GENESIS (64 zeros), the oldest line kept by a
purge follows the chain's anchor (the last line deleted). No secret is involved: anyone can
recompute a line with ``sha256sum``. What the chain proves: no line was changed, removed or
slipped in since it was written, short of recomputing every later line (note the head hash that
``balise audit verify`` prints somewhere else to rule that out too).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, text, update

from balise.clock import utc_now
from balise.models.tables import audit_chain, audit_log

GENESIS = "0" * 64
CHAIN_ID = 1

# Appending starts by writing the chain's state row, which takes the lock before the head is
# read: PostgreSQL holds the row lock until commit (a second writer waits, then reads the new
# head); on SQLite a write statement takes the database write lock. The upsert also creates
# the row in a store that has none yet.
_LOCK_HEAD = text(
    "INSERT INTO audit_chain (id, anchor_id, anchor_hash, head_id, head_hash) "
    "VALUES (:id, 0, :genesis, 0, :genesis) "
    "ON CONFLICT (id) DO UPDATE SET head_id = audit_chain.head_id "
    "RETURNING anchor_id, anchor_hash, head_id, head_hash"
)


@dataclass(frozen=True)
class Line:
    """What an audit line says (everything but its id and its links)."""

    actor: str
    action: str
    object: str | None = None
    department: str | None = None
    outcome: str = "ok"
    detail: str | None = None  # JSON text


def line_hash(prev_hash: str, at: datetime, line: Line) -> str:
    """The SHA-256 of ``prev_hash`` and of the line's content (module docstring)."""
    fields = [
        prev_hash, at.isoformat(sep=" ", timespec="microseconds"), line.actor, line.action,
        line.object, line.department, line.outcome, line.detail,
    ]  # fmt: skip
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def lock(conn: Connection):
    """Lock the chain for the rest of the transaction; its state row (anchor and head)."""
    return conn.execute(_LOCK_HEAD, {"id": CHAIN_ID, "genesis": GENESIS}).one()


def append(conn: Connection, line: Line, at: datetime | None = None) -> int:
    """Append ``line`` after the current head, inside the caller's transaction; its id."""
    head = lock(conn)
    # Stamped once the lock is held, so that times follow ids (the purge relies on it).
    at = at or utc_now()
    row_hash = line_hash(head.head_hash, at, line)
    new_id = conn.execute(
        insert(audit_log).values(
            at=at, actor=line.actor, action=line.action, object=line.object,
            department=line.department, outcome=line.outcome, detail=line.detail,
            prev_hash=head.head_hash, row_hash=row_hash,
        )
    ).inserted_primary_key[0]  # fmt: skip
    conn.execute(
        update(audit_chain)
        .where(audit_chain.c.id == CHAIN_ID)
        .values(head_id=new_id, head_hash=row_hash)
    )
    return new_id


def set_anchor(conn: Connection, anchor_id: int, anchor_hash: str) -> None:
    """After a purge (chain locked by the caller): the oldest kept line now follows this one."""
    conn.execute(
        update(audit_chain)
        .where(audit_chain.c.id == CHAIN_ID)
        .values(anchor_id=anchor_id, anchor_hash=anchor_hash)
    )


# ----- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The result of a walk along the chain. ``problem`` names the first broken link in French
    (None when the chain is whole); ``broken_id`` is that line's id."""

    lines: int
    first_id: int | None
    last_id: int | None
    head_hash: str
    problem: str | None = None
    broken_id: int | None = None


@dataclass
class _Walk:
    anchor_id: int
    expected: str  # the prev_hash the next line must carry
    previous: int | None = None
    first: int | None = None
    lines: int = 0
    purge_anchor: str | None = None  # what the newest purge line recorded


def _link_problem(walk: _Walk, row) -> str | None:
    if row.id <= walk.anchor_id:
        return (
            f"la ligne n°{row.id} est antérieure à l'ancre de la dernière purge "
            f"(n°{walk.anchor_id}) : elle a été ajoutée après coup."
        )
    if row.prev_hash != walk.expected:
        if walk.previous is None:
            start = "le début du journal" if walk.anchor_id == 0 else "l'ancre de la dernière purge"
            return (
                f"la ligne n°{row.id} ne suit pas {start} : des lignes ont été supprimées "
                "ou insérées avant elle."
            )
        return (
            f"la ligne n°{row.id} ne suit pas la ligne n°{walk.previous} : une ligne a été "
            "supprimée ou insérée entre elles."
        )
    line = Line(row.actor, row.action, row.object, row.department, row.outcome, row.detail)
    if line_hash(row.prev_hash, row.at, line) != row.row_hash:
        return (
            f"la ligne n°{row.id} a été modifiée : son contenu ne correspond plus à son empreinte."
        )
    return None


def _purge_anchor(row) -> str | None:
    if row.action != "audit.purge" or row.outcome != "ok" or not row.detail:
        return None
    return (json.loads(row.detail).get("ancre") or {}).get("empreinte")


def _ending_problem(walk: _Walk, state) -> tuple[str, int] | None:
    """The head and the anchor the chain's state row holds must match what the walk found."""
    head_id, head_hash = (state.head_id, state.head_hash) if state else (0, GENESIS)
    last_id = walk.previous if walk.previous is not None else walk.anchor_id
    if state is None and walk.lines:
        return "l'état de la chaîne (table audit_chain) a été supprimé.", walk.previous or 0
    if last_id != head_id or walk.expected != head_hash:
        return (
            f"la dernière ligne est la n°{last_id} alors que la chaîne a enregistré la "
            f"n°{head_id} : des lignes ont été supprimées ou ajoutées à la fin hors de Balise.",
            head_id,
        )
    if walk.anchor_id and walk.purge_anchor != state.anchor_hash:
        return (
            f"l'ancre de la chaîne (ligne n°{walk.anchor_id}) n'est pas celle que la dernière "
            "purge a enregistrée : elle a été modifiée.",
            walk.anchor_id,
        )
    return None


def verify(conn: Connection) -> ChainReport:
    """Walk every line in id order, from the anchor to the head (one consistent snapshot:
    the caller reads in one transaction, REPEATABLE READ on PostgreSQL)."""
    state = conn.execute(select(audit_chain).where(audit_chain.c.id == CHAIN_ID)).first()
    walk = _Walk(state.anchor_id, state.anchor_hash) if state else _Walk(0, GENESIS)
    rows = conn.execution_options(yield_per=2000).execute(
        select(audit_log).order_by(audit_log.c.id)
    )
    for row in rows:
        problem = _link_problem(walk, row)
        if problem:
            rows.close()
            return _report(walk, problem, row.id)
        walk.first = walk.first or row.id
        walk.previous, walk.expected = row.id, row.row_hash
        walk.lines += 1
        walk.purge_anchor = _purge_anchor(row) or walk.purge_anchor
    ending = _ending_problem(walk, state)
    return _report(walk, *ending) if ending else _report(walk)


def _report(walk: _Walk, problem: str | None = None, broken_id: int | None = None) -> ChainReport:
    return ChainReport(walk.lines, walk.first, walk.previous, walk.expected, problem, broken_id)
