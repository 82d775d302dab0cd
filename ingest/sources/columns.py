"""What both bulk readers (directory and FINESS) share: cutting a stream into blocks of whole
lines, parsing a clean block with Arrow, and string functions on Arrow columns that give exactly
what the line readers' Python gives (the line readers are the specification).

Exactness rules: ``strip`` removes exactly the characters ``str.isspace()`` accepts; ``exact``
applies a bulk function to ASCII values only (where ``lower``, ``upper`` and the regexes have
exact ASCII equivalents) and the Python function to the others; ``lookup`` runs the Python
function once per distinct value. Pure: bytes and Arrow arrays in, Arrow arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from balise.errors import SourceError

STRING = pa.string()
# Every character str.strip() removes: the 29 code points whose isspace() is true, written out
# (scanning the 1.1 million code points cost every ingest command 60 ms at start-up;
# tests/test_source_columns.py checks the list against str.isspace).
PY_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NULL = pa.scalar(None, STRING)


@dataclass
class Part:
    """Consecutive whole lines of a file, with Arrow's parse when the block was clean."""

    data: bytes
    table: pa.Table | None  # None: for the line reader

    @property
    def lines(self) -> int:
        return line_count(self.data)


def line_count(data: bytes) -> int:
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


# No line of an extract comes near this: a longer one means a file that is not one (a binary
# file, a gigabyte of zeros), refused before it is held in memory.
MAX_LINE_BYTES = 1 << 20
MSG_LONG_LINE = (
    "Le fichier contient une ligne de plus de {limit} Mo : ce n'est pas un fichier de données "
    "attendu."
)


def blocks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    """The rest of ``fh`` in blocks of about ``size`` bytes of whole lines (the last one may lack
    its newline); the stream is read ``size`` bytes at a time, never whole. SourceError for a
    line longer than ``MAX_LINE_BYTES``."""
    rest = b""
    while data := fh.read(size):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if len(rest) > MAX_LINE_BYTES:
            raise SourceError(MSG_LONG_LINE.format(limit=MAX_LINE_BYTES >> 20))
        if cut:
            yield data[:cut]
    if rest:
        yield rest


