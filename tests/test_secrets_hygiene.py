"""No secret in clear, anywhere we write: after signing in, provisioning a BAL on the real Dovecot
sandbox, running its round trip, watching mailboxes by password and by OAuth2 token and polling
them, neither the logs (every logger at DEBUG, libraries included) nor any column of any table
holds a password, a token or the encryption key. And the hardening rules checked in code:
TLS verification always on (TLS 1.2 minimum) for mail and downloads, no raw HTML."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import ssl
from pathlib import Path

import pytest
from sqlalchemy import select

from balise.config import Settings
from balise.errors import PermissionDenied
from balise.mail.connection import ssl_context
from balise.models import ProvisionedBal, WatchedMailbox
from balise.referentials.bal_rules import BalRequest
from balise.services import bal_tests, users
from balise.services import provisioning as prov
from balise.services.access import SYSTEM
from balise.services.watched_mailboxes import WatchRequest, add_watched
from ingest.poll import run_poll
from ingest.sources.https import tls_context
from tests.support.activity import raw_message
from tests.support.dovecot import TEST_SECRET_KEY, unique_address
from tests.support.store_dump import all_text

DOMAIN = "ehpad-lilas.mssante.fr"
ACCOUNT_PASSWORD = "Balise-compte-local-2026!"
TYPO_PASSWORD = "Balise-compte-local-2062!"  # a wrong attempt is a secret too


def _decoded_base64(text: str) -> str:
    """Every base64-looking run of the text, decoded: SASL PLAIN and XOAUTH2 carry their
    secrets base64-encoded, so a protocol trace could leak them in that form."""
    out = []
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            out.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join(out)


def _watch(engine, dovecot, address: str, auth_mode: str, secret: str) -> None:
    request = WatchRequest(
        address=address, department="38", imap_host=dovecot.host, imap_port=dovecot.imap_port,
        tls_mode="starttls", auth_mode=auth_mode, secret=secret, ca_bundle=str(dovecot.ca_path),
    )  # fmt: skip
    add_watched(engine, SYSTEM, request, TEST_SECRET_KEY)


def _sign_in(engine) -> None:
    users.add_user(engine, SYSTEM, users.NewUser("admin", "admin", (), ACCOUNT_PASSWORD))
    users.authenticate(engine, "admin", ACCOUNT_PASSWORD)
    with pytest.raises(PermissionDenied):
        users.authenticate(engine, "admin", TYPO_PASSWORD)


def _provision_and_test(engine, tmp_path, dovecot) -> str:
    settings = Settings(
        data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=TEST_SECRET_KEY,
        **dovecot.provisioning_settings(),
    )  # fmt: skip
    request = BalRequest("PER", "38", unique_address("jeanne", DOMAIN), "Jeanne", "Durand",
                         "10003456786")  # fmt: skip
    report = prov.provision(engine, SYSTEM, settings, request)
    assert report.secret and report.status == "provisioned"
    assert bal_tests.run_bal_test(engine, SYSTEM, settings, report.address).outcome == "passed"
    return report.secret


def _watch_and_poll(engine, dovecot) -> tuple[str, str]:
    by_password, by_token = unique_address("suivi"), unique_address("jeton")
    password = dovecot.add_user(by_password)
    dovecot.add_user(by_token)
    token = dovecot.issue_token(by_token)
    _watch(engine, dovecot, by_password, "password", password)
    _watch(engine, dovecot, by_token, "xoauth2", token)
    for address in (by_password, by_token):
        dovecot.deliver(address, raw_message("a@pharma.test", [address]))
    outcomes = run_poll(engine, SYSTEM, secret_key=TEST_SECRET_KEY, timeout=10.0).outcomes
    assert sorted(o.messages for o in outcomes) == [1, 1], outcomes
    return password, token


@pytest.mark.mail
def test_no_secret_in_logs_or_database_after_provisioning_and_polling(
    empty_db, tmp_path, dovecot, caplog
):
    caplog.set_level(logging.DEBUG)  # the root logger: imapclient, smtplib users, SQLAlchemy...
    _sign_in(empty_db)
    bal_password = _provision_and_test(empty_db, tmp_path, dovecot)
    watched_password, token = _watch_and_poll(empty_db, dovecot)

    secrets = {
        "local account password": ACCOUNT_PASSWORD,
        "mistyped password": TYPO_PASSWORD,
        "provisioned BAL password": bal_password,
        "watched mailbox password": watched_password,
        "OAuth2 token": token,
        "encryption key": TEST_SECRET_KEY,
    }
    dump = all_text(empty_db)
    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    logs += _decoded_base64(logs)
    # Sanity: the dump and the logs are real (they hold what they should).
    assert "bal.provision" in dump and "scrypt$" in dump
    assert len(caplog.records) > 20
    for label, value in secrets.items():
        assert value not in dump, f"{label} found in the database"
        assert value not in logs, f"{label} found in the logs"
    # The stored references are encrypted, and not by a reversible encoding of the secret.
    with empty_db.connect() as conn:
        refs = conn.scalars(select(ProvisionedBal.secret_ref)).all()
        refs += conn.scalars(select(WatchedMailbox.secret_ref)).all()
    assert len(refs) == 3 and all(r.startswith("enc:") for r in refs)


# ----- hardening: TLS checks always on, no HTML built from data --------------------------------

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = (
    "CERT_NONE", "check_hostname = False", "verify=False", "_create_unverified_context",
    "unsafe_allow_html", "st.html(", "components.html",
)  # fmt: skip


@pytest.mark.parametrize(
    "make_context",
    [lambda: ssl_context(), lambda: ssl_context(ans_ciphers=True), lambda: tls_context(None)],
    ids=["mail", "mail-ans-ciphers", "downloads"],
)
def test_tls_contexts_verify_certificates_and_refuse_below_tls_1_2(make_context):
    context = make_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_no_code_turns_tls_checks_off_or_renders_raw_html():
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for package in ("balise", "ingest", "dashboard")
        for path in sorted((ROOT / package).rglob("*.py"))
        for needle in FORBIDDEN
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
