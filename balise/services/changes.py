"""Mailboxes created and removed between two directory snapshots, by department and category.

Between snapshots A < B an address is *created* when a version of it is valid at B and none at A,
*removed* when valid at A and not at B. A mailbox whose type or structure changed is neither.

Each department is compared with its own state: a department outside the imports between A and B
kept its versions, so it shows no change; one the directory had not covered yet at A (its first
import came later) is left out rather than shown with all its mailboxes as created.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, and_, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from balise.models import Establishment, Mailbox
from balise.services.access import Actor, readable_departments
from balise.services.links import links_to_establishment, valid_at
from balise.services.queries import frame, in_departments
from balise.services.snapshots import known_departments

NO_CATEGORY = ""  # mailboxes that link to no FINESS establishment


def _valid_at(version, snapshot_id: int) -> ColumnElement[bool]:
    """:func:`links.valid_at` for an aliased mailbox table (same rule: [valid_from, valid_to))."""
    return and_(
        version.valid_from <= snapshot_id,
        or_(version.valid_to.is_(None), version.valid_to > snapshot_id),
    )


def _appearing(present_at: int, absent_at: int, departments: tuple[str, ...] | None):
    """WHERE clauses: versions valid at ``present_at`` whose address has no version valid at
    ``absent_at``. Only versions that began or ended between the two snapshots can qualify,
    which the indexes on valid_from / valid_to find without scanning the directory."""
    other = aliased(Mailbox)
    if present_at > absent_at:  # created: began after absent_at
        moved = Mailbox.valid_from > absent_at
    else:  # removed: ended by absent_at
        moved = and_(Mailbox.valid_to.is_not(None), Mailbox.valid_to <= absent_at)
    still = select(other.id).where(other.address == Mailbox.address, _valid_at(other, absent_at))
    return (
        valid_at(present_at),
        moved,
        ~exists(still),
        in_departments(Mailbox.department, departments),
    )


def _count(engine: Engine, where, by: str) -> pd.DataFrame:
    if by == "department":
        key = Mailbox.department
        stmt = select(key, func.count(func.distinct(Mailbox.address))).where(*where)
    else:
        key = func.coalesce(Establishment.category_code, NO_CATEGORY)
        stmt = (
            select(key, func.count(func.distinct(Mailbox.address)))
            .select_from(Mailbox)
            .outerjoin(Establishment, links_to_establishment())
            .where(*where)
        )
    return frame(engine, stmt.group_by(key), [by, "n"])


def changes(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    before: int,
    after: int,
    by: str = "department",
) -> pd.DataFrame:
    """Created and removed mailboxes between snapshots ``before`` and ``after``, grouped ``by``
    "department" (the mailbox's) or "category_code" (of the establishments it links to; an EJ
    mailbox counts once in each category it equips; "" = linked to no establishment)."""
    departments = known_departments(engine, before, readable_departments(actor, departments))
    created = _count(engine, _appearing(after, before, departments), by).rename(
        columns={"n": "created"}
    )
    removed = _count(engine, _appearing(before, after, departments), by).rename(
        columns={"n": "removed"}
    )
    df = created.merge(removed, on=by, how="outer").fillna(0)
    df[["created", "removed"]] = df[["created", "removed"]].astype(int)
    return df.sort_values(by).reset_index(drop=True)


def totals(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, before: int, after: int
) -> dict[str, int]:
    """Distinct addresses created and removed between two snapshots over the whole selection."""
    departments = known_departments(engine, before, readable_departments(actor, departments))
    out = {}
    for name, where in (
        ("created", _appearing(after, before, departments)),
        ("removed", _appearing(before, after, departments)),
    ):
        stmt = select(func.count(func.distinct(Mailbox.address))).where(*where)
        with engine.connect() as conn:
            out[name] = int(conn.execute(stmt).scalar_one())
    return out
