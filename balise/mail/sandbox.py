"""The sandbox operator: a real Dovecot 2.3 on loopback that speaks every MSSanté auth mode.

The tests start it (tests/support/dovecot.py), the benchmarks start it, and ``make run`` starts
it as a clearly labelled local operator so that provisioning and tests work out of the box.
Everything lives in one directory; its state (ports) is in ``sandbox.json`` there, so another
process can :meth:`MailSandbox.attach` to a running sandbox and add users, issue tokens or make
client certificates, because all three are files (users file, tokens file, PKI).

Public API::

    sandbox = MailSandbox(directory)          # nothing started yet; rogue=True: untrusted cert;
                                              # special_use=False: no \\Sent/\\Junk flags
    MailSandbox(directory, idle=False, inbox_prefix="INBOX.", special_use=False,
                auto_folders=False, relay_delay=(1, 3))   # like other operators' servers (below)
    sandbox.start()                           # PKI, config, token service, relay, dovecot -F
    sandbox.imap_port, .imaps_port, .lmtp_port, .submission_port, .submissions_port,
    sandbox.relay_port, .introspection_port, .host ("127.0.0.1"), .ca_path
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
    python -m balise.mail.sandbox [DIR]       # run it in the foreground until Ctrl+C (make run)

Variants that make the same Dovecot behave like other operators' servers (issue 12): ``idle=False``
announces no IDLE (nor NOTIFY) capability, so clients must poll; ``inbox_prefix="INBOX."`` puts
every folder under a Cyrus/Courier-like ``INBOX.`` namespace with "." as separator (``INBOX.Sent``,
``INBOX.Junk``); ``special_use=False`` leaves folders unflagged; ``auto_folders=False`` creates
no folder by itself (Sent, Junk, Trash exist once created, and stay deleted); ``relay_delay`` (seconds, or a
(min, max) range drawn at random) makes the relay accept a message at once and deliver it that
much later, like an operator's queue. ``delivered_at[test id]`` is when the relay finished
delivering a message carrying ``X-Balise-Test-Id`` (``time.perf_counter``, this process).

A restarted sandbox keeps its directory's ports (``ports.json``) when they are still free, so
accounts and watched mailboxes configured against it keep working.

Submission (Dovecot ``submission``) relays to a small aiosmtpd relay that hands messages to LMTP;
unknown recipients are refused with 550 at RCPT. Messages carrying ``X-Spam-Flag: YES`` are filed
in Junk, the way a spam filter would. Traps handled (../shared/recipes.md): the anvil auth
penalty is disabled, the directory is 0755 as root, and each account has its own passwd-file
(a shared one is re-read at most once a second, so each new account would cost a second) holding
a SHA512-CRYPT hash, never the password.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import secrets
import shutil
import smtplib
import socket
import subprocess
import threading
import time
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from balise.mail.passwords import sha512_crypt
from balise.mail.pki import TestPKI

log = logging.getLogger(__name__)

PORT_NAMES = ("imap", "imaps", "lmtp", "submission", "submissions", "relay", "introspection")
# The ANS cipher list (requires an RSA server certificate, which the test PKI makes).
ANS_CIPHERS = (
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lmtp_send(
    host: str, port: int, sender: str, rcpts: list[str], raw: bytes
) -> dict[str, tuple[int, bytes]]:
    """Deliver over LMTP; return the refused recipients. LMTP answers DATA once per accepted
    recipient, which ``smtplib.LMTP.sendmail`` does not read: the replies are read here."""
    refused: dict[str, tuple[int, bytes]] = {}
    with smtplib.LMTP(host, port, timeout=30) as lmtp:
        lmtp.ehlo()
        lmtp.mail(sender)
        accepted = []
        for rcpt in rcpts:
            code, msg = lmtp.rcpt(rcpt)
            if code in (250, 251):
                accepted.append(rcpt)
            else:
                refused[rcpt] = (code, msg)
        if accepted:
            replies = [lmtp.data(raw)] + [lmtp.getreply() for _ in accepted[1:]]
            for rcpt, (code, msg) in zip(accepted, replies, strict=True):
                if code != 250:
                    refused[rcpt] = (code, msg)
        else:
            lmtp.rset()
    return refused


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _reuse_ports(path: Path) -> dict[str, int]:
    """The ports of this directory's previous run when still free (mailboxes configured
    against the sandbox keep working after a restart), otherwise fresh ones; remembered."""
    old = _read_json(path)
    if set(old) == set(PORT_NAMES) and all(_port_is_free(p) for p in old.values()):
        ports = {k: int(v) for k, v in old.items()}
    else:
        ports = {name: free_port() for name in PORT_NAMES}
    path.write_text(json.dumps(ports))
    return ports


# Dovecot 2.3.19's own post-login capabilities without IDLE and NOTIFY (no push of any kind).
NO_PUSH_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH "
    "LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ "
    "SPECIAL-USE"
)


def _variant_config(
    config: str, special_use: bool, idle: bool, inbox_prefix: str, auto_folders: bool
) -> str:
    """The base configuration turned into one of the variants (module docstring)."""
    dropped = ([] if special_use else ["special_use"]) + ([] if auto_folders else ["auto ="])
    config = "".join(x for x in config.splitlines(True) if not any(d in x for d in dropped))
    if inbox_prefix:
        config = config.replace(
            "  separator = /\n", f"  separator = .\n  prefix = {inbox_prefix}\n", 1
        )
    if not idle:
        config += f"imap_capability = {NO_PUSH_CAPABILITY}\n"
    return config


def _render_config(d: Path, ports: dict[str, int], rogue: bool) -> str:
    cert, key = ("rogue", "rogue") if rogue else ("server", "server")
    return _CONFIG.format(
        dir=d,
        cert=d / "tls" / f"{cert}.crt",
        key=d / "tls" / f"{key}.key",
        ciphers=ANS_CIPHERS,
        **{f"p_{n}": p for n, p in ports.items()},
    )


# One setting per line, nothing after an opening brace (Dovecot's parser). Why each less usual
# line is there: see ../shared/recipes.md.
_CONFIG = """\
protocols = imap lmtp submission
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = balise-{p_imap}
log_path = {dir}/dovecot.log
hostname = mail.sandbox.test
postmaster_address = postmaster@sandbox.test
first_valid_uid = 8
last_valid_uid = 8
auth_failure_delay = 0
auth_mechanisms = plain login external xoauth2 oauthbearer
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_ca = <{dir}/tls/ca-with-crl.pem
ssl_verify_client_cert = yes
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {ciphers}
mail_location = maildir:~/Maildir:LAYOUT=fs
mail_fsync = never
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
passdb {{
  driver = static
  mechanisms = external
  args = nopassword=y
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=SHA512-CRYPT username_format=%u {dir}/users.d/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users.d/%u
  default_fields = uid=mail gid=mail home={dir}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p_imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {p_imaps}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
}}
service imap {{
  process_limit = 2048
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {p_lmtp}
  }}
}}
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {p_submission}
  }}
  inet_listener submissions {{
    address = 127.0.0.1
    port = {p_submissions}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
default_client_limit = 4096
mail_max_userip_connections = 50
submission_relay_host = 127.0.0.1
submission_relay_port = {p_relay}
submission_relay_trusted = yes
"""

_OAUTH2 = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
username_attribute = username
active_attribute = active
active_value = true
"""


class _Introspection(BaseHTTPRequestHandler):
    """RFC 7662-style token introspection answering from the sandbox's tokens file."""

    tokens_path: Path

    def do_POST(self) -> None:  # http.server calls it by this name
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        token = (form.get("token") or [""])[0]
        username = _read_json(self.tokens_path).get(token)
        body = json.dumps({"active": True, "username": username} if username else {"active": False})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args) -> None:  # tokens travel in requests: never log them
        pass


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class _Relay:
    """aiosmtpd handler: RCPT checked against the accounts, DATA handed to Dovecot's LMTP."""

    def __init__(self, sandbox: MailSandbox):
        self.sandbox = sandbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.sandbox.local_part_base(address) not in self.sandbox.users():
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.content)
        junk = (headers.get("X-Spam-Flag") or "").strip().upper() == "YES"
        # LMTP reads the detail under the namespace prefix: "Junk" is INBOX.Junk there.
        rcpts = [self.sandbox.with_folder(r, "Junk") if junk else r for r in envelope.rcpt_tos]
        test_id = (headers.get("X-Balise-Test-Id") or "").strip()
        args = (envelope.mail_from, rcpts, envelope.content, test_id)
        delay = self.sandbox.next_relay_delay()
        if delay:  # an operator's queue: accepted now, delivered later
            threading.Timer(delay, self._deliver_quietly, args).start()
            return "250 Message queued for delivery"
        try:
            if self._deliver(*args):
                return "550 5.1.1 Destinataire refusé"
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("relay to LMTP failed: %s", type(exc).__name__)
            return "451 4.3.0 Livraison impossible pour le moment"
        return "250 Message accepted for delivery"

    def _deliver(self, sender: str, rcpts: list[str], content: bytes, test_id: str) -> dict:
        refused = lmtp_send("127.0.0.1", self.sandbox.lmtp_port, sender, rcpts, content)
        if test_id and not refused:
            self.sandbox.delivered_at[test_id] = time.perf_counter()
        return refused

    def _deliver_quietly(self, *args) -> None:
        try:
            if self._deliver(*args):
                log.warning("queued message refused by LMTP")
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("queued delivery to LMTP failed: %s", type(exc).__name__)


