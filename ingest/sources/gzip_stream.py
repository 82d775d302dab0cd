"""A gzip file read as the data it holds: detected by its magic bytes, inflated as it is read
(never whole, never to disk), with a bound on the inflated size so that a small archive cannot
fill memory or hours ("zip bomb"). Pure: a binary file object in, a binary file object out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from isal import isal_zlib  # ISA-L's inflate: about three times zlib's speed, same API

from balise.errors import SourceError
from ingest.sources.ahead import read_ahead

GZIP_MAGIC = b"\x1f\x8b"
# The largest data file an ingest accepts once inflated: BALISE_MAX_DOWNLOAD_MB's default (2048
# MB), so that a gzip bomb cannot fill the disk. The national FiNESS+ structures file is a few
# hundred MB inflated.
MAX_INFLATED_BYTES = 2048 << 20
CHUNK = 1 << 20  # compressed bytes read at once
# Inflated bytes per call: 1 MB stays in the processor's cache (ISA-L took 60 % more CPU with
# 4 MB pieces, out of 1 MB of input); the thread still runs ahead of the reader.
PIECE = 1 << 20

MSG_GZIP_BROKEN = "Le fichier compressé (gzip) est corrompu ou tronqué."
MSG_GZIP_TOO_BIG = (
    "Le fichier compressé (gzip) dépasse {limit} Mo une fois décompressé : il est refusé."
)


class Prefixed(io.RawIOBase):
    """``head`` (bytes already read) followed by the rest of ``fh``."""

    def __init__(self, head: bytes, fh: BinaryIO):
        self._head = head
        self._fh = fh

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        if hasattr(self._fh, "readinto"):  # straight into the caller's buffer: no copy
            return self._fh.readinto(buffer)
        data = self._fh.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class GunzipStream(io.RawIOBase):
    """The inflated bytes of a gzip stream (several members allowed, as ``gzip`` writes them),
    at most ``limit`` of them; SourceError for corrupt or truncated data."""

    def __init__(self, fh: BinaryIO, limit: int = MAX_INFLATED_BYTES):
        self._fh = fh
        self._limit = limit
        self._inflated = 0
        self._zlib = isal_zlib.decompressobj(wbits=31)
        self._ended = False
        # Inflated one thread ahead (zlib releases the GIL), a few megabytes at most.
        self._pieces = read_ahead(self._inflated_pieces(), depth=2)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = memoryview(piece)
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n

    def close(self) -> None:
        self._pieces.close()  # stops the thread before the source is closed
        super().close()

    def _inflated_pieces(self) -> Iterator[bytes]:
        while not self._ended:
            if data := self._inflate_more(PIECE):
                yield data

    def _inflate_more(self, size: int) -> bytes:
        source = self._zlib.unconsumed_tail or self._fh.read(CHUNK)
        if not source:
            if not self._zlib.eof:
                raise SourceError(MSG_GZIP_BROKEN)
            self._ended = True
            return b""
        try:
            data = self._zlib.decompress(source, size)
        except isal_zlib.error:
            raise SourceError(MSG_GZIP_BROKEN) from None
        if self._zlib.eof:  # a member ended: another may follow (trailing zeros do not count)
            more = self._zlib.unused_data or self._fh.read(CHUNK)
            if more.strip(b"\x00"):
                self._zlib = isal_zlib.decompressobj(wbits=31)
                self._fh = Prefixed(more, self._fh)
            else:
                self._ended = True
        self._inflated += len(data)
        if self._inflated > self._limit:
            raise SourceError(MSG_GZIP_TOO_BIG.format(limit=self._limit >> 20))
        return data


def gunzip_if_compressed(fh: BinaryIO, limit: int = MAX_INFLATED_BYTES) -> BinaryIO:
    """``fh`` itself, or its inflated content when it starts with the gzip magic bytes."""
    head = fh.read(2)
    if head != GZIP_MAGIC and fh.seekable():
        # Plain input is read as it is: a wrapper would buffer a whole chunk ahead, past the
        # readers' bounds on how far they read before refusing a file.
        fh.seek(-len(head), io.SEEK_CUR)
        return fh
    rest = Prefixed(head, fh)
    if head != GZIP_MAGIC:
        return io.BufferedReader(rest, CHUNK)
    return io.BufferedReader(GunzipStream(rest, limit), CHUNK)
