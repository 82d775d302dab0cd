"""Text columns of a Windows-1252 (cp1252) file, transcoded to UTF-8 column by column.

A cp1252 FINESS block used to be decoded and re-encoded whole before Arrow parsed it (a tenth of
a second over the national file, most of it for columns nobody reads). cp1252 is a one-byte
encoding whose delimiters and line ends are ASCII, so Arrow can cut the raw bytes into binary
columns first; then only the columns kept are transcoded, and an ASCII column costs one scan.
Exactly what ``bytes.decode("cp1252", errors="replace")`` gives: bytes cp1252 leaves undefined
become U+FFFD. Pure: numpy and Arrow.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# How many more bytes each cp1252 byte takes in UTF-8 (0 for ASCII, 1 or 2 above).
_EXTRA = np.array(
    [len(bytes([b]).decode("cp1252", errors="replace").encode("utf-8")) - 1 for b in range(256)],
    dtype=np.int64,
)


def cp1252_to_utf8(values: pa.Array) -> pa.Array:
    """A binary column (no null) holding cp1252 text, as a string column."""
    if values.null_count or not len(values):
        return pa.array([_text(v) for v in values.to_pylist()], pa.string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1,
                            offset=values.offset * 4)  # fmt: skip
    start, end = int(offsets[0]), int(offsets[-1])
    raw = values.buffers()[2]
    data = (
        np.frombuffer(raw, dtype=np.uint8)[start:end] if raw is not None else np.zeros(0, np.uint8)
    )
    high = np.flatnonzero(data >= 0x80)
    if not len(high):  # ASCII: the bytes are already UTF-8
        return values.cast(pa.string())
    text = data.tobytes().decode("cp1252", errors="replace").encode("utf-8")
    grown = np.concatenate([[0], np.cumsum(_EXTRA[data[high]])])  # extra bytes before each
    at = offsets.astype(np.int64) - start
    new_offsets = (at + grown[np.searchsorted(high, at)]).astype(np.int32)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(new_offsets), pa.py_buffer(text))


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("cp1252", errors="replace")
