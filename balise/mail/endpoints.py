"""How a mailbox is reached, as operators publish it: TLS modes, default ports, SASL modes, and
the submission endpoint derived from IMAP when the operator gives none. Plain values only (no
socket, no imapclient), so that commands and forms that only describe a mailbox load nothing
more."""

from __future__ import annotations

TLS_MODES = ("starttls", "implicit")
# Default ports by TLS mode (RFC 8314): IMAP 143 / 993, submission 587 / 465.
IMAP_PORTS = {"starttls": 143, "implicit": 993}
SUBMISSION_PORTS = {"starttls": 587, "implicit": 465}
AUTH_MODES = ("password", "xoauth2", "oauthbearer", "external")


def submission_endpoint(
    imap_host: str,
    imap_tls: str,
    host: str | None = None,
    port: int | None = None,
    tls_mode: str | None = None,
) -> tuple[str, int, str]:
    """(host, port, TLS mode) of a mailbox's SMTP submission: what the operator published,
    each missing piece derived from IMAP (same host, same TLS mode, 587 or 465)."""
    tls = tls_mode or imap_tls
    return host or imap_host, port or SUBMISSION_PORTS.get(tls, 587), tls
