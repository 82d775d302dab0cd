"""The only writer of ingested data: one snapshot per ingest, in the caller's one transaction.

Directory ingest: stage the rows (Arrow batches from the reader, written by ADBC into a scratch
SQLite file, see ``staging``), keep the first line of each address, then diff set-wise against the
current mailbox versions: close removed and changed versions, open created and changed ones, link
new versions to FINESS, freeze the adoption figures of the snapshot. FINESS ingest: replace the
establishments of the selected departments, relink current mailboxes, refresh the latest figures.
Every statement is plain SQL that runs the same on SQLite and PostgreSQL.

An import of some departments only closes versions of those departments: the others keep their
current versions, hence their last imported state, and the figures frozen at the new snapshot
cover every department the directory covers (``balise.services.snapshots``). What an import would
close in each department is counted (``LoadResult.drops``) for the deletion gate (``ingest.gate``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Connection,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from balise.models import AdoptionStat, Establishment, Mailbox, Snapshot
from balise.referentials.bal_types import BAL_TYPES, TYPE_COLUMNS
from balise.referentials.categories import medico_social_codes
from balise.referentials.lifecycles import DataSource, LinkKind
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.snapshots import covered_departments
from ingest import load_finess_plus as finess_plus
from ingest import load_points
from ingest.sources.rows import Chunk, ReadStats, Rejected
from ingest.staging import (
    index_stage,
    insert_batches,
    insert_batches_finding_repeats,
    stage_batches,
)

MAX_EXAMPLES = 50

MAILBOX_COLUMNS = [
    ("address", "VARCHAR(255)"),
    ("bal_type", "VARCHAR(3)"),
    ("department", "VARCHAR(3)"),
    ("structure_id_type", "VARCHAR(2)"),
    ("structure_id", "VARCHAR(20)"),
    ("service", "VARCHAR(255)"),
    ("profession_code", "VARCHAR(8)"),
    ("structure_name", "VARCHAR(255)"),
    ("postcode", "VARCHAR(10)"),
    ("dematerialisation", "VARCHAR(1)"),
]
# Attributes whose change makes a new version (everything the file says about a mailbox).
VERSIONED = [c for c, _ in MAILBOX_COLUMNS if c != "address"]

ESTABLISHMENT_COLUMNS = [
    ("finess_et", "VARCHAR(9)"),
    ("finess_ej", "VARCHAR(9)"),
    ("name", "VARCHAR(255)"),
    ("long_name", "VARCHAR(255)"),
    ("address", "VARCHAR(255)"),
    ("postcode", "VARCHAR(10)"),
    ("city", "VARCHAR(128)"),
    ("commune_code", "VARCHAR(5)"),
    ("department", "VARCHAR(3)"),
    ("category_code", "VARCHAR(4)"),
    ("category_label", "VARCHAR(255)"),
    ("siret", "VARCHAR(14)"),
    ("opened_on", "DATE"),
    ("luhn_ok", "BOOLEAN"),
    ("latitude", "FLOAT"),  # FiNESS+ (the etalab CSV's points are set after: load_points)
    ("longitude", "FLOAT"),
    ("ege_id", "VARCHAR(20)"),
]


@dataclass
class RejectLog:
    """Bad rows: counted by reason, the first ones kept with their line numbers."""

    reasons: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, rejected: Rejected) -> None:
        self.reasons[rejected.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((rejected.line, rejected.reason))

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def to_json(self) -> str:
        return json.dumps(
            {"reasons": dict(self.reasons), "examples": self.examples}, ensure_ascii=False
        )


@dataclass
class SnapshotMeta:
    source: DataSource
    file_name: str
    sha256: str
    departments: tuple[str, ...] | None  # None = every department
    is_demo: bool = False


@dataclass(frozen=True)
class Drop:
    """What an import closes in one department: ``closing`` of its ``current`` mailboxes (or
    establishments, for FINESS) are no longer in the file."""

    department: str
    current: int
    closing: int


@dataclass
class LoadResult:
    snapshot_id: int
    offered: int = 0
    kept: int = 0
    created: int = 0
    removed: int = 0
    changed: int = 0
    rejects: RejectLog = field(default_factory=RejectLog)
    drops: list[Drop] = field(default_factory=list)  # departments where something closes

    @property
    def duplicates(self) -> int:
        return self.offered - self.kept


def scope_label(departments: tuple[str, ...] | None) -> str:
    return "*" if departments is None else ",".join(departments)


def find_same_snapshot(conn: Connection, meta: SnapshotMeta) -> int | None:
    """The snapshot that already ingested this exact file for this selection, if any."""
    return conn.execute(
        select(Snapshot.id).where(
            Snapshot.source == meta.source,
            Snapshot.sha256 == meta.sha256,
            Snapshot.departments == scope_label(meta.departments),
        )
    ).scalar()


def open_snapshot(conn: Connection, meta: SnapshotMeta) -> int:
    now = datetime.now(UTC).replace(tzinfo=None)
    return conn.execute(
        insert(Snapshot)
        .values(
            source=meta.source,
            file_name=meta.file_name,
            sha256=meta.sha256,
            ingested_at=now,
            departments=scope_label(meta.departments),
            is_demo=meta.is_demo,
        )
        .returning(Snapshot.id)
    ).scalar_one()


def close_snapshot(conn: Connection, result: LoadResult, stats: ReadStats, duration: float) -> None:
    conn.execute(
        update(Snapshot)
        .where(Snapshot.id == result.snapshot_id)
        .values(
            generated_at=stats.generated_at,
            encoding=stats.encoding,
            rows_read=stats.lines,
            rows_kept=result.kept,
            rows_rejected=result.rejects.total,
            duplicates=result.duplicates,
            created=result.created,
            removed=result.removed,
            changed=result.changed,
            rejects=result.rejects.to_json(),
            duration_s=round(duration, 3),
        )
    )


def _scope_sql(departments: tuple[str, ...] | None, column: str) -> tuple[str, dict]:
    if departments is None:
        return "1=1", {}
    names = [f"d{i}" for i in range(len(departments))]
    return (
        f"{column} IN ({', '.join(':' + n for n in names)})",
        dict(zip(names, departments, strict=True)),
    )


def load_directory(conn: Connection, meta: SnapshotMeta, chunks: Iterable[Chunk]) -> LoadResult:
    """Version the directory rows as snapshot ``meta`` (inside the caller's transaction)."""
    result = LoadResult(snapshot_id=open_snapshot(conn, meta))
    versions = _new_versions(result, chunks, finess_numbers(conn))
    has_current = conn.exec_driver_sql(
        "SELECT 1 FROM mailboxes WHERE valid_to IS NULL LIMIT 1"
    ).first()
    if has_current:
        stage = _stage(conn, result, versions)
        _diff_mailboxes(conn, result, meta.departments, stage)
    else:
        # Nothing to diff against: every row is a new version, written straight into
        # ``mailboxes`` whose indexes are built once at the end (maintaining them row by row
        # costs about three times as much). Ids follow the file's order, so the first line of
        # a repeated address is the one with the smallest id.
        with indexes_dropped(conn, Mailbox.__table__):
            batches = (b.drop_columns("line") for b in versions)
            written, repeats = insert_batches_finding_repeats(conn, "mailboxes", batches, "address")
        dropped = _drop_repeats(conn, "mailboxes", "id", current_only=True, among=repeats)
        result.kept = written - dropped
        result.created = result.kept
    _refresh_statistics(conn, "mailboxes")
    freeze_adoption(conn, result.snapshot_id, covered_departments(conn, result.snapshot_id))
    return result


def _refresh_statistics(conn: Connection, table: str) -> None:
    """PostgreSQL: after a bulk load, the planner's statistics must be refreshed at once (not
    when autovacuum gets to it): with the estimates of an empty table, the equipped-structure
    queries pick nested loops over sequential scans and take minutes at national scale."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {table}")


# A new version as staged or inserted: the file's columns, then what the writer derives.
VERSION_COLUMNS = [c for c, _ in MAILBOX_COLUMNS] + ["link_kind", "first_seen", "valid_from"]


def _new_versions(
    result: LoadResult, chunks: Iterable[Chunk], numbers: FinessNumbers
) -> Iterator[pa.RecordBatch]:
    """Every accepted row as a new version (``line`` + ``VERSION_COLUMNS``), linked to FINESS
    (``numbers``); rejected rows go to the reject log. Repeated addresses are removed once written
    (``_drop_repeats``): a set of 536k addresses here would cost more memory than the rest."""
    for chunk in chunks:
        for rejected in chunk.rejected:
            result.rejects.add(rejected)
        rows = chunk.rows
        result.offered += rows.num_rows
        repeat = pa.array(np.full(rows.num_rows, result.snapshot_id, dtype=np.int64))
        arrays = [rows.column("line")] + [rows.column(c) for c, _ in MAILBOX_COLUMNS]
        arrays += [numbers.link_kinds(rows.column("structure_id")), repeat, repeat]
        yield pa.RecordBatch.from_arrays(arrays, names=["line", *VERSION_COLUMNS])


def _drop_repeats(
    conn: Connection,
    table: str,
    order: str,
    current_only: bool = False,
    among: Future | None = None,
) -> int:
    """Delete the later rows of each address repeated in ``table`` (current versions only, with
    ``current_only``), keeping the smallest ``order``; returns how many went. ``among``: the
    repeated addresses, when already found (else SQL groups the addresses on their index)."""
    where = "{t}.valid_to IS NULL AND " if current_only else ""
    mine, other = where.format(t=table), where.format(t="o")
    if among is None:
        repeated = (
            f"(SELECT address FROM {table} WHERE {mine}1 = 1 GROUP BY address HAVING count(*) > 1)"
        )
        params: dict = {}
    else:
        addresses = among.result()
        if not addresses:
            return 0
        repeated, params = ":addresses", {"addresses": addresses}  # expanding: renders (...)
    sql = text(
        f"DELETE FROM {table} WHERE {mine}address IN {repeated} AND {order} > "
        f"(SELECT min(o.{order}) FROM {table} o WHERE {other}o.address = {table}.address)"
    )
    if among is not None:
        sql = sql.bindparams(bindparam("addresses", expanding=True))
    return conn.execute(sql, params).rowcount


@contextmanager
def indexes_dropped(conn: Connection, table: Table) -> Iterator[None]:
    """SQLite: the indexes of ``table`` dropped for a bulk load into it, built once at the end.
    Not on PostgreSQL: DROP INDEX holds an ACCESS EXCLUSIVE lock until commit, so every reader
    of the table (the dashboard) would wait for the whole ingest (24 s on the national demo,
    measured), whereas keeping the indexes costs the load a few per cent."""
    if conn.dialect.name != "sqlite":
        yield
        return
    for index in table.indexes:
        index.drop(conn)
    yield
    for index in table.indexes:
        index.create(conn)


class FinessNumbers:
    """The FINESS numbers a structure id can match: establishments (ET) and legal entities (EJ).
    Kept as sorted integers (4 bits per character of ``[0-9][0-9AB][0-9]{7}``): looking a batch's
    ids up is a binary search in C, and 100k numbers weigh 1 MB (a dict of them, 20 MB)."""

    def __init__(self, et: str, ej: str):
        """``et`` and ``ej``: the numbers concatenated (9 characters each)."""
        self.et = np.sort(_finess_keys(_nine_bytes(et)))
        self.ej = np.sort(_finess_keys(_nine_bytes(ej)))

    def link_kinds(self, structure_ids: pa.Array) -> pa.Array:
        """``LinkKind`` code or null for each id: the rule of ``_LINK_KIND`` below, in bulk."""
        ids = pc.dictionary_encode(structure_ids)
        distinct = ids.dictionary
        finess = pc.match_substring_regex(distinct, "^[0-9][0-9AB][0-9]{7}$")
        keys = _finess_keys(_nine_bytes_of(distinct.filter(finess)))
        codes = np.zeros(len(distinct), dtype=np.int8)  # 0: no link, 1: ET, 2: EJ
        where = np.flatnonzero(finess.to_numpy(zero_copy_only=False))
        codes[where[_member(self.ej, keys)]] = 2
        codes[where[_member(self.et, keys)]] = 1  # ET first
        return _LINK_NAMES.take(pa.array(codes).take(ids.indices))


_LINK_NAMES = pa.array([None, LinkKind.ET.value, LinkKind.EJ.value], pa.string())


def _nine_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, 9)


def _nine_bytes_of(values: pa.Array) -> np.ndarray:
    """An array of 9-byte ASCII strings as a (n, 9) byte matrix viewing its data buffer."""
    if not len(values):
        return np.empty((0, 9), dtype=np.uint8)
    start = np.frombuffer(values.buffers()[1], dtype=np.int32, count=1, offset=values.offset * 4)
    data = np.frombuffer(
        values.buffers()[2], dtype=np.uint8, count=len(values) * 9, offset=int(start[0])
    )
    return data.reshape(-1, 9)


def _finess_keys(chars: np.ndarray) -> np.ndarray:
    """One integer per FINESS number: 4 bits per character, "0".."9" -> 0..9, "A"/"B" -> 10/11."""
    digits = np.where(chars >= ord("A"), chars - (ord("A") - 10), chars - ord("0")).astype(
        np.uint64
    )
    return (digits << (4 * np.arange(8, -1, -1, dtype=np.uint64))).sum(axis=1, dtype=np.uint64)


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def finess_numbers(conn: Connection) -> FinessNumbers:
    """The store's FINESS numbers, each list fetched as one concatenated string (100k rows
    fetched one by one cost a tenth of a second)."""
    concat = "group_concat({}, '')" if conn.dialect.name == "sqlite" else "string_agg({}, '')"
    et = conn.exec_driver_sql(f"SELECT {concat.format('finess_et')} FROM establishments")
    ej = conn.exec_driver_sql(
        f"SELECT {concat.format('finess_ej')} FROM (SELECT DISTINCT finess_ej FROM "
        "establishments WHERE finess_ej IS NOT NULL) AS ej"
    )
    return FinessNumbers(et.scalar() or "", ej.scalar() or "")


def _stage(conn: Connection, result: LoadResult, versions: Iterator[pa.RecordBatch]) -> str:
    """The new file's versions staged, indexed on the address, one per address; returns the
    stage's table name."""
    types = {"line": "INTEGER"} | dict(MAILBOX_COLUMNS) | {
        "link_kind": "VARCHAR(2)", "first_seen": "INTEGER", "valid_from": "INTEGER",
    }  # fmt: skip
    conn.exec_driver_sql("DROP TABLE IF EXISTS stage_diff")
    stage = stage_batches(conn, "stage_mailboxes", versions, types)
    index_stage(conn, stage, "address")
    result.kept = stage.rows - _drop_repeats(conn, stage.table, "line")
    return stage.table


