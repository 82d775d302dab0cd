"""The adoption figures frozen at a snapshot: per department and médico-social category, the
establishments, the equipped ones and the linked mailboxes of each BAL type (``AdoptionStat``).
Written after each directory ingest, rewritten for the latest directory snapshot after a FINESS
ingest changed the establishments."""

from __future__ import annotations

from sqlalchemy import Connection, and_, case, delete, distinct, func, insert, literal, select

from balise.models import AdoptionStat, Establishment, Mailbox
from balise.referentials.bal_types import BAL_TYPES, TYPE_COLUMNS
from balise.services.links import links_to_establishment, valid_at


def freeze_adoption(
    conn: Connection, snapshot_id: int, departments: tuple[str, ...] | None, replace: bool = False
) -> None:
    """Write the adoption figures of the médico-social establishments of ``departments`` (None:
    all) at ``snapshot_id``: the departments the directory covers by then, so that each
    snapshot holds every department's state, a department outside the import with its last
    imported one (its mailbox versions are still valid at ``snapshot_id``).

    "Equipped" is the one definition of ``balise.services.links`` (a linked mailbox version
    valid at the snapshot). A mailbox counts once per department and category, even when it
    equips several establishments there through their legal entity (EJ). One pass joins each
    establishment to its linked mailboxes and counts distinct establishments, equipped ones and
    mailboxes per type (two passes, an EXISTS then a DISTINCT join, read the mailboxes twice:
    0.19 s against 0.14 s on the national files). With ``replace``, the figures of that
    snapshot are recomputed (after a FINESS ingest changed the establishments).
    """
    if replace:
        conn.execute(delete(AdoptionStat).where(AdoptionStat.snapshot_id == snapshot_id))
    e, m = Establishment, Mailbox
    in_scope = [e.is_medico_social] + ([e.department.in_(departments)] if departments else [])
    rows = (
        select(
            literal(snapshot_id),
            e.department,
            e.category_code,
            func.count(distinct(e.finess_et)),
            func.count(distinct(case((m.id.is_not(None), e.finess_et)))),
            *(func.count(distinct(case((m.bal_type == t, m.id)))) for t in BAL_TYPES),
        )
        .outerjoin(m, and_(links_to_establishment(), valid_at(snapshot_id)))
        .where(*in_scope)
        .group_by(e.department, e.category_code)
    )
    columns = ["snapshot_id", "department", "category_code", "structures", "equipped"]
    columns += TYPE_COLUMNS
    conn.execute(insert(AdoptionStat).from_select(columns, rows))
