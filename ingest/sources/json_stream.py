"""The top-level members of a large JSON object document, read as a stream.

A national FiNESS+ file is one object of hundreds of MB whose ``pmej`` array holds ~100,000
objects; as Python objects the whole would take gigabytes. This module cuts the stream without
parsing it: numpy finds the quotes (escapes included) and brackets of each block, the bracket
depth follows, and the ends of the array's items give byte ranges that a real parser (msgspec,
see ``finess_plus``) decodes a batch at a time. Syntax inside items is the decoder's to check;
the levels cut here (the root object, its members) are checked here.

Fast cut (``json_fast_cut``): once the stream is known to stand between two items, the next cut
is guessed where an item ends and the next begins with a known first key, and proven by the
caller's decoder. Only when no guess can be made or proven does numpy scan the bytes (the first
block, the end of the array, a file whose items open otherwise).

Pure: a binary file object in, :class:`Batch` / :class:`Value` / :class:`Scalar` out, with
:class:`JsonError` (byte offset, line, column) for a document that is not well formed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ingest.sources.json_fast_cut import (
    FAST_MIN_BYTES,
    SPACE,
    FastCut,
    Unproven,
    skip_space,
)

BLOCK_BYTES = 1 << 20
BATCH_BYTES = 512 << 10  # raw bytes of items decoded at once
MAX_VALUE_BYTES = 256 << 20  # a member kept whole (groupings): far above real sizes
MAX_SEGMENT_BYTES = 1 << 20  # keys and scalars between members

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = b"{[", b"}]"
_DELTA = np.zeros(256, dtype=np.int32)
_DELTA[list(_OPEN)] = 1
_DELTA[list(_CLOSE)] = -1
_MEMBER = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|[^\s,"]+)?\s*,?\s*', re.S)


class JsonError(Exception):
    """Not a well-formed JSON document; ``offset`` is the byte where reading stopped."""

    def __init__(self, what: str, offset: int, line: int, column: int):
        super().__init__(f"{what} (ligne {line}, colonne {column})")
        self.what, self.offset, self.line, self.column = what, offset, line, column


class NotAnObject(Exception):
    """The document is valid so far but is not a JSON object (an array, a scalar)."""


NOT_DECODED = object()  # ``Batch.decoded`` of a batch cut by the scan (the caller decodes it)


@dataclass
class Batch:
    """Consecutive items of array member ``key``, as the bytes of a JSON array."""

    key: str
    data: bytes
    offset: int  # byte offset in the document of the first item's bytes (``data[1:]``)
    line: int  # line and column of that byte
    column: int
    decoded: object = NOT_DECODED  # fast cut: what the caller's decoder returned

    def where(self, index: int) -> tuple[int, int]:
        """(line, column) in the document of ``data[index]``."""
        head = self.data[1:index]
        newline = head.rfind(b"\n")
        if newline < 0:
            return self.line, self.column + len(head)
        return self.line + head.count(b"\n"), len(head) - newline


@dataclass
class Value:
    """A member of the root object kept whole (its raw JSON)."""

    key: str
    data: bytes


@dataclass
class EmptyItems:
    """An array member named in ``item_keys`` that holds no item (``"pmej": []``)."""

    key: str


@dataclass
class Scalar:
    """A string, number, boolean or null member of the root object (raw JSON text)."""

    key: str
    data: bytes


Event = Batch | Value | Scalar | EmptyItems


def members(
    fh: BinaryIO,
    item_keys: Collection[str],
    value_keys: Collection[str],
    block: int = BLOCK_BYTES,
    fast: tuple[Collection[bytes], Callable[[bytes], object]] | None = None,
) -> Iterator[Event]:
    """The root object's members in document order: arrays named in ``item_keys`` as batches of
    items, members named in ``value_keys`` whole, scalars; other containers skipped unread.

    ``fast`` = (first keys of an item, as quoted JSON bytes; decoder): enables the fast cut. The
    decoder gets the bytes of a JSON array of items and returns what it decoded (handed over in
    ``Batch.decoded``) or raises :class:`Unproven`."""
    scanner = _Scanner(set(item_keys), set(value_keys), fast)
    while data := fh.read(block):
        yield from scanner.feed(data)
    yield from scanner.close()


class _Scanner:
    """The state carried from one block to the next."""

    def __init__(
        self,
        item_keys: set[str],
        value_keys: set[str],
        fast: tuple[Collection[bytes], Callable[[bytes], object]] | None = None,
    ):
        self.item_keys, self.value_keys = item_keys, value_keys
        self.fast = FastCut(*fast) if fast else None
        self.resume = 0  # buf position where the scan state holds and nothing after is scanned
        self.last_end: int | None = None  # buf position after the last item end the scan saw
        self.buf = b""
        self.base = 0  # document offset of buf[0]
        self.mark = 0  # document offset up to which newlines are counted
        self.lines = 0  # newlines before ``mark``
        self.line_start = 0  # document offset where the line of ``mark`` starts
        self.in_string = False
        self.escaped = False  # the next byte is escaped by a backslash
        self.depth = 0
        self.openers: list[int] = []  # bracket bytes of the open levels 1 and 2
        self.done = False
        self.segment = 0  # buf position where the current run of keys/scalars starts
        self.key = ""
        self.mode = ""  # "items" | "value" | "skip" inside a level-2 container
        self.start = 0  # buf position of the batch's or the value's first byte
        self.items_from = 0  # document offset after the ``[`` of the current items array

    # --- bookkeeping ------------------------------------------------------------------------

    def _count_lines(self, offset: int) -> None:
        """Count the newlines from ``self.mark`` to document ``offset`` (in ``buf``): line
        numbers cost one pass over the document, whatever the number of batches."""
        low, high = self.mark - self.base, offset - self.base
        newlines = _newlines(self.buf, low, high)
        if newlines:
            self.lines += newlines
            self.line_start = self.base + self.buf.rfind(b"\n", low, high) + 1
        self.mark = offset

    def _line_column(self, offset: int) -> tuple[int, int]:
        if offset >= self.mark:
            self._count_lines(offset)
            return self.lines + 1, offset - self.line_start + 1
        low, high = offset - self.base, self.mark - self.base
        newline = self.buf.rfind(b"\n", 0, low)
        start = self.base + newline + 1 if newline >= 0 else self.base
        return self.lines - self.buf.count(b"\n", low, high) + 1, offset - start + 1

    def error(self, what: str, pos: int) -> JsonError:
        """``what`` at buffer position ``pos``, with its line and column in the document."""
        line, column = self._line_column(self.base + pos)
        return JsonError(what, self.base + pos, line, column)

    def _drop(self, keep: int) -> None:
        """Forget ``buf[:keep]`` (its newlines counted first)."""
        if self.base + keep > self.mark:
            self._count_lines(self.base + keep)
        self.base += keep
        self.buf = self.buf[keep:]
        self.segment -= keep
        self.start -= keep
        self.resume -= keep

    # --- scanning ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> Iterator[Event]:
        self.buf += data
        if self._between_items():
            proven = yield from self._fast_cuts()
            if proven and len(self.buf) - self.resume < 4 * FAST_MIN_BYTES:
                self._trim()  # the rest is part of an item: wait for more bytes
                return
        yield from self._scan()
        self._trim()

    def _scan(self) -> Iterator[Event]:
        """The exact scan of ``buf[resume:]``; when it ends inside the items of a fast-cut array,
        the state is put back to the last item end (known: between items) for the next cut."""
        self.last_end = None
        positions, kinds, depths = self._brackets(self.resume)
        self.resume = len(self.buf)
        yield from self._events(positions, kinds, depths)
        if self.fast and self.mode == "items" and self.last_end is not None and self.depth > 2:
            self.resume, self.depth = self.last_end, 2
            self.in_string = self.escaped = False

    def _between_items(self) -> bool:
        return bool(
            self.fast and self.mode == "items" and self.depth == 2
            and not self.in_string and not self.escaped
        )  # fmt: skip

    def _fast_cuts(self) -> Iterator[Batch]:
        """Batches cut at guessed item ends and proven by the decoder; returns False when a guess
        failed (then the exact scan takes over for the rest of the document)."""
        while (cut := self.fast.guess(self.buf, self.start + FAST_MIN_BYTES)) is not None:
            body = skip_space(self.buf, self.start, b",")
            data = b"".join((b"[", memoryview(self.buf)[body:cut], b"]"))  # one copy
            try:
                decoded = self.fast.decode(data)
            except Unproven:
                self.fast = None  # a guess went wrong once: scan exactly from here on
                return False
            first = self.base + body
            line, column = self._line_column(first)
            yield Batch(self.key, data, first, line, column, decoded)
            self.start = self.resume = cut
        return True

    def _brackets(self, pos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, bytes and depths after each bracket outside strings in ``buf[pos:]``.

        Few full passes over the block (it is most of the reading time): brackets are found
        with one mask (``byte & 0xD9 == 0x59`` holds for the four brackets and four other bytes,
        filtered after), quotes are summed between consecutive brackets (``reduceat``) and the
        parity of the running count says whether a bracket is inside a string."""
        view = np.frombuffer(self.buf, dtype=np.uint8)[pos:]
        quote = (view == _QUOTE).view(np.uint8)
        near = np.flatnonzero((view & 0xD9) == 0x59)
        brackets = near[_DELTA[view[near]] != 0]
        counts = np.add.reduceat(quote, np.concatenate(([0], brackets)), dtype=np.int32)
        if len(view) == 0:
            counts = np.zeros(1, dtype=np.int32)
        if self.escaped or self.buf.find(b"\\", pos) >= 0:
            escaped = self._escaped(np.flatnonzero(view == _BACKSLASH), len(view))
            escaped = escaped[escaped < len(view)]
            escaped = escaped[view[escaped] == _QUOTE]
            np.subtract.at(counts, np.searchsorted(brackets, escaped, side="right"), 1)
        before = np.cumsum(counts) + self.in_string
        self.in_string = bool(before[-1] % 2)
        brackets = brackets[before[:-1] % 2 == 0]
        kinds = view[brackets]
        depths = self.depth + np.cumsum(_DELTA[kinds])
        if len(depths):
            self.depth = int(depths[-1])
        return brackets + pos, kinds, depths

    def _escaped(self, backslashes: np.ndarray, size: int) -> np.ndarray:
        """Positions (in the region) of the bytes a backslash escapes: the byte after each run of
        an odd number of backslashes, a run carried from the previous block included."""
        if self.escaped:  # the region's first byte is escaped
            first_escaped = np.array([0])
            if len(backslashes) and backslashes[0] == 0:
                backslashes = backslashes[1:]  # an escaped backslash escapes nothing
                first_escaped = np.array([0])
        else:
            first_escaped = np.array([], dtype=np.int32)
        if not len(backslashes):
            self.escaped = False
            return first_escaped
        breaks = np.flatnonzero(np.diff(backslashes) != 1)
        starts = backslashes[np.concatenate(([0], breaks + 1))]
        ends = backslashes[np.concatenate((breaks, [len(backslashes) - 1]))]
        odd = ends[(ends - starts) % 2 == 0]  # run length ends - starts + 1 is odd
        self.escaped = bool(len(odd)) and int(odd[-1]) == size - 1
        return np.concatenate((first_escaped, odd + 1))

    def _events(self, positions: np.ndarray, kinds: np.ndarray, depths: np.ndarray):
        """Handle the brackets that open or close levels 1, 2 and 3 (items end at 3 -> 2)."""
        shallow = np.flatnonzero(np.minimum(depths, depths - _DELTA[kinds]) <= 2)
        for i in shallow.tolist():
            pos, kind, depth = int(positions[i]), int(kinds[i]), int(depths[i])
            if depth < 0:
                raise self.error("crochet fermant sans ouvrant", pos)
            if kind in _OPEN:
                yield from self._open(pos, kind, depth)
            else:
                yield from self._close(pos, kind, depth)

    def _open(self, pos: int, kind: int, depth: int) -> Iterator[Event]:
        if depth == 1:
            self._check_root_start(pos, kind)
            self.openers, self.segment = [kind], pos + 1
        elif depth == 2:
            self.openers.append(kind)
            yield from self._member_starts(pos, kind)

    def _close(self, pos: int, kind: int, depth: int) -> Iterator[Event]:
        if depth == 2 and self.mode == "items":
            self.last_end = pos + 1
            if pos + 1 - self.start >= BATCH_BYTES:
                yield self._batch(pos + 1)
                self.start = pos + 1
        elif depth == 1:
            if _CLOSE.index(kind) != _OPEN.index(self.openers.pop()):
                raise self.error("crochet fermant inattendu", pos)
            yield from self._member_ends(pos)
        elif depth == 0:
            if _CLOSE.index(kind) != _OPEN.index(self.openers.pop()):
                raise self.error("crochet fermant inattendu", pos)
            yield from self._scalars(self.buf[self.segment : pos])
            self.done, self.segment = True, pos + 1
            self._check_rest(pos + 1)

    def _check_root_start(self, pos: int, kind: int) -> None:
        if self.done:
            raise self.error("contenu après la fin du document", pos)
        if self.buf[:pos].strip(SPACE):
            raise NotAnObject()
        if kind != ord("{"):
            raise NotAnObject()

    def _member_starts(self, pos: int, kind: int) -> Iterator[Scalar]:
        segment = self.buf[self.segment : pos]
        yield from self._scalars(segment)
        match = re.search(rb'"((?:[^"\\]|\\.)*)"\s*:\s*$', segment)
        if match is None:
            raise self.error("membre sans nom", pos)
        self.key = match.group(1).decode("utf-8", errors="replace")
        if self.key in self.item_keys:
            if kind != ord("["):
                raise NotAnObject()
            self.mode, self.start = "items", pos + 1
            self.items_from = self.base + self.start  # still there at the end: no item
        elif self.key in self.value_keys:
            self.mode, self.start = "value", pos
        else:
            self.mode = "skip"

    def _member_ends(self, pos: int) -> Iterator[Batch | Value | EmptyItems]:
        if self.mode == "items":
            if self.buf[self.start : pos].strip(SPACE + b","):
                yield self._batch(pos)
            elif self.base + self.start == self.items_from:
                yield EmptyItems(self.key)
        elif self.mode == "value":
            yield Value(self.key, self.buf[self.start : pos + 1])
        self.mode, self.segment = "", pos + 1

    def _batch(self, end: int) -> Batch:
        raw = self.buf[self.start : end]
        body = raw.lstrip(SPACE + b",")
        first = self.base + self.start + len(raw) - len(body)
        line, column = self._line_column(first)
        return Batch(self.key, b"[" + body + b"]", first, line, column)

    def _scalars(self, segment: bytes) -> Iterator[Scalar]:
        """The ``"key": scalar`` pairs of a run between containers (the last key of a run that
        opens a container has no value here)."""
        for match in _MEMBER.finditer(segment.lstrip(SPACE + b",")):
            if match.group(2) is not None:
                yield Scalar(match.group(1).decode("utf-8", errors="replace"), match.group(2))

    def _check_rest(self, pos: int) -> None:
        rest = self.buf[pos:].strip(SPACE)
        if rest:
            raise self.error("contenu après la fin du document", pos + self.buf[pos:].find(rest))

    def _trim(self) -> None:
        """Drop what no longer matters; bound what is kept."""
        if self.done:
            self._check_rest(self.segment)
            keep, limit = len(self.buf), 0
        elif not self.openers:  # before the root object: only blanks may be dropped
            if len(self.buf) > MAX_SEGMENT_BYTES:
                raise NotAnObject()
            keep, limit = (0 if self.buf.strip(SPACE) else len(self.buf)), 0
        elif self.depth <= 1:
            keep, limit = self.segment, MAX_SEGMENT_BYTES
        elif self.mode in ("items", "value"):
            keep, limit = self.start, MAX_VALUE_BYTES
        else:
            keep, limit = len(self.buf), 0
        if limit and len(self.buf) - keep > limit:
            raise self.error(f"membre « {self.key} » trop long", len(self.buf))
        self._drop(max(0, keep))

    def close(self) -> Iterator[Event]:
        if self.resume < len(self.buf):  # bytes left unscanned after the last fast cut
            yield from self._scan()
            self._trim()
        if not self.done:
            if not self.openers:
                raise NotAnObject()
            raise self.error("document interrompu", len(self.buf))


def _newlines(buf: bytes, low: int, high: int) -> int:
    """``buf.count(b"\\n", low, high)``, at numpy's speed (bytes.count goes a byte at a time:
    a fifth of the cutting time of a national file)."""
    if high - low < 4096:
        return buf.count(b"\n", low, high)
    return int(np.count_nonzero(np.frombuffer(buf, np.uint8, high - low, low) == ord("\n")))