def _diff_mailboxes(
    conn: Connection, result: LoadResult, departments: tuple[str, ...] | None, stage: str
) -> None:
    """Close removed and changed versions, open created and changed ones, set-wise, against
    the staged rows of table ``stage``."""
    s = result.snapshot_id
    scope, params = _scope_sql(departments, "m.department")
    # Removed: current versions of the selected departments that the new file no longer has.
    closed = conn.execute(
        text(
            "UPDATE mailboxes SET valid_to = :s WHERE id IN (SELECT m.id FROM mailboxes m "
            f"WHERE m.valid_to IS NULL AND {scope} AND NOT EXISTS "
            f"(SELECT 1 FROM {stage} st WHERE st.address = m.address)) RETURNING department"
        ),
        {"s": s, **params},
    ).scalars()
    closing = Counter(closed)
    result.removed = closing.total()
    result.drops = _drops(conn, "mailboxes", "valid_to IS NULL", closing, after=True)
    # One pass over the staged rows keeps the new and the changed ones, with their old version.
    differs = " OR ".join(f"m.{c} IS DISTINCT FROM st.{c}" for c in VERSIONED)
    on_commit = "" if conn.dialect.name == "sqlite" else " ON COMMIT DROP"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE stage_diff{on_commit} AS SELECT st.*, m.id AS old_id, "
        f"m.first_seen AS old_first_seen FROM {stage} st LEFT JOIN mailboxes m "
        f"ON m.address = st.address AND m.valid_to IS NULL WHERE m.id IS NULL OR {differs}"
    )
    result.changed = conn.execute(
        text(
            "UPDATE mailboxes SET valid_to = :s WHERE id IN "
            "(SELECT old_id FROM stage_diff WHERE old_id IS NOT NULL)"
        ),
        {"s": s},
    ).rowcount
    cols = ", ".join(VERSION_COLUMNS[:-2])
    inserted = conn.exec_driver_sql(
        f"INSERT INTO mailboxes ({cols}, first_seen, valid_from) "
        f"SELECT {cols}, coalesce(old_first_seen, first_seen), valid_from FROM stage_diff"
    ).rowcount
    result.created = inserted - result.changed


