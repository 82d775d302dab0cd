"""Which FINESS number a mailbox's structure id matches: an establishment (ET) first, else a
legal entity (EJ). Two forms of the one rule: in bulk for the new versions of an ingest
(``FinessNumbers``, sorted integers searched in C), in SQL for the current versions after the
establishments changed (``relink_mailboxes``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from balise.referentials.lifecycles import LinkKind
from ingest.sources.finess_keys import finess_keys, keys_of_chars, member


class FinessNumbers:
    """The FINESS numbers a structure id can match: establishments (ET) and legal entities (EJ).
    Kept as sorted integers (``finess_keys``): looking a batch's ids up is a binary search in C,
    and 100k numbers weigh 1 MB (a dict of them, 20 MB)."""

    def __init__(self, et: str, ej: str):
        """``et`` and ``ej``: the numbers concatenated (9 characters each)."""
        self.et = np.sort(keys_of_chars(_nine_bytes(et)))
        self.ej = np.sort(keys_of_chars(_nine_bytes(ej)))

    def link_kinds(self, structure_ids: pa.Array) -> pa.Array:
        """``LinkKind`` code or null for each id: the rule of ``_LINK_KIND`` below, in bulk."""
        ids = pc.dictionary_encode(structure_ids)
        distinct = ids.dictionary
        finess = pc.match_substring_regex(distinct, "^[0-9][0-9AB][0-9]{7}$")
        keys = finess_keys(distinct.filter(finess))
        codes = np.zeros(len(distinct), dtype=np.int8)  # 0: no link, 1: ET, 2: EJ
        where = np.flatnonzero(finess.to_numpy(zero_copy_only=False))
        codes[where[member(self.ej, keys)]] = 2
        codes[where[member(self.et, keys)]] = 1  # ET first
        return _LINK_NAMES.take(pa.array(codes).take(ids.indices))


_LINK_NAMES = pa.array([None, LinkKind.ET.value, LinkKind.EJ.value], pa.string())


def _nine_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, 9)


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


# "ET first, else EJ": which FINESS number a structure id matches (``FinessNumbers`` applies the
# same rule in bulk, for the first ingest).
_LINK_KIND = (
    # Only a 9-character id can be a FINESS number: the others (RPPS, SIRET: half the national
    # directory) are settled without looking establishments up.
    "CASE WHEN {t}.structure_id IS NULL OR length({t}.structure_id) <> 9 THEN NULL "
    "WHEN EXISTS (SELECT 1 FROM establishments e WHERE e.finess_et = {t}.structure_id) "
    f"THEN '{LinkKind.ET}' "
    "WHEN EXISTS (SELECT 1 FROM establishments e WHERE e.finess_ej = {t}.structure_id) "
    f"THEN '{LinkKind.EJ}' "
    "END"
)


def relink_mailboxes(conn: Connection) -> int:
    """Recompute ``link_kind`` of current versions after the establishments changed; returns
    how many changed. One pass over the current versions, each looked up at most twice by
    index (a temporary table of the distinct ids' kinds and an UPDATE ... FROM it measured
    slower on SQLite: the cost is in reading and rewriting the rows, not in the look-ups)."""
    kind = _LINK_KIND.format(t="mailboxes")
    with _page_cache(conn, _RELINK_CACHE_KIB):
        return conn.exec_driver_sql(
            f"UPDATE mailboxes SET link_kind = {kind} WHERE valid_to IS NULL "
            f"AND link_kind IS DISTINCT FROM ({kind})"
        ).rowcount


# SQLite's page cache while the relink rewrites rows spread over the whole table: with the default
# 2 MB, dirty pages spill to the journal mid-statement (CPU 0.68 s -> 0.47 s when 231k of the
# national directory's rows change).
_RELINK_CACHE_KIB = 16_000


@contextmanager
def _page_cache(conn: Connection, kib: int) -> Iterator[None]:
    """SQLite: a page cache of ``kib`` KiB for the block (the connection's own after)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{kib}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {before}")
