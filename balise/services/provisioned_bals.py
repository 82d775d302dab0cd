"""What the Provisionner and Tester pages read about the provisioned BALs: the list, the counts
per department and status, one structure's BALs (directory and provisioned), and the pages'
cache key. No secret column is ever read.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from balise.models import BalTest, ProvisionedBal
from balise.services.access import Actor, readable_departments
from balise.services.structures import establishment_mailboxes


def bals_frame(
    engine: Engine, actor: Actor, departments: list[str] | None = None, status: str | None = None
) -> pd.DataFrame:
    """Provisioned BALs the actor may read (no secret column)."""
    allowed = readable_departments(actor, departments)
    query = select(
        ProvisionedBal.address.label("adresse"),
        ProvisionedBal.bal_type.label("type"),
        ProvisionedBal.department.label("departement"),
        ProvisionedBal.finess,
        ProvisionedBal.status.label("statut"),
        ProvisionedBal.backend.label("moteur"),
        ProvisionedBal.auth_mode.label("authentification"),
        ProvisionedBal.updated_at.label("mis_a_jour"),
    ).order_by(ProvisionedBal.department, ProvisionedBal.address)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    if status:
        query = query.where(ProvisionedBal.status == status)
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys())
        )


def status_counts(
    engine: Engine, actor: Actor, departments: list[str] | None = None
) -> pd.DataFrame:
    """BALs per department and status (SQL GROUP BY)."""
    allowed = readable_departments(actor, departments)
    query = select(
        ProvisionedBal.department.label("departement"),
        ProvisionedBal.status.label("statut"),
        func.count().label("bal"),
    ).group_by(ProvisionedBal.department, ProvisionedBal.status)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys())
        )
    return frame.sort_values(["departement", "statut"]).reset_index(drop=True)


STRUCTURE_BAL_COLUMNS = ["adresse", "type", "annuaire", "statut"]


def structure_bals(engine: Engine, actor: Actor, finess_et: str) -> pd.DataFrame:
    """One structure's BALs, one line per address: those the current directory links to it
    (``annuaire`` True) and those provisioned with its FINESS (``statut``: their status, None
    for a directory-only BAL). NotFoundError / PermissionDenied as for its identity."""
    directory = establishment_mailboxes(engine, actor, finess_et)
    query = select(ProvisionedBal.address, ProvisionedBal.bal_type, ProvisionedBal.status).where(
        ProvisionedBal.finess == finess_et
    )
    with engine.connect() as conn:
        provisioned = conn.execute(query).all()
    lines = {r.address: [r.address, r.bal_type, True, None] for r in directory.itertuples()}
    for address, bal_type, status in provisioned:
        lines.setdefault(address, [address, bal_type, False, None])[3] = status
    out = pd.DataFrame(list(lines.values()), columns=STRUCTURE_BAL_COLUMNS)
    return out.sort_values(["type", "adresse"]).reset_index(drop=True)


def change_marker(engine: Engine) -> str:
    """Changes whenever a BAL or a test is added or moves (cache key for the pages)."""
    with engine.connect() as conn:
        bals = conn.execute(select(func.count(), func.max(ProvisionedBal.updated_at))).one()
        tests = conn.scalar(select(func.count()).select_from(BalTest))
    return f"{bals[0]}:{bals[1]}:{tests}"