# "ET first, else EJ": which FINESS number a structure id matches (``FinessNumbers`` applies the same
# rule in bulk, for the first ingest).
_LINK_KIND = (
    "CASE WHEN {t}.structure_id IS NULL THEN NULL "
    "WHEN EXISTS (SELECT 1 FROM establishments e WHERE e.finess_et = {t}.structure_id) "
    f"THEN '{LinkKind.ET}' "
    "WHEN EXISTS (SELECT 1 FROM establishments e WHERE e.finess_ej = {t}.structure_id) "
    f"THEN '{LinkKind.EJ}' "
    "END"
)


def relink_mailboxes(conn: Connection) -> int:
    """Recompute ``link_kind`` of current versions after the establishments changed."""
    kind = _LINK_KIND.format(t="mailboxes")
    return conn.exec_driver_sql(
        f"UPDATE mailboxes SET link_kind = {kind} WHERE valid_to IS NULL "
        f"AND link_kind IS DISTINCT FROM ({kind})"
    ).rowcount


def load_finess(conn: Connection, meta: SnapshotMeta, chunks: Iterable[Chunk]) -> LoadResult:
    """Replace the establishments of the selected departments with the file's (and, from a
    FiNESS+ file, its legal entities, inactive establishments and groupings)."""
    result = LoadResult(snapshot_id=open_snapshot(conn, meta))
    extras, points = finess_plus.Extras(), load_points.Points()
    tapped = load_points.collect(finess_plus.collect(chunks, extras), points)
    new = _new_establishments(result, tapped)
    if conn.exec_driver_sql("SELECT 1 FROM establishments LIMIT 1").first() is None:
        with indexes_dropped(conn, Establishment.__table__):
            result.created = insert_batches(conn, "establishments", new)
    else:
        _replace_establishments(conn, result, meta.departments, new)
    load_points.write_points(conn, points)
    finess_plus.write_extras(conn, extras, result.snapshot_id, meta.departments)
    _refresh_statistics(conn, "establishments")
    relink_mailboxes(conn)
    latest = latest_directory_snapshot(conn)
    if latest is not None:
        freeze_adoption(conn, latest, covered_departments(conn, latest), replace=True)
    return result


