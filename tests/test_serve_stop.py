"""``balise serve`` stopped by SIGTERM (systemd, ``kill``, a container's stop) stops Streamlit
with it: the real command, the real Streamlit, on a free port that is free again right after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _can_listen(port: int) -> bool:
    """Whether a new server could take the port now (with SO_REUSEADDR, as Streamlit's own
    server binds: connections the old one closed may linger in TIME_WAIT without holding it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie holds no port


def _until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_sigterm_stops_streamlit_and_frees_the_port(tmp_path):
    port = free_port()
    env = {**os.environ, "BALISE_DATABASE_URL": f"sqlite:///{tmp_path / 'balise.db'}"}
    env.pop("BALISE_USER", None)  # the local operator (an administrator) starts the server
    argv = [sys.executable, "-c", "from balise.cli import main; main()", "serve", "--port",
            str(port)]  # fmt: skip
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _until(lambda: _answers(port), 60), (tmp_path / "serve.log").read_text()
        [streamlit] = _children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=15) == 0, (tmp_path / "serve.log").read_text()
        assert _until(lambda: not _alive(streamlit), 5)
        assert _until(lambda: _can_listen(port), 5)
        assert not _answers(port)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
