"""The ``balise`` command as installed (``[project.scripts]``): run the click command line
(``balise.cli``), then leave without Python's teardown.

Freeing every module, object and library at exit costs a command 15 to 20 % of its start-up
(measured: 0.05 s of CPU for ``mailbox list``, 0.15 to 0.2 s for an ingest that leaves 200 MB of
Arrow and SQLAlchemy objects), time the user waits for nothing: the process is about to end.
So once the command is done, what the usual exit does that matters is done explicitly: the
``atexit`` handlers (logging's flush, temporary files' finalizers...), the store's connections
closed (SQLite checkpoints its WAL on the last close), the standard streams flushed; then
``os._exit`` with the command's status. A command that leaves a thread running (non-daemon)
exits the usual way, which waits for it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def main() -> NoReturn:
    from balise.cli import main as run

    try:
        run()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: int | str | None) -> NoReturn:
    """End the process with ``code`` as ``sys.exit`` would, minus the interpreter's teardown."""
    if _threads_still_running():
        raise SystemExit(code)
    atexit._run_exitfuncs()
    _close_stores()
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what sys.exit does with a message
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`balise ... | head`), a closed stream
            code = code or 120  # Python's status when flushing fails at exit
    os._exit(code or 0)


def _threads_still_running() -> bool:
    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon for t in threading.enumerate())


def _close_stores() -> None:
    if "balise.db" in sys.modules:  # else no store was opened (and SQLAlchemy is not loaded)
        from balise.db import close_engines

        close_engines()
