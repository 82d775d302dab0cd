"""balise.mail.connection against the real Dovecot sandbox: every TLS and auth mode, and the
failures each translated into a French MailError naming its step."""

from __future__ import annotations

import dataclasses
import logging
import smtplib
import socket
import threading
import time

import pytest

from balise.errors import MailError
from balise.formatting import THIN
from balise.mail.connection import ANS_CIPHERS, open_imap, open_smtp
from sandbox.harness import running_sandbox
from tests.support.dovecot import AUTH_MODES, account_for, unique_address

pytestmark = pytest.mark.mail


RAW = b"From: a@pharmacie.test\r\nTo: {to}\r\nSubject: essai\r\n\r\ncorps\r\n"


@pytest.mark.parametrize(("auth_mode", "tls_mode"), AUTH_MODES)
def test_imap_logs_in_with_every_mode_and_sees_delivered_mail(dovecot, auth_mode, tls_mode):
    address = unique_address("imap")
    password = dovecot.add_user(address)
    dovecot.deliver(address, RAW.replace(b"{to}", address.encode()))
    timings: dict[str, float] = {}
    account = account_for(dovecot, address, auth_mode, tls_mode, password=password)
    client = open_imap(account, timings)
    try:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    finally:
        client.logout()
    expected = {"connect", "auth"} | ({"tls"} if tls_mode == "starttls" else set())
    assert set(timings) == expected
    assert all(0 <= t < 5 for t in timings.values())


@pytest.mark.parametrize(("auth_mode", "tls_mode"), AUTH_MODES)
def test_smtp_submits_with_every_mode(dovecot, auth_mode, tls_mode):
    sender, target = unique_address("smtp"), unique_address("dest")
    password = dovecot.add_user(sender)
    target_password = dovecot.add_user(target)
    account = account_for(dovecot, sender, auth_mode, tls_mode, protocol="smtp", password=password)
    smtp = open_smtp(account)
    try:
        smtp.sendmail(sender, [target], RAW.replace(b"{to}", target.encode()))
    finally:
        smtp.quit()
    reader = open_imap(account_for(dovecot, target, password=target_password))
    try:
        assert reader.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    finally:
        reader.logout()


def test_untrusted_server_certificate_is_refused(rogue_dovecot):
    address = unique_address("rogue")
    password = rogue_dovecot.add_user(address)
    for tls_mode in ("starttls", "implicit"):
        account = account_for(rogue_dovecot, address, "password", tls_mode, password=password)
        with pytest.raises(
            MailError, match=r"^Certificat du serveur refusé par 127\.0\.0\.1:"
        ) as e:
            open_imap(account)
        assert e.value.step == "tls"


def test_wrong_password_is_an_auth_refusal(dovecot):
    address = unique_address("wrong")
    dovecot.add_user(address)
    account = account_for(dovecot, address, "password", password="pas-le-bon")
    with pytest.raises(MailError) as e:
        open_imap(account)
    assert str(e.value) == (
        f"Authentification refusée pour {address} sur {account.where} (mode password)."
    )
    assert e.value.step == "auth"


def test_a_server_failing_by_itself_is_not_called_a_refusal():
    # A server of its own (not the session's): its accounts become unreadable to its Dovecot,
    # which answers « [UNAVAILABLE] Temporary authentication failure » to a right password.
    with running_sandbox() as server:
        address = unique_address("panne")
        account = account_for(server, address, "password", password=server.add_user(address))
        time.sleep(1.2)  # Dovecot re-reads a passwd-file at most once a second
        server.users_dir.chmod(0)
        try:
            time.sleep(1.2)
            with pytest.raises(MailError) as e:
                open_imap(account)
        finally:
            server.users_dir.chmod(0o755)
    assert str(e.value) == (
        f"Le serveur {account.where} n'a pas pu vérifier l'identifiant {address} (erreur "
        "interne du serveur : « Temporary authentication failure. ») ; voir son journal."
    )
    assert e.value.step == "auth"


def test_unknown_token_and_foreign_certificate_are_refused(dovecot):
    address = unique_address("token")
    dovecot.add_user(address)
    account = account_for(dovecot, address, "xoauth2")
    other = account_for(dovecot, unique_address("other"), "xoauth2")
    # The other account's token names someone else: Dovecot must refuse it for this login.
    with pytest.raises(MailError, match="^Authentification refusée"):
        open_imap(dataclasses.replace(account, secret_ref=other.secret_ref))
    # A certificate for an address with no mailbox: TLS succeeds, EXTERNAL cannot log in.
    ghost = account_for(dovecot, unique_address("ghost"), "external", "implicit")
    with pytest.raises(MailError, match="^Authentification refusée"):
        open_imap(ghost)


def test_closed_port_is_a_connection_failure(dovecot):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    account = dataclasses.replace(account_for(dovecot, "x@sandbox.test", password="x"), port=port)
    with pytest.raises(MailError, match=rf"^Connexion impossible à 127\.0\.0\.1:{port} \("):
        open_imap(account)


