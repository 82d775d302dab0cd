"""Ingest jobs and their command-line commands: directory, FINESS, mailbox activity."""

import contextlib
import ctypes

# One glibc malloc arena for the whole process, not one per thread: ingests run threads (Arrow's
# parsers, the read-ahead thread) and each would otherwise keep its own arena, about 20 MB more
# peak memory on the national files, at the same speed. Set on import, before any thread starts.
_M_ARENA_MAX = -8  # glibc's malloc.h
with contextlib.suppress(OSError, AttributeError):  # not glibc
    ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, 1)
