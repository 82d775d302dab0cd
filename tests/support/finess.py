"""One FINESS establishment in the store, for the BALs that name their structure (a BAL's
FINESS must exist in the imported FINESS and belong to the BAL's department)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, insert, select

from balise.models import Establishment, Snapshot

AIN_EHPAD = "010001246"  # a valid Luhn key, department 01


def seed_establishment(
    engine: Engine,
    finess_et: str = AIN_EHPAD,
    department: str = "01",
    name: str = "EHPAD Les Lilas",
    city: str = "BOURG-EN-BRESSE",
    finess_ej: str | None = None,
) -> None:
    with engine.begin() as conn:
        # Any snapshot will do as its origin; a new one only in an empty store (seeds that
        # insert their own ids leave PostgreSQL's id sequence behind).
        snap = conn.scalar(select(func.max(Snapshot.id))) or conn.execute(
            insert(Snapshot).values(
                source="finess", file_name=f"finess-{finess_et}", sha256="0" * 64,
                ingested_at=datetime(2026, 1, 1), departments=department,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(Establishment).values(
                finess_et=finess_et, finess_ej=finess_ej, name=name, city=city,
                department=department, category_code="500", is_medico_social=True,
                snapshot_id=snap,
            )
        )  # fmt: skip