def parts(block: bytes, parse: Callable[[bytes], pa.Table | None]) -> Iterator[Part]:
    """``block`` parsed if ``parse`` accepts it; otherwise cut in two halves (at a line end) and
    each half tried again, down to 64 KB (a few hundred lines: below that, more attempts cost
    more than the line reader), so that the line reader only gets the lines around a bad one. Halves are parsed lazily, after the previous part was consumed (the FINESS
    parser depends on the encoding the line reader has found so far)."""
    table = parse(block)
    middle = block.find(b"\n", len(block) // 2) + 1
    if table is not None or len(block) < 65536 or not 0 < middle < len(block):
        yield Part(block, table)
        return
    yield from parts(block[:middle], parse)
    yield from parts(block[middle:], parse)


def has_blank_or_lone_cr(block: bytes) -> bool:
    """Lines Arrow would not number like a Python line loop: blank ones, or a CR not before LF."""
    if b"\r" in block and (block.count(b"\r") != block.count(b"\r\n") or b"\n\r\n" in block):
        return True
    return b"\n\n" in block or block.startswith((b"\n", b"\r\n"))


def has_lone_cr(block: bytes) -> bool:
    """A CR not before LF: Arrow would end a line there, a Python line loop would not. (Blank
    lines need no search when Arrow parses the block: it skips them, so the block's rows fall
    short of its lines and :func:`parse_block` gives None.)"""
    return b"\r" in block and block.count(b"\r") != block.count(b"\r\n")


def is_utf8(data: bytes) -> bool:
    """Whether ``data.decode("utf-8")`` succeeds (tests/test_source_columns.py compares them),
    checked by Arrow without building the string: four times as fast."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def parse_block(block: bytes, width: int, wanted: list[int], delimiter: str) -> pa.Table | None:
    """Columns ``wanted`` (named ``c<i>``) of a UTF-8 ``block`` without quoting, or None unless
    every line has exactly ``width`` fields. A block holding a NUL byte goes to the line reader,
    which says what it makes of it (no database stores text with NUL: PostgreSQL refuses it)."""
    return parse_block_as(block, width, wanted, delimiter, STRING)


def parse_block_as(
    block: bytes, width: int, wanted: list[int], delimiter: str, type_: pa.DataType
) -> pa.Table | None:
    """:func:`parse_block` with the columns read as ``type_``: ``pa.binary()`` for the bytes of
    a one-byte encoding whose delimiters are ASCII (cp1252), not checked as UTF-8. Bytes get no
    bad-row handler (pyarrow decodes the row it hands one as UTF-8, an error it can only print):
    a bad row fails the parse, with the same answer."""
    if b"\x00" in block:
        return None
    invalid: list[object] = []
    report = (lambda row: invalid.append(row) or "skip") if type_ == STRING else None
    names = [f"c{i}" for i in range(width)]
    try:
        table = pcsv.read_csv(
            pa.py_buffer(block),
            read_options=pcsv.ReadOptions(column_names=names, block_size=1 << 20),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter, quote_char=False, escape_char=False,
                invalid_row_handler=report,
            ),
            convert_options=pcsv.ConvertOptions(
                include_columns=[names[i] for i in wanted],
                column_types={names[i]: type_ for i in wanted},
                strings_can_be_null=False,
            ),
        )  # fmt: skip
    except pa.ArrowInvalid:
        return None
    return None if invalid or table.num_rows != line_count(block) else table


def column(table: pa.Table, i: int | None) -> pa.Array:
    """Column ``c<i>`` of a parsed block (all null when the file has no such column)."""
    if i is None:
        return pa.nulls(table.num_rows, STRING)
    return table.column(f"c{i}").combine_chunks()


def strip(values: pa.Array) -> pa.Array:
    return pc.utf8_trim(values, PY_SPACE)


def null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), _NULL, values)


def strip_or_null(values: pa.Array) -> pa.Array:
    """``value.strip() or None``."""
    return null_if_empty(strip(values))


def exact(
    values: pa.Array,
    bulk: Callable[[pa.Array], pa.Array],
    one: Callable[[str], object],
    type_: pa.DataType = STRING,
) -> pa.Array:
    """``bulk(values)`` where the value is ASCII (or null), ``one(value)`` elsewhere."""
    out = bulk(values)
    if values.null_count == len(values):
        return out
    other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True))
    if not pc.any(other).as_py():
        return out
    fixed = pa.array([one(v) for v in values.filter(other).to_pylist()], type_)
    return pc.replace_with_mask(out, other, fixed)


def lookup(
    values: pa.Array, cache: dict, normalise: Callable, type_: pa.DataType = STRING
) -> pa.Array:
    """``normalise(value)`` for each value, computed once per distinct value (``cache`` keeps
    the results across blocks)."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    for value in distinct:
        if value not in cache:
            cache[value] = normalise(value)
    return pa.array([cache[v] for v in distinct], type_).take(encoded.indices)


def lookup_many(
    arrays: list[pa.Array], cache: dict, normalise: Callable, type_: pa.DataType = STRING
) -> pa.Array:
    """``normalise(a, b, ...)`` for each row of ``arrays`` (no nulls), computed once per
    distinct combination (``cache`` keeps the results across blocks)."""
    encoded = [pc.dictionary_encode(a) for a in arrays]
    key = pa.array(np.zeros(len(arrays[0]), dtype=np.int64))
    for e in encoded:  # one integer per combination: mixed-radix digits of the value indices
        key = pc.add(pc.multiply(key, max(len(e.dictionary), 1)), e.indices.cast(pa.int64()))
    combos = pc.dictionary_encode(key)
    values = [e.dictionary.to_pylist() for e in encoded]
    radices = [max(len(v), 1) for v in values]
    out = []
    for k in combos.dictionary.to_pylist():
        combo = []
        for vals, radix in zip(reversed(values), reversed(radices), strict=True):
            k, i = divmod(k, radix)
            combo.append(vals[i])
        combo = tuple(reversed(combo))
        if combo not in cache:
            cache[combo] = normalise(*combo)
        out.append(cache[combo])
    return pa.array(out, type_).take(combos.indices)


def lines_where(lines: pa.Array, mask: pa.Array) -> list[int]:
    return lines.filter(mask).to_pylist()
