"""The sandbox's outgoing side: Dovecot's ``submission`` service relays to this small aiosmtpd
server, which hands messages to Dovecot's LMTP (submission cannot relay to LMTP itself).

Unknown recipients are refused with 550 at RCPT. Messages carrying ``X-Spam-Flag: YES`` are filed
in Junk, the way a spam filter would. With a relay delay the message is accepted at once and
delivered that much later, like an operator's queue. When a message carrying
``X-Balise-Test-Id`` has been delivered, ``delivered_at[test id]`` is stamped
(``time.perf_counter``, this process).

aiosmtpd is a development dependency (the ``dev`` extra): it is imported when the relay starts.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from email.parser import BytesHeaderParser
from typing import Protocol

log = logging.getLogger(__name__)


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


def local_part_base(address: str) -> str:
    """``a+Junk@d`` -> ``a@d`` (lower case), the account behind a detail address."""
    local, _, domain = address.lower().strip("<>").rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def with_folder(address: str, folder: str) -> str:
    """``a@d`` -> ``a+Folder@d``: LMTP files it in that folder (lmtp_save_to_detail_mailbox)."""
    local, _, domain = address.rpartition("@")
    return f"{local}+{folder}@{domain}"


class RelayTarget(Protocol):
    """What the relay needs of its sandbox."""

    lmtp_port: int
    delivered_at: dict[str, float]

    def users(self) -> frozenset[str]: ...

    def next_relay_delay(self) -> float: ...


class _Relay:
    """aiosmtpd handler: RCPT checked against the accounts, DATA handed to Dovecot's LMTP."""

    def __init__(self, target: RelayTarget):
        self.target = target

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if local_part_base(address) not in self.target.users():
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.content)
        junk = (headers.get("X-Spam-Flag") or "").strip().upper() == "YES"
        # LMTP reads the detail under the namespace prefix: "Junk" is INBOX.Junk there.
        rcpts = [with_folder(r, "Junk") if junk else r for r in envelope.rcpt_tos]
        test_id = (headers.get("X-Balise-Test-Id") or "").strip()
        args = (envelope.mail_from, rcpts, envelope.content, test_id)
        delay = self.target.next_relay_delay()
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
        refused = lmtp_send("127.0.0.1", self.target.lmtp_port, sender, rcpts, content)
        if test_id and not refused:
            self.target.delivered_at[test_id] = time.perf_counter()
        return refused

    def _deliver_quietly(self, *args) -> None:
        try:
            if self._deliver(*args):
                log.warning("queued message refused by LMTP")
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("queued delivery to LMTP failed: %s", type(exc).__name__)


def start_relay(target: RelayTarget, port: int):
    """Start the relay on 127.0.0.1:``port``; returns the aiosmtpd controller (``stop()``)."""
    from aiosmtpd.controller import Controller

    controller = Controller(_Relay(target), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
