"""The fast cut of ``json_stream``: where the next batch of items probably ends, without
scanning the bytes.

Once the stream is known to stand between two items of an array, the next cut is guessed at the
first place, far enough on, where an item ends and the next one begins with a known first key
(FiNESS+ legal entities open with ``informationsGeneralesPMEJ``): ``} , {"key"``. The guess is
proven by the caller's decoder: a batch that decodes as a run of items starts and ends between
items (a wrong guess, the same bytes inside an item, is unbalanced or cuts a string, and fails).

Pure: bytes in, positions out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

SPACE = b" \t\r\n"
FAST_MIN_BYTES = 384 << 10  # a guessed batch is at least this long


class Unproven(Exception):
    """Raised by a fast-cut decoder: these bytes are not a well-formed run of items."""


class FastCut:
    """The first keys items open with (as quoted JSON bytes) and the decoder that proves a
    guess: it gets the bytes of a JSON array of items and returns what it decoded, or raises
    :class:`Unproven`."""

    def __init__(self, markers: Collection[bytes], decode: Callable[[bytes], object]):
        self.markers = tuple(markers)
        self.decode = decode

    def guess(self, buf: bytes, low: int) -> int | None:
        """The position just after the ``}`` closing the first item past ``low`` that a marker
        follows; None if there is none in ``buf`` yet."""
        best, used = None, None
        for marker in self.markers:
            at = buf.find(marker, low)
            while at >= 0:
                end = item_end_before(buf, at)
                if end is not None and end > low:
                    if best is None or end < best:
                        best, used = end, marker
                    break
                at = buf.find(marker, at + 1)
        if used is not None:
            self.markers = (used,)  # a document keeps one spelling: stop looking for the other
        return best


def item_end_before(buf: bytes, marker_at: int) -> int | None:
    """For a marker at ``marker_at``, the position after the ``}`` of ``} , {marker``
    (whitespace allowed around the comma and after the brace), or None."""
    i = skip_space_back(buf, marker_at - 1)
    if i < 0 or buf[i] != ord("{"):
        return None
    i = skip_space_back(buf, i - 1)
    if i < 0 or buf[i] != ord(","):
        return None
    i = skip_space_back(buf, i - 1)
    return i + 1 if i >= 0 and buf[i] == ord("}") else None


def skip_space(buf: bytes, i: int, also: bytes = b"") -> int:
    """The first position from ``i`` on that is neither whitespace nor in ``also``."""
    while i < len(buf) and (buf[i] in SPACE or buf[i] in also):
        i += 1
    return i


def skip_space_back(buf: bytes, i: int) -> int:
    while i >= 0 and buf[i] in SPACE:
        i -= 1
    return i
