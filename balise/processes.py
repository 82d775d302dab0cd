"""Run a server program (Streamlit for ``balise serve``) as this command's child, so that stopping
the command stops the server: SIGTERM (systemd, ``kill``, a container's stop), SIGINT (Ctrl+C)
and SIGHUP (a closed terminal) are passed on to the child's whole process group, and a child
that outlives a grace period is killed. Without this a SIGTERM ended ``balise`` alone and left
Streamlit holding the port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_S = 10.0  # how long a stopped server may take to close before it is killed


def run_in_foreground(cmd: Sequence[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it ends; return its exit status (128 + N when ended by signal N, as a
    shell reports it). The child has its own process group: the signals reach it only through
    this process, once, and the group (any grandchild too) is ended with it."""
    child = subprocess.Popen(list(cmd), env=env, start_new_session=True)
    stop_asked: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        stop_asked.append(time.monotonic())
        _signal_group(child.pid, signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        return _wait(child, stop_asked)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:  # this process is ending for another reason: no orphan server
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()


def _wait(child: subprocess.Popen, stop_asked: list[float]) -> int:
    while True:
        try:
            status = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if stop_asked and time.monotonic() - stop_asked[0] > GRACE_S:
                _signal_group(child.pid, signal.SIGKILL)
            continue
        return 128 - status if status < 0 else status


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, signum)
