"""``balise mailbox add|list|remove`` and ``balise poll``: exact messages, secrets never printed
nor stored in clear, against the real Dovecot on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from balise.cli import cli
from balise.models import AuditEntry, WatchedMailbox
from balise.secrets import MISSING_KEY
from tests.support.activity import raw_message, seed_directory
from tests.support.dovecot import TEST_SECRET_KEY, unique_address

pytestmark = pytest.mark.mail


def run(database_url: str, *args: str, input: str | None = None, env: dict | None = None):
    runner = CliRunner()
    full_env = {"BALISE_SECRET_KEY": TEST_SECRET_KEY, **(env or {})}
    return runner.invoke(cli, ["--database-url", database_url, *args], input=input, env=full_env)


def test_add_list_poll_remove(empty_db, database_url, dovecot):
    seed_directory(empty_db)
    address = unique_address("cli")
    password = dovecot.add_user(address, "Mot-De-Passe-Cli-42")
    dovecot.deliver(address, raw_message("a@pharma.test", [address]))
    added = run(
        database_url, "mailbox", "add", address.upper(), "--department", "38",
        "--host", "127.0.0.1", "--port", str(dovecot.imap_port),
        "--ca-bundle", str(dovecot.ca_path), "--ask-secret", input=password + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == (
        f"Boîte {address} suivie (mot de passe, IMAP STARTTLS 127.0.0.1:{dovecot.imap_port}, "
        "envoi STARTTLS 127.0.0.1:587)."
    )
    with empty_db.connect() as conn:
        ref = conn.scalar(select(WatchedMailbox.secret_ref))
        actions = conn.scalars(select(AuditEntry.action)).all()
    assert ref.startswith("enc:") and password not in ref
    assert actions == ["mailbox.add"]

    polled = run(database_url, "poll", "--department", "38")
    assert polled.exit_code == 0, polled.output
    assert polled.stdout.startswith("1 boîte relevée, 0 en échec, 1 nouveau message compté en ")

    listed = run(database_url, "mailbox", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.strip().splitlines()
    assert lines[0].startswith(
        f"{address}  38  mot de passe, IMAP STARTTLS 127.0.0.1:{dovecot.imap_port}, envoi "
        "STARTTLS 127.0.0.1:587  secret : chiffré  relevée le "
    )
    assert lines[-1] == "1 boîte suivie."
    as_json = json.loads(run(database_url, "--json", "mailbox", "list").stdout)
    assert as_json["mailboxes"][0]["secret"] == "chiffré"
    for output in (added.output, polled.output, listed.output, json.dumps(as_json)):
        assert password not in output

    removed = run(database_url, "mailbox", "remove", address)
    assert (removed.exit_code, removed.stdout) == (0, f"Boîte {address} retirée du suivi.\n")
    again = run(database_url, "mailbox", "remove", address)
    assert (again.exit_code, again.stderr) == (
        1,
        f"Erreur : La boîte {address} n'est pas suivie.\n",
    )


def test_refusals_name_the_field(empty_db, database_url):
    bad = run(database_url, "mailbox", "add", "pas-une-adresse", "--department", "38",
              "--host", "h", "--secret-env", "X")  # fmt: skip
    assert (bad.exit_code, bad.stderr) == (
        1, "Erreur : L'adresse « pas-une-adresse » n'est pas une adresse valide.\n")  # fmt: skip
    no_secret = run(database_url, "mailbox", "add", "a@b.test", "--department", "38",
                    "--host", "h")  # fmt: skip
    assert no_secret.stderr == (
        "Erreur : Un mot de passe ou un jeton (ou sa référence env:/file:) est requis.\n"
    )
    no_key = run(database_url, "mailbox", "add", "a@b.test", "--department", "38", "--host", "h",
                 "--ask-secret", input="x\n", env={"BALISE_SECRET_KEY": ""})  # fmt: skip
    assert no_key.exit_code == 1
    assert no_key.stderr.endswith(f"Erreur : {MISSING_KEY}\n")
    ok = run(database_url, "mailbox", "add", "a@b.test", "--department", "38", "--host", "h",
             "--secret-env", "BAL_PASSWORD")  # fmt: skip
    assert ok.exit_code == 0
    twice = run(database_url, "mailbox", "add", "a@b.test", "--department", "38", "--host", "h",
                "--secret-env", "BAL_PASSWORD")  # fmt: skip
    assert twice.stderr == "Erreur : La boîte a@b.test est déjà suivie.\n"


def test_poll_reports_every_mailbox_then_fails_if_one_failed(empty_db, database_url, dovecot):
    healthy, broken = unique_address("cliok"), unique_address("clifail")
    password = dovecot.add_user(healthy, "Mot-De-Passe-Cli-43")
    dovecot.add_user(broken)
    run(database_url, "mailbox", "add", healthy, "--department", "38", "--host", "127.0.0.1",
        "--port", str(dovecot.imap_port), "--ca-bundle", str(dovecot.ca_path), "--ask-secret",
        input=password + "\n")  # fmt: skip
    run(database_url, "mailbox", "add", broken, "--department", "38", "--host", "127.0.0.1",
        "--port", str(dovecot.imap_port), "--ca-bundle", str(dovecot.ca_path),
        "--secret-env", "BALISE_TEST_ABSENT")  # fmt: skip
    empty = run(database_url, "poll", "--department", "01")
    assert (empty.exit_code, empty.stdout) == (0, "Aucune boîte suivie à relever.\n")
    polled = run(database_url, "poll")
    assert polled.exit_code == 1  # a failed mailbox fails the command (cron notices)
    assert polled.stderr == (
        f"Échec {broken} : Secret de {broken} indisponible : "
        "La variable d'environnement BALISE_TEST_ABSENT n'est pas définie.\n"
    )
    assert polled.stdout.startswith("2 boîtes relevées, 1 en échec, 0 nouveau message compté en ")
    as_json = run(database_url, "--json", "poll")
    outcomes = {o["address"]: o["ok"] for o in json.loads(as_json.stdout)["outcomes"]}
    assert (as_json.exit_code, outcomes) == (1, {healthy: True, broken: False})