class MailSandbox:
    """A Dovecot sandbox operator in ``directory`` (see the module docstring)."""

    host = "127.0.0.1"

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
        self.ports: dict[str, int] = {}
        self._dovecot: subprocess.Popen | None = None
        self._http: ThreadingHTTPServer | None = None
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
    users_dir = property(lambda self: self.directory / "users.d")
    tokens_path = property(lambda self: self.directory / "tokens.json")
    log_path = property(lambda self: self.directory / "dovecot.log")
    sent_folder = property(lambda self: f"{self.inbox_prefix}Sent")
    junk_folder = property(lambda self: f"{self.inbox_prefix}Junk")

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
        state = _read_json(sandbox.directory / "sandbox.json")
        if not state:
            raise FileNotFoundError(f"no running sandbox in {directory}")
        sandbox.ports, sandbox.rogue = state["ports"], state.get("rogue", False)
        return sandbox

    # ----- life cycle ------------------------------------------------------------------------
    def start(self) -> MailSandbox:
        """Prepare the directory and start the token service, the relay and Dovecot."""
        self._prepare()
        self._start_introspection()
        self._start_relay()
        self.start_dovecot()
        return self

    def _prepare(self) -> None:
        d = self.directory
        for sub in ("run", "state", "mail", "tls"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # Auth runs as 'dovecot' and mail as 'mail': as root the tree must be traversable.
        d.chmod(0o755)
        self.pki.ensure()
        if os.geteuid() == 0:
            shutil.chown(d / "mail", "mail", "mail")
            for key in (d / "tls").glob("*.key"):
                shutil.chown(key, "root", "dovecot")
        if not self.ports:
            self.ports = _reuse_ports(d / "ports.json")
        self.users_dir.mkdir(exist_ok=True)
        self.users_dir.chmod(0o755)
        if not self.tokens_path.exists():
            self.tokens_path.write_text("{}")
        (d / "oauth2.conf.ext").write_text(_OAUTH2.format(port=self.introspection_port))
        config = _render_config(d, self.ports, self.rogue)
        config = _variant_config(
            config, self.special_use, self.idle, self.inbox_prefix, self.auto_folders
        )
        self.config_path.write_text(config)
        state = {"ports": self.ports, "rogue": self.rogue, "pid": os.getpid()}
        (d / "sandbox.json").write_text(json.dumps(state))

    def _start_introspection(self) -> None:
        handler = type("Handler", (_Introspection,), {"tokens_path": self.tokens_path})
        self._http = ThreadingHTTPServer(("127.0.0.1", self.introspection_port), handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def _start_relay(self) -> None:
        from aiosmtpd.controller import Controller

        self._relay = Controller(_Relay(self), hostname="127.0.0.1", port=self.relay_port)
        self._relay.start()

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
            raise RuntimeError(f"doveadm {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def users(self) -> frozenset[str]:
        """Addresses that have an account (one passwd-file per account in ``users.d``)."""
        return frozenset(p.name for p in self.users_dir.iterdir() if not p.name.startswith("."))

    def add_user(self, address: str, password: str | None = None) -> str:
        """Create a mailbox account; return its password (random when not given)."""
        password = password or secrets.token_urlsafe(12)
        self.add_users({address: password})
        return password

    def add_users(self, accounts: dict[str, str]) -> None:
        """Create several accounts, then wait until Dovecot sees every one of them.

        One passwd-file per account: Dovecot opens a file it has never seen at once, whereas a
        shared file is re-read at most once a second (a second per new account)."""
        for address, password in accounts.items():
            if any(c in address + password for c in ":/\n") or "@" not in address:
                raise ValueError(f"invalid sandbox account {address!r}")
        for address, password in accounts.items():
            path = self.users_dir / address.lower()
            tmp = path.with_name(f".{path.name}.tmp")
            hashed = sha512_crypt(password, self.config_path)  # the password is never written
            tmp.write_text(f"{address.lower()}:{hashed}::::::\n")
            tmp.chmod(0o640)
            if os.geteuid() == 0:
                shutil.chown(tmp, "root", "dovecot")
            tmp.replace(path)
        for address in accounts:
            self._wait_user(address.lower(), present=True)

    def remove_user(self, address: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.users_dir / address.lower()).unlink()
        self._wait_user(address.lower(), present=False)

    def _wait_user(self, address: str, present: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = subprocess.run(
                ["doveadm", "-c", str(self.config_path), "user", address], capture_output=True
            )
            if (found.returncode == 0) == present:
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not see the change for {address} within {timeout} s")

    def issue_token(self, address: str) -> str:
        """A fresh OAuth2 access token for ``address``, known to the introspection service."""
        token = secrets.token_urlsafe(24)
        with open(self.tokens_path, "r+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            tokens = json.loads(fh.read() or "{}")
            tokens[token] = address.lower()
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(tokens))
        return token

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
    @staticmethod
    def local_part_base(address: str) -> str:
        """``a+Junk@d`` -> ``a@d`` (lower case), the account behind a detail address."""
        local, _, domain = address.lower().strip("<>").rpartition("@")
        return f"{local.split('+', 1)[0]}@{domain}"

    @staticmethod
    def with_folder(address: str, folder: str) -> str:
        """``a@d`` -> ``a+Folder@d``: LMTP files it in that folder (lmtp_save_to_detail_mailbox)."""
        local, _, domain = address.rpartition("@")
        return f"{local}+{folder}@{domain}"

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
            refused = lmtp_send(self.host, self.lmtp_port, sender, rcpts, raw)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        else:
            with smtplib.SMTP(self.host, self.relay_port, timeout=30) as smtp:
                smtp.sendmail(sender, rcpts, raw)


def main(argv: list[str] | None = None) -> None:
    """``python -m balise.mail.sandbox [DIR]``: run the sandbox operator until Ctrl+C."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Opérateur MSSanté bac à sable (Dovecot local).")
    parser.add_argument("directory", nargs="?", default="data/sandbox")
    args = parser.parse_args(argv)
    if shutil.which("dovecot") is None:
        raise SystemExit(
            "Dovecot n'est pas installé : apt-get install -y --no-install-recommends "
            "dovecot-imapd dovecot-lmtpd dovecot-submissiond"
        )
    sandbox = MailSandbox(args.directory).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f"Opérateur bac à sable prêt dans {sandbox.directory} (BAC À SABLE, pas un opérateur "
        f"MSSanté) : IMAP {sandbox.imap_port} (STARTTLS), IMAPS {sandbox.imaps_port}, "
        f"soumission {sandbox.submission_port} (STARTTLS), {sandbox.submissions_port} (TLS), "
        f"autorité de test {sandbox.ca_path}.",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
