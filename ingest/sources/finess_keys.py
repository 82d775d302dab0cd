"""FINESS numbers as integers, for sets and lookups in C rather than over Python strings: a
number ``[0-9][0-9AB][0-9]{7}`` read in base 16 ("A" and "B" are hexadecimal digits, so each
character takes 4 bits and 2A/2B numbers fit). 100k numbers weigh 800 KB as integers, 20 MB as a
set of strings. Pure: numpy and Arrow.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_DIGIT = np.zeros(256, dtype=np.uint64)
_DIGIT[np.frombuffer(b"0123456789AB", dtype=np.uint8)] = np.arange(12, dtype=np.uint64)
_WEIGHTS = np.uint64(16) ** np.arange(8, -1, -1, dtype=np.uint64)


def finess_key(number: str) -> int:
    """The key of one valid FINESS number (the line readers' form of :func:`finess_keys`)."""
    return int(number, 16)


def finess_keys(numbers: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The key of each valid FINESS number of ``numbers`` (9 ASCII characters each, no null:
    ArrowInvalid otherwise), as unsigned integers."""
    if isinstance(numbers, pa.ChunkedArray):
        numbers = numbers.combine_chunks()
    if not len(numbers):
        return np.zeros(0, dtype=np.uint64)
    fixed = numbers.cast(pa.binary(9))
    if fixed.null_count:
        raise pa.ArrowInvalid("a FINESS number is null")
    data = np.frombuffer(fixed.buffers()[1], dtype=np.uint8, count=len(fixed) * 9,
                         offset=fixed.offset * 9)  # fmt: skip
    return keys_of_chars(data.reshape(-1, 9))


def keys_of_chars(chars: np.ndarray) -> np.ndarray:
    """:func:`finess_keys` of a (n, 9) matrix of the numbers' ASCII bytes."""
    return _DIGIT[chars] @ _WEIGHTS if len(chars) else np.zeros(0, dtype=np.uint64)


def positions(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``keys`` is in ``sorted_keys`` (unique, ascending), and whether it is there
    at all (binary searches in C)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=np.intp), np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return at, sorted_keys[at] == keys


def member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (ascending)."""
    return positions(sorted_keys, keys)[1]


class FirstSeen:
    """Which numbers of successive batches are seen for the first time (the first line of a
    number wins): the keys seen so far, kept sorted, instead of a set of strings."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)

    def first(self, numbers: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """A mask of ``numbers`` (valid FINESS numbers): true on the first occurrence of each
        number not seen in an earlier batch."""
        keys = finess_keys(numbers)
        distinct, at = np.unique(keys, return_index=True)  # a stable sort: first occurrences
        new = ~member(self.keys, distinct)
        mask = np.zeros(len(keys), dtype=bool)
        mask[at[new]] = True
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        self.keys = np.sort(np.concatenate([self.keys, distinct[new]]), kind="stable")
        return mask
