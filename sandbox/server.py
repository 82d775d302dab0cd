"""The sandbox operator: a real Dovecot 2.3 on loopback that speaks every MSSanté auth mode.

The tests start it (tests/support/dovecot.py), the benchmarks start it, and ``make run`` starts
it as a clearly labelled local operator (``sandbox.operator``) so that provisioning and tests
work out of the box. Everything lives in one directory; its state (ports) is in ``sandbox.json``
there, so another process can :meth:`MailSandbox.attach` to a running sandbox and add users,
issue tokens or make client certificates, because all three are files (one passwd-file per
account in ``users.d``, the tokens file, the PKI).

Public API::

    sandbox = MailSandbox(directory)          # nothing started yet; rogue=True: untrusted cert;
                                              # special_use=False: no \\Sent/\\Junk flags
    MailSandbox(directory, idle=False, inbox_prefix="INBOX.", special_use=False,
                auto_folders=False, relay_delay=(1, 3))   # like other operators' servers
    sandbox.start()                           # PKI, config, token service, relay, dovecot -F
    sandbox.imap_port, .imaps_port, .lmtp_port, .submission_port, .submissions_port,
    sandbox.relay_port, .introspection_port, .host ("127.0.0.1"), .ca_path
    sandbox.provisioning_settings()           # the settings of Balise's dovecot backend,
    sandbox.provisioning_env()                # ... or as BALISE_* environment variables
    sandbox.add_user(address, password=None)  # returns the password; waits for ``doveadm user``
    sandbox.add_users({address: password})    # many at once, one wait
    sandbox.remove_user(address)
    sandbox.issue_token(address) -> str       # an OAuth2 access token (XOAUTH2 / OAUTHBEARER)
    sandbox.client_cert_for(address) -> (crt, key)   # CN = address, for TLS + SASL EXTERNAL
    sandbox.revoke_client_cert(address)       # on the CRL (Dovecot restarted to re-read it)
    sandbox.deliver(to, raw_bytes, sender=..., via="lmtp"|"smtp", folder=None)
    sandbox.doveadm("mailbox", "list", "-u", address) -> stdout
    sandbox.stop_dovecot() / sandbox.start_dovecot() / sandbox.restart() / sandbox.stop()
    MailSandbox.attach(directory)             # an already running sandbox (another process)

The parts, one module each: the Dovecot configuration and its variants
(``sandbox.dovecot_config``: no IDLE, ``INBOX.`` namespace, unflagged or absent folders), the
token service (``sandbox.tokens``), the relay behind Dovecot's submission with its optional delay
(``sandbox.relay``), the test PKI (``sandbox.pki``); accounts are passwd-files written by the
core's ``balise.mail.dovecot_accounts``, as the ``dovecot`` provisioning backend writes them:
one per account (a shared one is re-read at most once a second), holding a SHA512-CRYPT hash,
never the password.

A restarted sandbox keeps its directory's ports (``ports.json``) when they are still free, so
accounts and watched mailboxes configured against it keep working. Traps handled
(../shared/recipes.md): the anvil auth penalty is disabled, the directory is 0755 as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import smtplib
import socket
import subprocess
import time
from pathlib import Path

from balise.errors import MailError
from balise.mail.dovecot_accounts import PER_ACCOUNT, PasswdDirectory, wait_until_known
from balise.mail.passwords import sha512_crypt
from sandbox import dovecot_config, relay, tokens
from sandbox.pki import TestPKI
from sandbox.ports import reuse_ports

PORT_NAMES = ("imap", "imaps", "lmtp", "submission", "submissions", "relay", "introspection")


class MailSandbox:
    """A Dovecot sandbox operator in ``directory`` (see the module docstring)."""

    host = "127.0.0.1"
    local_part_base = staticmethod(relay.local_part_base)
    with_folder = staticmethod(relay.with_folder)

    def __init__(
        self,
        directory: Path | str,
        rogue: bool = False,
        special_use: bool = True,
        idle: bool = True,
        inbox_prefix: str = "",
        relay_delay: float | tuple[float, float] | None = None,
        auto_folders: bool = True,
    ):
        self.directory = Path(directory)
        self.rogue = rogue
        # False: folders carry no special-use flag (older servers): clients must go by name.
        self.special_use = special_use
        self.idle, self.inbox_prefix, self.relay_delay = idle, inbox_prefix, relay_delay
        self.auto_folders = auto_folders
        self.delivered_at: dict[str, float] = {}
        self.pki = TestPKI(self.directory / "tls")
        self.accounts = PasswdDirectory(self.directory / "users.d")
        self.ports: dict[str, int] = {}
        self._dovecot: subprocess.Popen | None = None
        self._http = None
        self._relay = None

    # ----- ports and paths -------------------------------------------------------------------
    imap_port = property(lambda self: self.ports["imap"])
    imaps_port = property(lambda self: self.ports["imaps"])
    lmtp_port = property(lambda self: self.ports["lmtp"])
    submission_port = property(lambda self: self.ports["submission"])
    submissions_port = property(lambda self: self.ports["submissions"])
    relay_port = property(lambda self: self.ports["relay"])
    introspection_port = property(lambda self: self.ports["introspection"])
    ca_path = property(lambda self: self.pki.ca_path)
    config_path = property(lambda self: self.directory / "dovecot.conf")
    users_dir = property(lambda self: self.accounts.directory)
    tokens_path = property(lambda self: self.directory / "tokens.json")
    log_path = property(lambda self: self.directory / "dovecot.log")
    sent_folder = property(lambda self: f"{self.inbox_prefix}Sent")
    junk_folder = property(lambda self: f"{self.inbox_prefix}Junk")

    @staticmethod
    def is_sandbox(directory: Path) -> bool:
        """Whether ``directory`` is a sandbox's (started at least once: it has its ports)."""
        return (directory / "ports.json").is_file()

    def provisioning_settings(self) -> dict[str, str]:
        """The settings that point Balise's ``dovecot`` backend at this sandbox's accounts."""
        return {
            "provision_backend": "dovecot",
            "dovecot_passwd_file": str(self.users_dir / PER_ACCOUNT),
            "dovecot_config": str(self.config_path),
        }

    def provisioning_env(self) -> dict[str, str]:
        """The same as ``BALISE_*`` environment variables."""
        return {f"BALISE_{k.upper()}": v for k, v in self.provisioning_settings().items()}

    def next_relay_delay(self) -> float:
        """Seconds the relay waits before delivering the next message (0: at once)."""
        if not self.relay_delay:
            return 0.0
        if isinstance(self.relay_delay, tuple):
            return random.uniform(*self.relay_delay)
        return float(self.relay_delay)

    @classmethod
    def attach(cls, directory: Path | str) -> MailSandbox:
        """The sandbox already running in ``directory`` (started by another process)."""
        sandbox = cls(directory)
        state = tokens.read_json(sandbox.directory / "sandbox.json")
        if not state:
            raise FileNotFoundError(f"no running sandbox in {directory}")
        sandbox.ports, sandbox.rogue = state["ports"], state.get("rogue", False)
        return sandbox

    # ----- life cycle ------------------------------------------------------------------------
    def start(self) -> MailSandbox:
        """Prepare the directory and start the token service, the relay and Dovecot."""
        self._prepare()
        self._http = tokens.start_introspection(self.tokens_path, self.introspection_port)
        self._relay = relay.start_relay(self, self.relay_port)
        self.start_dovecot()
        # Written last: a sandbox another process can attach to is one that answers.
        state = {"ports": self.ports, "rogue": self.rogue, "pid": os.getpid()}
        (self.directory / "sandbox.json").write_text(json.dumps(state))
        return self

    def _prepare(self) -> None:
        d = self.directory
        for sub in ("run", "state", "mail", "tls", "users.d"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # Auth runs as 'dovecot' and mail as 'mail': as root the tree must be traversable.
        d.chmod(0o755)
        self.users_dir.chmod(0o755)
        self.pki.ensure()
        if os.geteuid() == 0:
            shutil.chown(d / "mail", "mail", "mail")
            for key in (d / "tls").glob("*.key"):
                shutil.chown(key, "root", "dovecot")
        if not self.ports:
            self.ports = reuse_ports(d / "ports.json", PORT_NAMES)
        (d / "oauth2.conf.ext").write_text(dovecot_config.oauth2_config(self.introspection_port))
        config = dovecot_config.render_config(d, self.ports, self.rogue)
        config = dovecot_config.variant_config(
            config, self.special_use, self.idle, self.inbox_prefix, self.auto_folders
        )
        self.config_path.write_text(config)

    def start_dovecot(self) -> None:
        """Start ``dovecot -F`` and wait until IMAP answers."""
        self._dovecot = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._dovecot.poll() is not None:
                err = self._dovecot.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
                raise RuntimeError(f"dovecot exited: {err.strip()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.imap_port), timeout=0.5) as s,
            ):
                if s.recv(4).startswith(b"* OK"):
                    return
            time.sleep(0.02)
        raise RuntimeError("dovecot did not answer on its IMAP port within 10 s")

    def stop_dovecot(self) -> None:
        """Stop Dovecot only (the relay and token service stay up)."""
        if self._dovecot and self._dovecot.poll() is None:
            self._dovecot.terminate()
            try:
                self._dovecot.wait(10)
            except subprocess.TimeoutExpired:
                self._dovecot.kill()
                self._dovecot.wait()
        self._dovecot = None

    def restart(self) -> None:
        self.stop_dovecot()
        self.start_dovecot()

    def stop(self) -> None:
        """Stop everything this object started."""
        self.stop_dovecot()
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        with contextlib.suppress(OSError):
            (self.directory / "sandbox.json").unlink()

    @property
    def running(self) -> bool:
        return self._dovecot is not None and self._dovecot.poll() is None

    # ----- accounts --------------------------------------------------------------------------
    def doveadm(self, *args: str, check: bool = True) -> str:
        """Run ``doveadm -c <config> ARGS`` and return its standard output."""
        done = subprocess.run(
            ["doveadm", "-c", str(self.config_path), *args], capture_output=True, text=True
        )
        if check and done.returncode != 0:
            # What the server said last (« User lookup failed: Internal error occurred... »),
            # and where it logged the cause.
            said = (done.stderr.strip().splitlines() or [f"code {done.returncode}"])[-1]
            raise MailError(
                f"Le Dovecot du bac à sable a échoué : {said.strip()} Journal : {self.log_path}."
            )
        return done.stdout

    def users(self) -> frozenset[str]:
        """Addresses that have an account (one passwd-file per account in ``users.d``)."""
        return frozenset(self.accounts.users())

    def add_user(self, address: str, password: str | None = None) -> str:
        """Create a mailbox account; return its password (random when not given)."""
        password = password or secrets.token_urlsafe(12)
        self.add_users({address: password})
        return password

    def add_users(self, accounts: dict[str, str]) -> None:
        """Create several accounts (a SHA512-CRYPT hash each, never the password), then wait
        until Dovecot sees every one of them."""
        self.accounts.add({a: sha512_crypt(p, self.config_path) for a, p in accounts.items()})
        for address in accounts:
            wait_until_known(self.config_path, address, present=True)

    def remove_user(self, address: str) -> None:
        self.accounts.remove([address])
        wait_until_known(self.config_path, address, present=False)

    def issue_token(self, address: str) -> str:
        """A fresh OAuth2 access token for ``address``, known to the introspection service."""
        return tokens.issue_token(self.tokens_path, address)

    def client_cert_for(self, address: str) -> tuple[Path, Path]:
        """(certificate, key) of a client certificate from the test CA whose CN is ``address``."""
        return self.pki.client_cert_for(address.lower())

    def revoke_client_cert(self, address: str) -> None:
        """Put ``address``'s client certificate on the CRL and make Dovecot re-read it."""
        crt, _key = self.client_cert_for(address)
        revoked = self.directory / "tls" / "revoked.txt"
        names = set(revoked.read_text().split()) if revoked.exists() else set()
        names.add(crt.name)
        revoked.write_text("\n".join(sorted(names)))
        self.pki.write_crl([self.directory / "tls" / n for n in sorted(names)])
        if self.running:
            self.restart()  # the CA + CRL bundle is read when the configuration loads

    # ----- mail ------------------------------------------------------------------------------
    def deliver(
        self,
        to: str | list[str],
        raw: bytes,
        sender: str = "expediteur@sandbox.test",
        via: str = "lmtp",
        folder: str | None = None,
    ) -> None:
        """Deliver ``raw`` through the server: LMTP (default) or SMTP into the relay."""
        rcpts = [to] if isinstance(to, str) else list(to)
        if folder:
            rcpts = [self.with_folder(r, folder) for r in rcpts]
        if via == "lmtp":
            refused = relay.lmtp_send(self.host, self.lmtp_port, sender, rcpts, raw)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        else:
            with smtplib.SMTP(self.host, self.relay_port, timeout=30) as smtp:
                smtp.sendmail(sender, rcpts, raw)
