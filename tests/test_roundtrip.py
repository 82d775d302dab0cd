"""Round-trip tests against the real Dovecot sandbox: every auth mode, the Junk warning, the
timeout outcome, cleanup of the matched message only, the XDM archive; and against Dovecot
behaving like other operators' servers (no IDLE, IDLE that never pushes, ``INBOX.`` namespace,
unflagged Junk, a relay that delivers 1–3 s after accepting)."""

from __future__ import annotations

import dataclasses
import imaplib
import io
import ssl
import time
import zipfile
from email import message_from_bytes, policy

import pytest

from balise.formatting import THIN
from balise.mail.connection import open_imap
from balise.mail.probe_message import build_message, use_case
from balise.mail.roundtrip import SEEN_BY, STEPS, run_round_trip
from tests.support.dovecot import account_for, add_operator_account, unique_address

pytestmark = pytest.mark.mail


def _pair(dovecot, auth_mode="password", tls_mode="starttls", address=None, timeout=10.0):
    """(smtp account, imap account) of one fresh mailbox, in ``auth_mode``; the password is
    kept on the SMTP account object for independent clients (``_password``)."""
    address = address or unique_address("rt")
    # The mailbox must exist in every mode (with its Sent and Junk folders on servers that do
    # not create them); only password mailboxes sign in with the password.
    password = add_operator_account(dovecot, address)
    password = password if auth_mode == "password" else None
    kw = {"auth_mode": auth_mode, "tls_mode": tls_mode, "password": password, "timeout": timeout}
    smtp = account_for(dovecot, address, protocol="smtp", **kw)
    imap = account_for(dovecot, address, protocol="imap", **kw)
    _PASSWORDS[address] = password
    return smtp, imap


_PASSWORDS: dict[str, str | None] = {}


def _imap_count(dovecot, address, folder, criteria="ALL"):
    """Messages matching ``criteria`` as seen by a plain imaplib client (doveadm master user
    would do too; a separate login proves the state on the server)."""
    out = dovecot.doveadm("search", "-u", address, "mailbox", folder, *criteria.split())
    return len([line for line in out.splitlines() if line.strip()])


@pytest.mark.parametrize(
    ("auth_mode", "tls_mode"),
    [("password", "starttls"), ("xoauth2", "implicit"), ("oauthbearer", "starttls"),
     ("external", "starttls")],
)  # fmt: skip
def test_round_trip_passes_in_each_auth_mode(dovecot, auth_mode, tls_mode):
    smtp, imap = _pair(dovecot, auth_mode, tls_mode)
    seen = []
    result = run_round_trip(smtp, imap, on_step=lambda *event: seen.append(event[:2]))
    assert (result.outcome, result.folder, result.failed_step) == ("passed", "INBOX", None)
    assert result.message == "Message reçu dans la boîte de réception."
    assert set(result.steps) == set(STEPS)
    assert all(v >= 0 for v in result.steps.values()) and result.steps["visible"] < 5
    assert seen == [
        ("connect", "running"), ("connect", "ok"), ("auth", "running"), ("auth", "ok"),
        ("submit", "running"), ("submit", "ok"), ("visible", "running"), ("visible", "ok"),
    ]  # fmt: skip
    assert result.deleted and _imap_count(dovecot, imap.username, "INBOX") == 0
    # Dovecot delivers at once: the look when SMTP accepted, or the IDLE push, saw it.
    assert result.seen_by in ("submit", "push")


def test_message_filed_in_junk_is_a_warning(dovecot):
    # The sandbox relay files messages flagged by a spam filter (X-Spam-Flag: YES) in Junk,
    # the way SpamAssassin + Sieve would at an operator.
    smtp, imap = _pair(dovecot)
    result = run_round_trip(smtp, imap, extra_headers={"X-Spam-Flag": "YES"})
    assert (result.outcome, result.folder) == ("junk", "Junk")
    assert result.message == "Message reçu, mais classé dans le dossier Junk (indésirables)."
    assert _imap_count(dovecot, imap.username, "Junk") == 0


def test_timeout_is_an_outcome_not_a_crash(dovecot):
    smtp, _ = _pair(dovecot)
    _, elsewhere = _pair(dovecot)
    # The message goes to the sender itself while we watch another mailbox: it never shows.
    result = run_round_trip(smtp, elsewhere, recipient=smtp.username, timeout=1.0)
    assert (result.outcome, result.failed_step) == ("timeout", "visible")
    assert result.message == f"Le message de test n'est pas arrivé dans les 1{THIN}s."
    assert 1.0 <= result.steps["visible"] < 3.0


def test_only_the_matched_message_is_deleted(dovecot):
    smtp, imap = _pair(dovecot)
    for n in (1, 2):
        other = build_message("a@sandbox.test", imap.username, f"autre-{n}", use_case(None))
        dovecot.deliver(imap.username, other.as_bytes())
    dovecot.deliver(imap.username, b"Subject: spam\r\n\r\nhello\r\n", folder="Junk")
    result = run_round_trip(smtp, imap)
    assert result.outcome == "passed" and result.deleted
    assert _imap_count(dovecot, imap.username, "INBOX") == 2
    assert _imap_count(dovecot, imap.username, "Junk") == 1
    # An independent client finds the two other test-looking messages, not ours.
    context = ssl.create_default_context(cafile=str(dovecot.ca_path))
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as client:
        client.starttls(context)
        client.login(imap.username, _PASSWORDS[imap.username])
        client.select("INBOX")
        _, ours = client.search(None, "HEADER", "X-Balise-Test-Id", result.test_id)
        _, others = client.search(None, "HEADER", "X-Balise-Test-Id", "autre")
    assert ours == [b""] and len(others[0].split()) == 2


