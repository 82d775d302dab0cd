"""Counterpart categories: the FINESS category of the structures a watched mailbox exchanges
with, used by the poll (counterpart domains) and by the Activité page (each watched mailbox's own
category).

The heuristic: a counterpart domain is resolved through the directory: among the *current*
directory mailboxes of that domain that link to a FINESS establishment, the category linking a
strict majority of them wins; a shared operator domain with no majority category (e.g. a
national domain used by every kind of structure) resolves to "" (unknown) rather than to a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, distinct, func, select

from balise.models import Establishment, Mailbox, WatchedMailbox
from balise.services.links import links_to_establishment


def _domain_of(conn: Connection, column):
    if conn.dialect.name == "postgresql":
        return func.split_part(column, "@", 2)
    return func.substr(column, func.instr(column, "@") + 1)


def domain_categories(conn: Connection, domains: Iterable[str] | None = None) -> dict[str, str]:
    """Counterpart domain -> FINESS category code by strict majority (module docstring)."""
    dom = _domain_of(conn, Mailbox.address).label("domain")
    stmt = (
        select(dom, Establishment.category_code, func.count(distinct(Mailbox.id)))
        .join(Establishment, links_to_establishment())
        .where(Mailbox.valid_to.is_(None))
        .group_by(dom, Establishment.category_code)
    )
    if domains is not None:
        stmt = stmt.where(dom.in_(sorted(set(domains))))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for domain, category, n in conn.execute(stmt):
        counts[domain][category] = n
    resolved = {}
    for domain, by_cat in counts.items():
        category, best = max(by_cat.items(), key=lambda kv: kv[1])
        if 2 * best > sum(by_cat.values()):
            resolved[domain] = category
    return resolved


def own_categories(conn: Connection, mailbox_ids: Iterable[int]) -> dict[int, str]:
    """Watched mailbox id -> its own category: its directory line first, else its domain."""
    w = WatchedMailbox
    rows = conn.execute(
        select(w.id, w.address, Establishment.category_code)
        .select_from(w)
        .outerjoin(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
        .outerjoin(Establishment, links_to_establishment())
        .where(w.id.in_(list(mailbox_ids)))
    ).all()
    exact = {r.id: r.category_code for r in rows if r.category_code}
    by_domain = domain_categories(conn, {r.address.rpartition("@")[2] for r in rows})
    return {r.id: exact.get(r.id) or by_domain.get(r.address.rpartition("@")[2], "") for r in rows}
