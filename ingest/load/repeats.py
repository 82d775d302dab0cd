"""Which rows of a bulk load repeat an earlier row's key, noted while the batches go by (in the
writer's thread, which waits for the reader anyway), so that no pass over the loaded table is
needed afterwards to find them (SQL's grouping of the national directory's 536k addresses on
their index: 0.12 s, against 0.01 s for the few candidates).

The rows are told apart by a 64-bit hash of their key: equal keys always share it, so every
repeat is a candidate; two different keys share it about once in 10^8 loads of the national
file, and such a candidate is only a row SQL checks for nothing. Pure numpy and Arrow.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_BASE = 0x100000001B3  # odd, so invertible modulo 2**64
_INVERSE = pow(_BASE, -1, 1 << 64)


_SLICE = 2048  # rows hashed at once


class RepeatFinder:
    """Ids of the rows whose ``key`` (a string column) another row also has, among the batches
    :meth:`see` is shown: a superset of the repeated rows (the first row of each key included).
    Ids: column ``ids`` of the batches, or (None) the rows' positions, from 1. Each batch costs
    a hash of its keys; the candidates, one sort of all the hashes (8 bytes a row, 16 with the
    ids: 9 MB for the national directory)."""

    def __init__(self, key: str, ids: str | None = "id"):
        self.key, self.ids = key, ids
        self.rows = 0  # rows seen
        self._hashes: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []

    def see(self, batch: pa.RecordBatch) -> None:
        keys = batch.column(self.key)
        for at in range(0, len(keys), _SLICE):  # slices: small tables of powers
            self._hashes.append(string_hashes(keys.slice(at, _SLICE)))
        if self.ids is None:
            self._ids.append(np.arange(self.rows + 1, self.rows + 1 + batch.num_rows))
        else:
            self._ids.append(batch.column(self.ids).to_numpy())
        self.rows += batch.num_rows

    @property
    def candidates(self) -> list[int]:
        if not self._hashes:
            return []
        hashes = np.concatenate(self._hashes)
        ordered = np.sort(hashes)
        shared = ordered[1:][ordered[1:] == ordered[:-1]]  # hashes of two rows or more
        if not len(shared):
            return []
        at = np.minimum(np.searchsorted(shared, hashes), len(shared) - 1)
        return np.concatenate(self._ids)[shared[at] == hashes].tolist()


def string_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit polynomial hash of each string's UTF-8 bytes (no nulls): sum of byte i times
    BASE**i, modulo 2**64, computed for the whole array at once."""
    if values.null_count:
        raise ValueError("string_hashes: null values")
    width = 8 if pa.types.is_large_string(values.type) else 4
    offsets = np.frombuffer(
        values.buffers()[1],
        dtype=np.int64 if width == 8 else np.int32,
        count=len(values) + 1,
        offset=values.offset * width,
    ).astype(np.int64)
    size = int(offsets[-1] - offsets[0])
    if size == 0:
        return np.zeros(len(values), dtype=np.uint64)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8, count=size, offset=int(offsets[0]))
    starts = offsets[:-1] - offsets[0]
    with np.errstate(over="ignore"):
        terms = data.astype(np.uint64) * _powers(_BASE, size)
        # Each string's terms weigh BASE**(position in the whole data): divide by the weight of
        # its first byte. reduceat gives a lone byte for an empty string: zero those.
        sums = np.add.reduceat(terms, np.minimum(starts, size - 1))
        hashes = sums * _powers(_INVERSE, size)[np.minimum(starts, size - 1)]
    hashes[offsets[1:] == offsets[:-1]] = 0
    return hashes


_POWERS: dict[int, np.ndarray] = {}


def _powers(base: int, count: int) -> np.ndarray:
    """base**0 .. base**(count - 1) modulo 2**64, kept (a power of two long) for the next call."""
    known = _POWERS.get(base)
    if known is None or len(known) < count:
        size = 1 << max(count - 1, 1).bit_length()
        factors = np.full(size, base, dtype=np.uint64)
        factors[0] = 1
        with np.errstate(over="ignore"):
            known = _POWERS[base] = np.cumprod(factors, dtype=np.uint64)
    return known[:count]
