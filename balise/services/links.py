"""How directory mailboxes attach to FINESS establishments: the one definition of "equipped".

A mailbox version carries the structure id of its directory line and ``link_kind``: "ET" when that
id is a FINESS establishment number, "EJ" when it is a legal entity number (then it equips every
establishment of that entity), NULL when it matches no FINESS number. An establishment is
*equipped at snapshot S* when a mailbox version valid at S links to it.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from balise.models.tables import establishments, mailboxes
from balise.referentials.lifecycles import LinkKind


def valid_at(snapshot_id: int | None) -> ColumnElement[bool]:
    """Mailbox versions present in the directory at ``snapshot_id`` (None: the current ones).

    Snapshot ids grow with time, and each version is valid on [valid_from, valid_to)."""
    if snapshot_id is None:
        return mailboxes.c.valid_to.is_(None)
    return and_(
        mailboxes.c.valid_from <= snapshot_id,
        or_(mailboxes.c.valid_to.is_(None), mailboxes.c.valid_to > snapshot_id),
    )


def links_to_establishment() -> ColumnElement[bool]:
    """A mailbox row that links to the ``establishments`` row of the enclosing query."""
    return or_(
        and_(
            mailboxes.c.link_kind == LinkKind.ET,
            mailboxes.c.structure_id == establishments.c.finess_et,
        ),
        and_(
            mailboxes.c.link_kind == LinkKind.EJ,
            mailboxes.c.structure_id == establishments.c.finess_ej,
        ),
    )


def is_equipped(snapshot_id: int | None = None) -> ColumnElement[bool]:
    """EXISTS clause: the establishment of the enclosing query is equipped at ``snapshot_id``."""
    return exists(select(mailboxes.c.id).where(links_to_establishment(), valid_at(snapshot_id)))
