"""A BAL at a real operator, not the sandbox's defaults: its servers as the operator publishes them — IMAP with
implicit TLS, submission on another host name and port with STARTTLS, a login that is not the
address — registered with ``balise mailbox add``, then ``balise bal test``: the message goes to
and from the BAL's address and the history stays under the BAL. On the usual Dovecot and on
Dovecot behaving like another operator (no IDLE, ``INBOX.`` namespace, unflagged folders, a
relay delivering 1–3 s after accepting), SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from balise.cli import cli
from balise.config import load_settings
from balise.mail.roundtrip import SEEN_BY
from balise.models import BalTest
from balise.services import bal_tests
from balise.services import provisioning as prov
from balise.services.access import SYSTEM
from tests.support.dovecot import (
    TEST_SECRET_KEY,
    add_login,
    add_operator_account,
    unique_address,
)

pytestmark = pytest.mark.mail

DOMAIN = "ehpad-lilas.mssante.fr"


def _run(database_url, tmp_path, *args, input=None):
    env = {
        "BALISE_SECRET_KEY": TEST_SECRET_KEY,
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_ALLOWED_DOMAINS": DOMAIN,
        "BALISE_PROVISION_BACKEND": "request",
    }
    result = CliRunner().invoke(cli, ["--database-url", database_url, *args], input=input, env=env)
    return result


@pytest.mark.parametrize("server_name", ["dovecot", "dovecot_other_operator"])
def test_bal_at_an_operator_with_its_published_endpoints_and_a_login(
    empty_db, database_url, tmp_path, request, server_name, monkeypatch
):
    server = request.getfixturevalue(server_name)
    address = unique_address("jean.dupont", DOMAIN)
    add_operator_account(server, address)
    # The operator gave a login and a password of its own: the address itself with that
    # password would be refused, so a passing test proves the login was used.
    login = "jdupont-" + address.split("@")[0].split(".", 2)[2].replace(".", "-")
    password = "Mdp-Operateur-7"
    add_login(server, login, address, password)
    provisioned = _run(database_url, tmp_path, "bal", "provision", "--type", "PER",
                       "--department", "01", "--address", address, "--first-name", "Jean",
                       "--last-name", "Dupont", "--holder-id", "10003456786")  # fmt: skip
    assert provisioned.exit_code == 0, provisioned.output
    assert _run(database_url, tmp_path, "bal", "confirm", address).exit_code == 0

    added = _run(
        database_url, tmp_path, "mailbox", "add", address, "--department", "01",
        "--host", "127.0.0.1", "--port", str(server.imaps_port), "--tls", "implicit",
        "--smtp-host", "localhost", "--smtp-port", str(server.submission_port),
        "--smtp-tls", "starttls", "--username", login, "--ca-bundle", str(server.ca_path),
        "--ask-secret", input=password + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == (
        f"Boîte {address} suivie (mot de passe, identifiant {login}, IMAP TLS implicite "
        f"127.0.0.1:{server.imaps_port}, envoi STARTTLS localhost:{server.submission_port})."
    )
    monkeypatch.setenv("BALISE_SECRET_KEY", TEST_SECRET_KEY)
    smtp, imap = bal_tests.accounts_for(empty_db, load_settings(), prov.get_bal(empty_db, address))
    assert (smtp.host, smtp.port, smtp.tls_mode, smtp.username, smtp.email) == (
        "localhost", server.submission_port, "starttls", login, address)  # fmt: skip
    assert (imap.host, imap.port, imap.tls_mode, imap.username) == (
        "127.0.0.1", server.imaps_port, "implicit", login)  # fmt: skip

    tested = _run(database_url, tmp_path, "bal", "test", address)
    assert tested.exit_code == 0, tested.output
    assert tested.stdout.startswith(
        f"{address} : réussi — Message reçu dans la boîte de réception. (connexion "
    )
    # The steps in French, each timed in French form (« 0,01 s »); JSON keeps their codes.
    timed = re.findall(r"(\w+) \d+,\d\d\u202fs", tested.stdout)
    assert timed == ["connexion", "authentification", "envoi", "réception"], tested.stdout
    with empty_db.connect() as conn:
        row = conn.execute(select(BalTest.sender, BalTest.recipient, BalTest.seen_by)).one()
    assert (row.sender, row.recipient) == (address, address)
    assert row.seen_by in SEEN_BY
    if server_name == "dovecot_other_operator":  # no push, delivered late: the re-check saw it
        assert row.seen_by == "check"
        assert tested.stdout.rstrip().endswith(" ; vu par vérification périodique)")
    history = bal_tests.history(empty_db, SYSTEM, addresses=[address])
    assert history[["adresse", "resultat"]].values.tolist() == [[address, "passed"]]
    assert prov.get_bal(empty_db, address).status == "test_passed"


def test_endpoint_refusals_name_the_field(empty_db, database_url, tmp_path):
    base = ["mailbox", "add", f"a.{os.getpid()}@{DOMAIN}", "--department", "01", "--host", "h",
            "--secret-env", "X"]  # fmt: skip
    bad_port = _run(database_url, tmp_path, *base, "--smtp-port", "70000")
    assert (bad_port.exit_code, bad_port.stderr) == (
        1, "Erreur : Le port SMTP doit être compris entre 1 et 65535.\n")  # fmt: skip
    bad_tls = _run(database_url, tmp_path, *base, "--smtp-tls", "ssl")
    assert bad_tls.exit_code == 2  # refused by the option's choices before anything runs
    derived = _run(database_url, tmp_path, *base, "--tls", "implicit")
    assert derived.stdout.strip().endswith("IMAP TLS implicite h:993, envoi TLS implicite h:465).")
