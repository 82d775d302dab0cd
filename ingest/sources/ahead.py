"""One background thread ahead of a consumer: used by the writer (reading and parsing the next
blocks while this one is written) and by the gzip reader (inflating the next megabytes while
these are parsed). Pure threading, no I/O of its own."""

from __future__ import annotations

from collections.abc import Iterator
from queue import Full, Queue
from threading import Event, Thread
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, computed by a background thread up to ``depth`` ahead, so that reading and
    parsing the next blocks (mostly in Arrow, which releases the GIL) overlaps with writing this
    one (in C: ADBC, SQLite). An exception in the thread is raised here; leaving early stops the
    thread before returning, so nothing reads the source after its file is closed."""
    queue: Queue = Queue(depth)
    stop = Event()

    def put(entry: tuple) -> None:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return
            except Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                put((item, None))
                if stop.is_set():
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((_END, exc))

    thread = Thread(target=produce, name="balise-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()
