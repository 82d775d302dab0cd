"""Free TCP ports on the loopback interface, for the sandbox and the other throw-away servers of
the tests and benchmarks; and a sandbox's ports kept across restarts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def reuse_ports(path: Path, names: Iterable[str]) -> dict[str, int]:
    """The ports remembered in ``path`` when they are still free (mailboxes configured against a
    restarted sandbox keep working), otherwise fresh ones; remembered for the next run."""
    wanted = set(names)
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    if set(old) == wanted and all(port_is_free(int(p)) for p in old.values()):
        ports = {k: int(v) for k, v in old.items()}
    else:
        ports = {name: free_port() for name in sorted(wanted)}
    path.write_text(json.dumps(ports))
    return ports
