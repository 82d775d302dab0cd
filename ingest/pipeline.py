"""Read a large source in a second process while this one writes.

The readers are pure Python and CPU-bound; the writer spends most of its time inside SQLite. On
the two-core machines Balise runs on, reading in a forked child and handing rows over in batches
through a pipe overlaps the two (about a third off a national ingest). The reader is unchanged:
the child runs the very same function and sends its rows, its statistics and its errors back.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from typing import BinaryIO

from balise.errors import BaliseError, SourceError
from ingest.sources.files import LocalSource, open_rows
from ingest.sources.rows import ReadStats

BATCH = 20_000
# Below this size the fork and the pickling cost more than they save.
MIN_BYTES = 16 * 1024 * 1024

Reader = Callable[[BinaryIO, ReadStats], Iterator[tuple]]


def worth_a_child(local: LocalSource) -> bool:
    """Fork only where it is safe and pays: Linux, a single-threaded process, a large file."""
    return (
        sys.platform == "linux"
        and threading.active_count() == 1
        and local.path.stat().st_size >= MIN_BYTES
    )


class CountingReader:
    """A binary stream that tells ``progress`` how many bytes were read (for progress bars)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]):
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._raw.readline(size)
        self._progress(len(data))
        return data

    def __iter__(self):
        for line in self._raw:
            self._progress(len(line))
            yield line

    def __getattr__(self, name):
        return getattr(self._raw, name)


def rows_in_process(
    read: Reader, local: LocalSource, stats: ReadStats, progress: Callable[[int], None] | None
) -> Iterator[tuple]:
    """The rows ``read`` yields for ``local``, read here."""
    with open_rows(local) as raw:
        yield from read(CountingReader(raw, progress) if progress else raw, stats)


def rows_from_child(
    read: Reader, local: LocalSource, stats: ReadStats, progress: Callable[[int], None] | None
) -> Iterator[tuple]:
    """The rows ``read`` yields for ``local``, produced in a forked child; ``stats`` is filled
    when the iteration ends. Errors raised by the reader are raised here, unchanged."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_produce, args=(read, local, sender), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise SourceError("La lecture du fichier s'est interrompue.") from None
            if kind == "rows":
                rows, bytes_read = payload
                if progress:
                    progress(bytes_read)
                yield from rows
            elif kind == "error":
                raise payload
            else:
                stats.__dict__.update(payload.__dict__)
                return
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


def _produce(read: Reader, local: LocalSource, sender) -> None:
    try:
        stats = ReadStats()
        counted = [0]

        def count(n: int) -> None:
            counted[0] += n

        with open_rows(local) as fh:
            rows = read(CountingReader(fh, count), stats)
            while batch := list(islice(rows, BATCH)):
                sender.send(("rows", (batch, counted[0])))
                counted[0] = 0
        sender.send(("done", stats))
    except BaliseError as exc:
        sender.send(("error", exc))
    except Exception as exc:  # any reader failure reaches the parent as a French message
        sender.send(("error", SourceError(f"Lecture du fichier impossible : {exc}")))
    finally:
        sender.close()