def test_refused_login_and_refused_recipient_are_failed_outcomes(dovecot):
    smtp, imap = _pair(dovecot)
    wrong, _ = _pair(dovecot)
    bad = account_for(dovecot, wrong.username, protocol="smtp", password="faux", timeout=5)
    result = run_round_trip(bad, imap)
    assert (result.outcome, result.failed_step) == ("failed", "auth")
    assert result.message.startswith(f"Authentification refusée pour {wrong.username}")
    result = run_round_trip(smtp, imap, recipient="inconnu@sandbox.test", timeout=2)
    assert (result.outcome, result.failed_step) == ("failed", "submit")
    assert result.message.startswith("Envoi refusé par le serveur SMTP")


def test_polling_is_used_where_idle_is_not(dovecot):
    smtp, imap = _pair(dovecot)
    result = run_round_trip(smtp, imap, prefer_idle=False, check_every=0.2)
    assert result.outcome == "passed" and result.seen_by in ("submit", "check")


def _timed_trip(smtp, imap, **kw):
    """run_round_trip, plus the moment the message was reported seen (perf_counter)."""
    seen_at = {}

    def on_step(step, state, _seconds):
        if (step, state) == ("visible", "ok"):
            seen_at["t"] = time.perf_counter()

    return run_round_trip(smtp, imap, on_step=on_step, **kw), seen_at.get("t")


def test_late_delivery_on_a_server_without_idle_is_seen_within_a_second(dovecot_other_operator):
    server = dovecot_other_operator
    smtp, imap = _pair(server)
    result, seen_at = _timed_trip(smtp, imap)
    assert (result.outcome, result.folder, result.seen_by) == ("passed", "INBOX", "check")
    delivered_at = server.delivered_at[result.test_id]
    # The relay queued it 1–3 s after accepting; the re-check found it within a second.
    assert result.steps["visible"] >= 1.0
    # (delivered_at is stamped once LMTP has answered and closed: a check may see it a hair
    # before, hence the small negative bound)
    assert -0.1 < seen_at - delivered_at < 1.0
    assert result.deleted and _imap_count(server, imap.username, "INBOX") == 0


def test_a_server_offering_idle_that_never_pushes(dovecot_silent_idle):
    """No « délai dépassé » for a message that arrived after 1 s: IDLE is announced,
    the push never comes; the re-check every half second finds the message anyway."""
    server, proxy = dovecot_silent_idle
    smtp, imap = _pair(server)
    imap = dataclasses.replace(imap, host=proxy.host, port=proxy.port, tls_mode="implicit")
    # First, the set-up itself: IDLE is offered, the server pushes, the client never hears it.
    client = open_imap(imap)
    try:
        assert client.has_capability("IDLE")
        client.select_folder("INBOX")
        client.idle()
        dropped = proxy.dropped
        server.deliver(imap.username, b"Subject: autre\r\n\r\nbonjour\r\n")
        assert client.idle_check(timeout=1.5) == []
        client.idle_done()
        assert proxy.dropped > dropped
    finally:
        client.logout()
    result, seen_at = _timed_trip(smtp, imap, timeout=10)
    assert (result.outcome, result.seen_by) == ("passed", "check")
    assert -0.1 < seen_at - server.delivered_at[result.test_id] < 1.0


def test_unflagged_junk_under_an_inbox_namespace_is_watched(dovecot_other_operator):
    server = dovecot_other_operator
    smtp, imap = _pair(server)
    result = run_round_trip(smtp, imap, extra_headers={"X-Spam-Flag": "YES"})
    assert (result.outcome, result.folder) == ("junk", "INBOX.Junk")
    assert result.message == (
        "Message reçu, mais classé dans le dossier INBOX.Junk (indésirables)."
    )
    assert result.deleted and _imap_count(server, imap.username, "INBOX.Junk") == 0


def test_every_way_of_seeing_the_message_has_a_french_label():
    assert set(SEEN_BY) == {"submit", "check", "push"}
    assert all(label and label[0].islower() for label in SEEN_BY.values())


def test_message_with_xdm_archive_and_mss_headers(dovecot):
    case = use_case("urgences_dlu")
    message = build_message("a@sandbox.test", "b@sandbox.test", "abc123", case, with_xdm=True)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["X-Balise-Test-Id"] == "abc123"
    assert (parsed["X-MSS-NIL"], parsed["X-MSS-INS"]) == ("Balise", "N")
    body, attachment = list(parsed.iter_parts())
    assert "dossier de liaison d'urgence" in body.get_content()
    assert attachment.get_filename() == "IHE_XDM.ZIP"
    names = zipfile.ZipFile(io.BytesIO(attachment.get_payload(decode=True))).namelist()
    assert names == [
        "INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/DOC0001.TXT",
    ]  # fmt: skip
    smtp, imap = _pair(dovecot)
    assert run_round_trip(smtp, imap, case=case, with_xdm=True).outcome == "passed"
