"""Mailbox activity: what the *Activité* page reads about the watched mailboxes (headline,
weekly messages, flows between categories, silent mailboxes, last polls) and its cache key.

The mailboxes themselves (watch, change, remove, list) live in ``balise.services.watched_mailboxes``,
the counterpart categories in ``balise.services.counterparts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Date, Engine, Integer, String, cast, distinct, func, literal, select

from balise.models import DailyActivity, Establishment, Mailbox, WatchedMailbox
from balise.referentials.use_cases import flow_use_cases
from balise.services.access import Actor, readable_departments
from balise.services.counterparts import own_categories
from balise.services.labels import category_label
from balise.services.links import links_to_establishment
from balise.services.queries import frame, in_departments
from balise.services.watched_mailboxes import watched

if TYPE_CHECKING:
    import pandas as pd

ACTIVE_DAYS = 30


def _since(today: date | None, days: int) -> date:
    return (today or date.today()) - timedelta(days=days - 1)


def headline(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, today: date | None = None
) -> dict:
    """Watched mailboxes, active mailboxes and active structures over the last 30 days."""
    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    since = _since(today, ACTIVE_DAYS)
    active = (
        select(w.id)
        .join(d, d.mailbox_id == w.id)
        .where(in_departments(w.department, departments), d.day >= since, d.messages > 0)
        .distinct()
    ).subquery()
    with engine.connect() as conn:
        total = conn.scalar(
            select(func.count(w.id)).where(in_departments(w.department, departments))
        )
        mailboxes = conn.scalar(select(func.count()).select_from(active))
        structures = conn.scalar(
            select(func.count(distinct(Establishment.finess_et)))
            .select_from(w)
            .join(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
            .join(Establishment, links_to_establishment())
            .where(w.id.in_(select(active.c.id)))
        )
    return {
        "watched": total or 0,
        "active_mailboxes": mailboxes or 0,
        "active_structures": structures or 0,
    }


def _week_start(dialect: str, column):
    if dialect == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    # SQLite: back to Monday (%w: 0 = Sunday).
    back = cast((cast(func.strftime("%w", column), Integer) + 6) % 7, String)
    return func.date(column, literal("-") + back + literal(" days"))


def weekly_messages(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    weeks: int = 12,
    today: date | None = None,
) -> pd.DataFrame:
    """Messages per week (Monday), department and direction."""
    import pandas as pd

    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    week = _week_start(engine.dialect.name, d.day).label("week")
    stmt = (
        select(week, w.department, d.direction, func.sum(d.messages).label("messages"))
        .join(w, w.id == d.mailbox_id)
        .where(in_departments(w.department, departments), d.day >= _since(today, 7 * weeks))
        .group_by(week, w.department, d.direction)
        .order_by(week, w.department, d.direction)
    )
    df = frame(engine, stmt, ["week", "department", "direction", "messages"])
    df["week"] = pd.to_datetime(df["week"]).dt.date
    df["messages"] = df["messages"].astype(int)
    return df


def category_flows(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    days: int = 90,
    today: date | None = None,
) -> pd.DataFrame:
    """Messages from category to category (source, target, messages, use_cases): the Sankey's
    links. ``use_cases`` names the seed's use cases the flow belongs to (" ; " between them,
    "" when none): ``balise.referentials.use_cases``.

    Received messages flow counterpart -> watched mailbox, sent ones the other way."""
    import pandas as pd

    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    stmt = (
        select(d.mailbox_id, d.direction, d.counterpart_category, func.sum(d.messages))
        .join(w, w.id == d.mailbox_id)
        .where(in_departments(w.department, departments), d.day >= _since(today, days))
        .group_by(d.mailbox_id, d.direction, d.counterpart_category)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        own = own_categories(conn, {r[0] for r in rows})
    # Summed by category code first: use cases are stated in codes, several codes share a label.
    by_code: dict[tuple[str, str], int] = defaultdict(int)
    for mailbox_id, direction, other, n in rows:
        mine, theirs = own[mailbox_id] or "", other or ""
        by_code[(theirs, mine) if direction == "in" else (mine, theirs)] += int(n)
    flows: dict[tuple[str, str], int] = defaultdict(int)
    cases: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, target), n in by_code.items():
        key = (category_label(source), category_label(target))
        flows[key] += n
        for title in flow_use_cases(source, target):
            if title not in cases[key]:
                cases[key].append(title)
    data = sorted(
        ((s, t, n, " ; ".join(cases[(s, t)])) for (s, t), n in flows.items()),
        key=lambda r: (-r[2], r[0], r[1]),
    )
    return pd.DataFrame(data, columns=["source", "target", "messages", "use_cases"])


def silent_mailboxes(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, today: date | None = None
) -> pd.DataFrame:
    """Watched mailboxes with no message in the last 30 days, with their structure: whom to call."""
    departments = readable_departments(actor, departments)
    w = WatchedMailbox
    cutoff = datetime.combine(_since(today, ACTIVE_DAYS), datetime.min.time())
    stmt = (
        select(
            w.address, w.department,
            func.coalesce(Establishment.name, Mailbox.structure_name, literal("")).label("structure"),
            func.coalesce(Establishment.category_code, literal("")).label("category_code"),
            w.last_activity_at,
        )
        .select_from(w)
        .outerjoin(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
        .outerjoin(Establishment, links_to_establishment())
        .where(
            in_departments(w.department, departments),
            (w.last_activity_at.is_(None)) | (w.last_activity_at < cutoff),
        )
        .order_by(w.department, w.address)
    )  # fmt: skip
    df = frame(
        engine, stmt, ["address", "department", "structure", "category_code", "last_activity_at"]
    )
    return df.drop_duplicates("address").reset_index(drop=True)


def poll_status(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Last poll of each watched mailbox: when, whether it worked, and the French message."""
    df = watched(engine, actor, departments)
    cols = ["address", "department", "last_poll_at", "last_poll_ok", "last_poll_message",
            "last_activity_at"]  # fmt: skip
    return df[cols]


def change_marker(engine: Engine) -> str:
    """Changes when a mailbox is added, removed or polled: the cache key of the Activité page."""
    w = WatchedMailbox
    with engine.connect() as conn:
        n, last = conn.execute(select(func.count(w.id), func.max(w.last_poll_at))).one()
    return f"{n}:{last}"
