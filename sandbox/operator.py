"""The sandbox operator as a long-running local service for ``make run``: start it in the
background, find it again, stop it. The server itself is ``sandbox.server.MailSandbox``.

Clearly a sandbox: a Dovecot on 127.0.0.1 with a throw-away CA; the BALs it holds are fictitious.
Its state lives in one directory (``BALISE_SANDBOX_DIR``, by default ``sandbox`` in the data
directory): ``sandbox.json`` (ports, pid), ``operator.log``, and ``secret.key``, the Fernet key
that seals the sandbox BALs' passwords when no ``BALISE_SECRET_KEY`` is configured (a sandbox key
beside sandbox data, never a real one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from balise.config import Settings
from balise.errors import ConfigurationError
from balise.secrets import new_key


def sandbox_dir(settings: Settings) -> Path:
    """The operator's directory: ``BALISE_SANDBOX_DIR``, else ``sandbox`` in the data directory."""
    chosen = os.environ.get("BALISE_SANDBOX_DIR", "").strip()
    return (Path(chosen) if chosen else settings.data_dir / "sandbox").resolve()


def running_pid(directory: Path) -> int | None:
    """The pid of the operator process serving ``directory``, if it is alive."""
    try:
        state = json.loads((directory / "sandbox.json").read_text())
        pid = int(state["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError):
        return None
    return pid


def secret_key(directory: Path) -> str:
    """The sandbox's own Fernet key (created once, readable by its owner only)."""
    path = directory / "secret.key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key())
        path.chmod(0o600)
    return path.read_text().strip()


def check_can_run() -> None:
    """ConfigurationError unless Dovecot and the relay's aiosmtpd (``dev`` extra) are installed."""
    if shutil.which("dovecot") is None:
        raise ConfigurationError(
            "Dovecot n'est pas installé : lancez « scripts/system-deps.sh » (paquets "
            "dovecot-imapd, dovecot-lmtpd, dovecot-submissiond)."
        )
    if importlib.util.find_spec("aiosmtpd") is None:
        raise ConfigurationError(
            "L'opérateur bac à sable a besoin des dépendances de développement : "
            "« make setup » (pip install -e '.[dev]')."
        )


def run_foreground(directory: Path) -> None:
    """Start the sandbox and serve until SIGTERM or SIGINT."""
    from sandbox.server import MailSandbox

    sandbox = MailSandbox(directory).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(1):
            if not sandbox.running:  # Dovecot died: say so and stop the rest
                break
    finally:
        sandbox.stop()


def start_background(directory: Path, wait_s: float = 20.0) -> int:
    """Start the operator in its own session (it outlives this command); return its pid."""
    if pid := running_pid(directory):
        return pid
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (directory / "sandbox.json").unlink()
    log = open(directory / "operator.log", "ab")  # noqa: SIM115 - handed to the child
    code = f"from sandbox.operator import run_foreground; run_foreground({str(directory)!r})"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=log, stderr=log, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if running_pid(directory) == child.pid:
            return child.pid
        if child.poll() is not None:
            break
        time.sleep(0.1)
    raise ConfigurationError(
        f"L'opérateur bac à sable n'a pas démarré : voir {directory / 'operator.log'} "
        "(Dovecot est-il installé ? « scripts/system-deps.sh »)."
    )


def stop(directory: Path, wait_s: float = 15.0) -> bool:
    """Stop the operator serving ``directory``; False when none was running."""
    pid = running_pid(directory)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and running_pid(directory) == pid:
        time.sleep(0.1)
    return True
