"""Usage beside its peers: messages per month on each watched mailbox, compared with the median
of the watched mailboxes of the same category and with the national order of magnitude
(``data/usage_national.toml``: the ANS's published totals, ≈ 35 messages per BAL per month).

The peers are the watched mailboxes of every department the actor may read (not only the
selection, so that one department alone still has peers); a mailbox's category is the one the
Activité page gives it (``activity.own_categories``: its directory line, else its domain).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from balise.config import DEFAULT_DATA_DIR
from balise.errors import ConfigurationError
from balise.models import DailyActivity, WatchedMailbox
from balise.services.access import Actor, readable_departments
from balise.services.activity import own_categories
from balise.services.adoption import frame, in_departments

NATIONAL_FILE = DEFAULT_DATA_DIR / "usage_national.toml"
WINDOW_DAYS = 90
MONTHS_IN_WINDOW = 3
PEER_COLUMNS = ["address", "department", "category_code", "messages_per_month", "peer_median",
                "peers", "national"]  # fmt: skip


@dataclass(frozen=True)
class NationalUsage:
    messages: int
    mailboxes: int
    month: str
    source: str

    @property
    def per_mailbox(self) -> float:
        return self.messages / self.mailboxes


def national_usage(path: Path = NATIONAL_FILE) -> NationalUsage:
    try:
        usage = tomllib.loads(path.read_text(encoding="utf-8"))["usage"]
        return NationalUsage(int(usage["messages_par_mois"]), int(usage["bal"]),
                             str(usage["mois"]), str(usage["source"]))  # fmt: skip
    except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"Le repère national {path} est illisible ou incomplet (section [usage] : "
            f"messages_par_mois, bal, mois, source) : {exc}."
        ) from exc


def peer_usage(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    today: date | None = None,
    national_file: Path = NATIONAL_FILE,
) -> pd.DataFrame:
    """One row per watched mailbox of the selection (``PEER_COLUMNS``): messages per month over
    the last 90 days, the median of its category's watched mailboxes and how many they are,
    the national messages per BAL per month."""
    departments = readable_departments(actor, departments)
    peers_scope = readable_departments(actor, None)
    national = national_usage(national_file)
    w, d = WatchedMailbox, DailyActivity
    since = (today or date.today()) - timedelta(days=WINDOW_DAYS - 1)
    sent_or_received = (
        select(d.mailbox_id, func.sum(d.messages).label("messages"))
        .where(d.day >= since)
        .group_by(d.mailbox_id)
        .subquery()
    )
    stmt = (
        select(w.id, w.address, w.department, func.coalesce(sent_or_received.c.messages, 0))
        .outerjoin(sent_or_received, sent_or_received.c.mailbox_id == w.id)
        .where(in_departments(w.department, peers_scope))
        .order_by(w.department, w.address)
    )
    df = frame(engine, stmt, ["id", "address", "department", "messages"])
    with engine.connect() as conn:
        categories = own_categories(conn, df["id"].tolist()) if len(df) else {}
    df["category_code"] = df["id"].map(categories).fillna("")
    df["messages_per_month"] = df["messages"].astype(float) / MONTHS_IN_WINDOW
    by_category = df.groupby("category_code")["messages_per_month"]
    df["peer_median"] = by_category.transform("median")
    df["peers"] = by_category.transform("size").astype(int)
    df["national"] = national.per_mailbox
    mine = df if departments is None else df[df["department"].isin(departments)]
    return mine[PEER_COLUMNS].reset_index(drop=True)


def months_back(today: date, months: int) -> date:
    """The first day of the month ``months - 1`` months before ``today``'s (``months`` calendar
    months, the current one included)."""
    year, month = divmod(today.year * 12 + today.month - 1 - (months - 1), 12)
    return date(year, month + 1, 1)


def monthly_messages(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    months: int = 6,
    today: date | None = None,
) -> pd.DataFrame:
    """Messages (sent and received) per calendar month of each watched mailbox of the
    selection over the last ``months`` months, the current one (partial) included: (address,
    month, messages), ``month`` its first day; months without a message are absent."""
    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    since = months_back(today or date.today(), months)
    stmt = (
        select(w.address, d.day, func.sum(d.messages))
        .join(w, w.id == d.mailbox_id)
        .where(in_departments(w.department, departments), d.day >= since)
        .group_by(w.address, d.day)
    )
    days = frame(engine, stmt, ["address", "day", "messages"])
    days["month"] = [day.replace(day=1) for day in pd.to_datetime(days["day"]).dt.date]
    by_month = days.groupby(["address", "month"], as_index=False)["messages"].sum()
    by_month["messages"] = by_month["messages"].astype(int)
    return by_month[["address", "month", "messages"]]