def _new_establishments(result: LoadResult, chunks: Iterable[Chunk]) -> Iterator[pa.RecordBatch]:
    """The first line of each FINESS number (``ESTABLISHMENT_ROW``), flagged médico-social or
    not; rejected rows go to the reject log. ``result.kept`` ends as the number of distinct
    numbers (about 100k nationally: a set of them is small)."""
    medico_social = pa.array(sorted(medico_social_codes()), pa.string())
    seen: set[str] = set()
    for chunk in chunks:
        for rejected in chunk.rejected:
            result.rejects.add(rejected)
        rows = chunk.rows
        result.offered += rows.num_rows
        # set.add() returns None: "n in seen or seen.add(n)" is true for repeats only.
        first = [not (n in seen or seen.add(n)) for n in rows.column("finess_et").to_pylist()]
        rows = rows.filter(pa.array(first, pa.bool_()))
        arrays = [rows.column(c) for c, _ in ESTABLISHMENT_COLUMNS]
        # Dates as ISO text: what SQLAlchemy's Date reads back on SQLite, and COPY accepts.
        arrays[ESTABLISHMENT_ROW.index("opened_on")] = pc.cast(
            rows.column("opened_on"), pa.string()
        )
        arrays += [
            pc.is_in(rows.column("category_code"), medico_social),
            pa.array(np.full(rows.num_rows, result.snapshot_id, dtype=np.int64)),
        ]
        yield pa.RecordBatch.from_arrays(arrays, names=ESTABLISHMENT_ROW)
    result.kept = len(seen)


