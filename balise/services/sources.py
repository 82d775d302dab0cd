"""Source health. For each published source (the MSSanté directory, FINESS): its URL, its last
check and what came of it, when its content last changed, the date its file carries and its
latest snapshot; and the problems to tell (``balise sources``, the Vue régionale banner):

- the last attempt failed (unreachable, refused, a file the readers refuse…);
- nothing changed for ``BALISE_SOURCE_STALE_DAYS`` days (a publication gap, a worker that no
  longer runs, a mirror that stopped being refreshed);
- a configured source never imported.

"Last change" is the latest of: the last check that brought a new file, the latest snapshot of
the source (an import by hand counts). This module also writes ``source_checks``: the refresh
(``ingest.refresh``) records each attempt here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, func, insert, select, update

from balise.clock import utc_now
from balise.config import Settings
from balise.formatting import fr_date, fr_datetime, fr_int
from balise.models.tables import snapshots, source_checks
from balise.referentials.lifecycles import DataSource

OUTCOMES = {"imported": "nouveau fichier importé", "unchanged": "inchangé", "failed": "échec"}


@dataclass(frozen=True)
class SourceHealth:
    source: str
    label: str
    url: str
    checked_at: datetime | None = None
    outcome: str | None = None
    message: str | None = None
    changed_at: datetime | None = None
    file_date: datetime | None = None
    snapshot_id: int | None = None
    snapshot_date: datetime | None = None
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


# ----- reading --------------------------------------------------------------------------------


def health(engine: Engine, settings: Settings, now: datetime | None = None) -> list[SourceHealth]:
    """Every source, in a fixed order (directory, FINESS), with its problems at ``now``."""
    now = now or utc_now()
    with engine.connect() as conn:
        checks = {c.source: c for c in conn.execute(select(source_checks))}
        latest = _latest_snapshots(conn)
    return [
        _health(source, settings, checks.get(source), latest.get(source), now)
        for source in DataSource
    ]


def problems(engine: Engine, settings: Settings, now: datetime | None = None) -> list[str]:
    """Every problem of every source, one French sentence each."""
    return [p for h in health(engine, settings, now) for p in h.problems]


def _latest_snapshots(conn) -> dict[str, tuple]:
    """source -> (id, ingested_at, generated_at, data date) of its latest snapshot."""
    newest = select(func.max(snapshots.c.id)).group_by(snapshots.c.source).scalar_subquery()
    rows = conn.execute(
        select(
            snapshots.c.source, snapshots.c.id, snapshots.c.ingested_at, snapshots.c.generated_at
        ).where(snapshots.c.id.in_(newest))
    ).all()
    return {
        s: (i, ingested, generated, generated or ingested) for s, i, ingested, generated in rows
    }


def _health(
    source: str, settings: Settings, check: Row | None, latest: tuple | None, now: datetime
) -> SourceHealth:
    snapshot_id, ingested_at, generated_at, snapshot_date = latest or (None, None, None, None)
    changes = [d for d in (check and check.changed_at, ingested_at) if d is not None]
    found = SourceHealth(
        source=source,
        label=DataSource(source).label,
        url=settings.source_url(source),
        checked_at=check.checked_at if check else None,
        outcome=check.outcome if check else None,
        message=check.message if check else None,
        changed_at=max(changes) if changes else None,
        file_date=_file_date(check, snapshot_id, generated_at),
        snapshot_id=snapshot_id,
        snapshot_date=snapshot_date,
    )
    return SourceHealth(**{**asdict(found), "problems": _problems(found, settings, now)})


def _file_date(check: Row | None, snapshot_id: int | None, generated_at: datetime | None):
    """The date the latest snapshot's file carries: the last check's when it brought that
    snapshot, else the snapshot's own (a file imported by hand since)."""
    if check is not None and check.file_date and check.snapshot_id == snapshot_id:
        return check.file_date
    return generated_at


def _problems(h: SourceHealth, settings: Settings, now: datetime) -> tuple[str, ...]:
    found = []
    if h.outcome == "failed":
        found.append(
            f"{h.label} : la dernière vérification ({fr_datetime(h.checked_at)}) a échoué : "
            f"{(h.message or 'raison inconnue').rstrip('.')}."
        )
    days = settings.source_stale_days
    if h.changed_at is None and h.url:
        found.append(
            f"{h.label} : jamais importé ; lancez « balise ingest {h.source} » (source : {h.url})."
        )
    elif h.changed_at is not None and now - h.changed_at >= timedelta(days=days):
        found.append(
            f"{h.label} : aucun changement depuis {fr_int((now - h.changed_at).days)} jours "
            f"(dernier le {fr_date(h.changed_at)} ; seuil de {fr_int(days)} jours, "
            "réglage BALISE_SOURCE_STALE_DAYS)."
        )
    return tuple(found)


# ----- writing (the refresh's record of each attempt) ------------------------------------------


def last_check(engine: Engine, source: str) -> Row | None:
    """The ``source_checks`` row of ``source`` (columns as attributes), or None."""
    with engine.connect() as conn:
        stmt = select(source_checks).where(source_checks.c.source == source)
        return conn.execute(stmt).first()


def record_check(engine: Engine, source: str, url: str, **values) -> None:
    """Write what one attempt learnt about ``source`` (only the given columns change)."""
    values = {"url": url, **values}
    with engine.begin() as conn:
        where = source_checks.c.source == source
        if conn.execute(select(source_checks.c.source).where(where)).first():
            conn.execute(update(source_checks).where(where).values(**values))
        else:
            conn.execute(insert(source_checks).values(source=source, **values))


def snapshot_covers(
    engine: Engine, snapshot_id: int | None, departments: tuple[str, ...] | None
) -> bool:
    """Whether the snapshot exists and imported every one of ``departments`` (None = all)."""
    if snapshot_id is None:
        return False
    with engine.connect() as conn:
        scope = conn.scalar(select(snapshots.c.departments).where(snapshots.c.id == snapshot_id))
    if scope == "*":
        return True
    return (
        scope is not None and departments is not None and set(departments) <= set(scope.split(","))
    )


def snapshot_date(engine: Engine, snapshot_id: int) -> datetime | None:
    """The date a snapshot's file carries (None when it carries none)."""
    with engine.connect() as conn:
        return conn.scalar(select(snapshots.c.generated_at).where(snapshots.c.id == snapshot_id))


def outcome_label(outcome: str | None) -> str:
    return OUTCOMES.get(outcome or "", "jamais vérifiée")
