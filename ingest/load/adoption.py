"""The adoption figures frozen at a snapshot: per department and médico-social category, the
establishments, the equipped ones and the linked mailboxes of each BAL type (``AdoptionStat``).
Written after each directory ingest, rewritten for the latest directory snapshot after a FINESS
ingest changed the establishments."""

from __future__ import annotations

from sqlalchemy import Connection, Subquery, and_, case, delete, func, insert, literal, select

from balise.models import AdoptionStat, Establishment, Mailbox
from balise.referentials.bal_types import BAL_TYPES, TYPE_COLUMNS
from balise.services.links import is_equipped, links_to_establishment, valid_at


def freeze_adoption(
    conn: Connection, snapshot_id: int, departments: tuple[str, ...] | None, replace: bool = False
) -> None:
    """Write the adoption figures of the médico-social establishments of ``departments`` (None:
    all) at ``snapshot_id``: the departments the directory covers by then, so that each
    snapshot holds every department's state, a department outside the import with its last
    imported one (its mailbox versions are still valid at ``snapshot_id``).

    "Equipped" is the one definition of ``balise.services.links``. A mailbox counts once per
    department and category, even when it equips several establishments there through their
    legal entity (EJ). With ``replace``, the figures of that snapshot are recomputed (after a
    FINESS ingest changed the establishments).
    """
    if replace:
        conn.execute(delete(AdoptionStat).where(AdoptionStat.snapshot_id == snapshot_id))
    e = Establishment
    in_scope = [e.is_medico_social] + ([e.department.in_(departments)] if departments else [])
    structures = _structures_at(snapshot_id, in_scope)
    boxes = _mailboxes_by_type_at(snapshot_id, in_scope)
    rows = select(
        literal(snapshot_id),
        structures.c.department,
        structures.c.category_code,
        structures.c.structures,
        structures.c.equipped,
        *(func.coalesce(boxes.c[t.lower()], 0) for t in BAL_TYPES),
    ).outerjoin(
        boxes,
        and_(
            boxes.c.department == structures.c.department,
            boxes.c.category_code == structures.c.category_code,
        ),
    )
    columns = ["snapshot_id", "department", "category_code", "structures", "equipped"]
    columns += TYPE_COLUMNS
    conn.execute(insert(AdoptionStat).from_select(columns, rows))


def _structures_at(snapshot_id: int, in_scope: list) -> Subquery:
    """Establishments and equipped establishments per department and category."""
    e = Establishment
    return (
        select(
            e.department,
            e.category_code,
            func.count().label("structures"),
            func.sum(case((is_equipped(snapshot_id), 1), else_=0)).label("equipped"),
        )
        .where(*in_scope)
        .group_by(e.department, e.category_code)
        .subquery()
    )


def _mailboxes_by_type_at(snapshot_id: int, in_scope: list) -> Subquery:
    """Distinct linked mailboxes per department and category, one column per BAL type."""
    e = Establishment
    linked = (
        select(e.department, e.category_code, Mailbox.id, Mailbox.bal_type)
        .distinct()
        .join(Mailbox, and_(links_to_establishment(), valid_at(snapshot_id)))
        .where(*in_scope)
        .subquery()
    )
    by_type = [
        func.sum(case((linked.c.bal_type == t, 1), else_=0)).label(t.lower()) for t in BAL_TYPES
    ]
    return (
        select(linked.c.department, linked.c.category_code, *by_type)
        .group_by(linked.c.department, linked.c.category_code)
        .subquery()
    )