# An establishment as staged or inserted: the file's columns, then what the writer derives.
ESTABLISHMENT_ROW = [c for c, _ in ESTABLISHMENT_COLUMNS] + ["is_medico_social", "snapshot_id"]


def _replace_establishments(
    conn: Connection, result: LoadResult, departments: tuple[str, ...] | None, new: Iterator
) -> None:
    types = dict(ESTABLISHMENT_COLUMNS) | {"is_medico_social": "BOOLEAN", "snapshot_id": "INTEGER"}
    cols = ", ".join(f"{c} {types[c]}" for c in ESTABLISHMENT_ROW)
    on_commit = "" if conn.dialect.name == "sqlite" else " ON COMMIT DROP"
    conn.exec_driver_sql("DROP TABLE IF EXISTS stage_establishments")
    conn.exec_driver_sql(f"CREATE TEMP TABLE stage_establishments ({cols}){on_commit}")
    insert_batches(conn, "stage_establishments", new)
    conn.exec_driver_sql("CREATE INDEX ix_stage_establishments ON stage_establishments (finess_et)")
    load_points.keep_earlier_points(conn)
    scope, params = _scope_sql(departments, "e.department")
    closing = Counter(
        dict(
            conn.execute(
                text(
                    f"SELECT e.department, count(*) FROM establishments e WHERE {scope} AND NOT "
                    "EXISTS (SELECT 1 FROM stage_establishments st WHERE st.finess_et = e.finess_et) "
                    "GROUP BY e.department"
                ),
                params,
            ).all()
        )
    )
    result.removed = closing.total()
    result.drops = _drops(conn, "establishments", "1 = 1", closing, after=False)
    result.created = conn.exec_driver_sql(
        "SELECT count(*) FROM stage_establishments st WHERE NOT EXISTS "
        "(SELECT 1 FROM establishments e WHERE e.finess_et = st.finess_et)"
    ).scalar_one()
    conn.execute(
        text(
            f"DELETE FROM establishments WHERE finess_et IN (SELECT e.finess_et FROM "
            f"establishments e WHERE {scope}) OR finess_et IN "
            "(SELECT finess_et FROM stage_establishments)"
        ),
        params,
    )
    names = ", ".join(ESTABLISHMENT_ROW)
    conn.exec_driver_sql(
        f"INSERT INTO establishments ({names}) SELECT {names} FROM stage_establishments"
    )


def _drops(conn: Connection, table: str, current: str, closing: Counter, after: bool) -> list[Drop]:
    """One ``Drop`` per department of ``closing`` (department -> rows closing), with the number
    of its rows of ``table`` matching ``current`` now; ``after``: the closing rows no longer
    match (they were closed already), so they are added back."""
    if not closing:
        return []
    counted = dict(
        conn.execute(
            text(
                f"SELECT department, count(*) FROM {table} WHERE {current} "
                "AND department IN :departments GROUP BY department"
            ).bindparams(bindparam("departments", expanding=True)),
            {"departments": sorted(closing)},
        ).all()
    )
    return [Drop(d, counted.get(d, 0) + (n if after else 0), n) for d, n in sorted(closing.items())]


def latest_directory_snapshot(conn: Connection) -> int | None:
    return conn.execute(
        select(Snapshot.id)
        .where(Snapshot.source == DataSource.ANNUAIRE)
        .order_by(Snapshot.id.desc())
        .limit(1)
    ).scalar()


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
