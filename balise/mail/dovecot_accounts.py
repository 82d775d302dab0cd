"""Accounts of a Dovecot that authenticates from passwd-files, laid out the way its configuration
names them (``passdb { driver = passwd-file ... }``):

- one file for every account: ``/etc/dovecot/users``;
- one file per account, when the path ends in ``%u``: ``/srv/dovecot/users.d/%u`` (Dovecot's own
  notation, ``args = username_format=%u /srv/dovecot/users.d/%u``).

A line is ``address:{SCHEME}hash::::::``; the password in clear is never written here. Dovecot
re-reads a shared file at most once a second but opens a file it has never seen at once, so with
one file per account a new account is usable in milliseconds. ``doveadm`` says when the running
server sees a change.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

PER_ACCOUNT = "%u"
# doveadm's exit status for « no such user »: the server answered the look-up.
_NO_SUCH_USER = 67


def _check_name(address: str) -> None:
    if "@" not in address or address.startswith(".") or any(c in address for c in ":/\n"):
        raise ValueError(f"adresse impossible dans un fichier d'utilisateurs : {address!r}")


def _line(address: str, hashed: str) -> str:
    if any(c in hashed for c in ":\n"):
        raise ValueError(f"empreinte impossible dans un fichier d'utilisateurs pour {address}")
    return f"{address}:{hashed}::::::\n"


def _readable_by_dovecot(path: Path) -> None:
    """Hashes are for Dovecot's auth process only: 0640, group dovecot when we are root (an
    unprivileged writer relies on the directory's set-group-ID bit instead)."""
    path.chmod(0o640)
    if os.geteuid() == 0:
        shutil.chown(path, "root", "dovecot")


class PasswdFile:
    """One passwd-file holding every account (appended and rewritten under a lock)."""

    def __init__(self, path: Path):
        self.path = path

    def exists(self) -> bool:
        return self.path.is_file()

    def users(self) -> set[str]:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return {line.split(":", 1)[0] for line in lines if line and not line.startswith("#")}

    def add(self, hashed: dict[str, str]) -> None:
        """Append one line per ``address: {SCHEME}hash``."""
        for address in hashed:
            _check_name(address)
        lines = "".join(_line(a.lower(), h) for a, h in hashed.items())
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(lines)

    def remove(self, addresses: Iterable[str]) -> None:
        gone = {a.lower() for a in addresses}
        with open(self.path, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            kept = [x for x in fh.read().splitlines(True) if x.split(":", 1)[0] not in gone]
            fh.seek(0)
            fh.truncate()
            fh.write("".join(kept))


class PasswdDirectory:
    """One passwd-file per account, named by the address, in ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory

    def exists(self) -> bool:
        return self.directory.is_dir()

    def users(self) -> set[str]:
        return {p.name for p in self.directory.iterdir() if not p.name.startswith(".")}

    def add(self, hashed: dict[str, str]) -> None:
        """Write each account's file whole, then rename it into place: Dovecot never reads a
        half-written one."""
        for address in hashed:
            _check_name(address)
        for address, value in hashed.items():
            path = self.directory / address.lower()
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(_line(address.lower(), value), encoding="utf-8")
            _readable_by_dovecot(tmp)
            tmp.replace(path)

    def remove(self, addresses: Iterable[str]) -> None:
        for address in addresses:
            _check_name(address)
            with contextlib.suppress(FileNotFoundError):
                (self.directory / address.lower()).unlink()


def passwd_files(path: Path | str) -> PasswdFile | PasswdDirectory:
    """The layout named by ``path``: a directory when it ends in ``%u``, else one file."""
    path = Path(path)
    if path.name == PER_ACCOUNT:
        return PasswdDirectory(path.parent)
    if PER_ACCOUNT in str(path):
        raise ValueError(f"{path} : « %u » ne peut être que le nom du fichier.")
    return PasswdFile(path)


def doveadm(config: Path | None, *args: str, stdin: str | None = None):
    """``doveadm [-c config] ARGS`` (a CompletedProcess, text mode)."""
    options = ["-c", str(config)] if config else []
    return subprocess.run(["doveadm", *options, *args], input=stdin, capture_output=True, text=True)


def wait_until_known(
    config: Path | None, address: str, present: bool = True, timeout: float = 5.0
) -> None:
    """Wait until ``doveadm user`` finds ``address`` (or no longer does); RuntimeError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (doveadm(config, "user", address.lower()).returncode == 0) == present:
            return
        time.sleep(0.05)
    raise RuntimeError(f"Dovecot ne voit pas le changement pour {address}")


def server_error(config: Path | None) -> str | None:
    """None when the Dovecot of ``config`` answers a user look-up; else doveadm's reason."""
    done = doveadm(config, "user", "balise-sonde@invalid")
    if done.returncode == _NO_SUCH_USER:
        return None
    return (done.stderr.strip().splitlines() or [f"doveadm : code {done.returncode}"])[-1]