def test_silent_server_is_a_timeout(dovecot):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    port = listener.getsockname()[1]
    account = dataclasses.replace(
        account_for(dovecot, "x@sandbox.test", password="x"), port=port, timeout=0.3
    )
    try:
        with pytest.raises(MailError) as e:
            open_imap(account)
        # The timeout as French writes it: decimal comma, narrow no-break space before « s ».
        assert (
            str(e.value)
            == f"Délai dépassé (0,3{THIN}s) à l'étape « connexion » avec 127.0.0.1:{port}."
        )
    finally:
        listener.close()


def test_ans_ciphers_and_crl_checking(dovecot):
    address = unique_address("ans")
    password = dovecot.add_user(address)
    account = dataclasses.replace(
        account_for(dovecot, address, "password", "implicit", password=password),
        ans_ciphers=True,
        crl=str(dovecot.pki.crl_path),
    )
    client = open_imap(account)
    try:
        name, version, _bits = client.socket().cipher()
    finally:
        client.logout()
    assert version == "TLSv1.2"
    assert name in ANS_CIPHERS.split(":")


def test_secret_never_reaches_the_logs(dovecot, caplog):
    address = unique_address("logs")
    password = dovecot.add_user(address, "Tr3s-Secret-Mot")
    caplog.set_level(logging.DEBUG)
    token_account = account_for(dovecot, address, "xoauth2")
    open_imap(account_for(dovecot, address, password=password)).logout()
    open_imap(token_account).logout()
    with pytest.raises(MailError):
        open_imap(account_for(dovecot, address, password="Faux-Mot-De-Passe"))
    text = caplog.text + repr(token_account)
    assert "Tr3s-Secret-Mot" not in text
    assert "Faux-Mot-De-Passe" not in text
    assert token_account.secret() not in text
    assert address in caplog.text  # the logs do say who connected


def test_sandbox_relay_refuses_unknown_recipients_and_files_spam_in_junk(dovecot):
    address = unique_address("relais")
    password = dovecot.add_user(address)
    spam = RAW.replace(b"{to}", address.encode()).replace(
        b"Subject:", b"X-Spam-Flag: YES\r\nSubject:"
    )
    dovecot.deliver(address, spam, via="smtp")
    dovecot.deliver(address, RAW.replace(b"{to}", address.encode()), via="smtp")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        dovecot.deliver(unique_address("inconnu"), b"Subject: x\r\n\r\nx\r\n", via="smtp")
    assert next(iter(refused.value.recipients.values()))[0] == 550
    client = open_imap(account_for(dovecot, address, password=password))
    try:
        junk = client.select_folder("Junk", readonly=True)[b"EXISTS"]
        inbox = client.select_folder("INBOX", readonly=True)[b"EXISTS"]
    finally:
        client.logout()
    assert (inbox, junk) == (1, 1)


def test_revoked_client_certificate_cannot_log_in():
    from sandbox.harness import running_sandbox

    with running_sandbox() as server:
        address = unique_address("revoquee")
        server.add_user(address)
        account = account_for(server, address, "external", "implicit")
        open_imap(account).logout()
        server.revoke_client_cert(address)
        with pytest.raises(MailError) as e:
            open_imap(account)
        # Dovecot checks the CRL: the certificate no longer names anyone, EXTERNAL is refused.
        assert str(e.value).startswith(f"Authentification refusée pour {address} ")
        other = unique_address("valide")
        server.add_user(other)
        open_imap(account_for(server, other, "external", "implicit")).logout()


def test_a_restarted_sandbox_keeps_its_ports_and_accounts():
    import shutil
    import tempfile
    from pathlib import Path

    from sandbox.server import MailSandbox

    # Not pytest's tmp_path: its parents are 0700 and Dovecot's auth runs as 'dovecot'.
    directory = Path(tempfile.mkdtemp(prefix="balise-operateur-"))
    first = MailSandbox(directory).start()
    address = unique_address("persistante")
    password = first.add_user(address)
    ports = dict(first.ports)
    first.stop()
    again = MailSandbox(directory).start()
    try:
        assert again.ports == ports
        assert MailSandbox.attach(directory).ports == ports
        open_imap(account_for(again, address, password=password)).logout()
    finally:
        again.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_the_other_operator_set_up_behaves_as_it_claims(dovecot_other_operator):
    """The Dovecot the operator-like tests use: no IDLE nor NOTIFY, folders under "INBOX." with "."
    as separator, without special-use flags, none created by the server itself."""
    from tests.support.dovecot import add_operator_account

    server = dovecot_other_operator
    bare = unique_address("nu")
    password = server.add_user(bare)
    client = open_imap(account_for(server, bare, password=password))
    try:
        assert not client.has_capability("IDLE") and not client.has_capability("NOTIFY")
        assert client.namespace().personal == (("INBOX.", "."),)
        assert [name for _f, _s, name in client.list_folders()] == ["INBOX"]
    finally:
        client.logout()
    provisioned = unique_address("pourvu")
    password = add_operator_account(server, provisioned)
    client = open_imap(account_for(server, provisioned, password=password))
    try:
        listed = client.list_folders()
    finally:
        client.logout()
    assert sorted(name for _f, _s, name in listed) == ["INBOX", "INBOX.Junk", "INBOX.Sent"]
    assert {sep for _f, sep, _n in listed} == {b"."}
    assert not [f for flags, _s, _n in listed for f in flags if f.lower() in (b"\\sent", b"\\junk")]
