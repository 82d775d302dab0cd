"""BALISE_SECRET_KEY and the store (balise/services/keyring.py), on SQLite and PostgreSQL: the
key's fingerprint is recorded, never the key; another key is refused by every path that seals
or opens a stored secret (nothing written, nothing marked failed); a missing key is a
configuration error, not a failed BAL test; ``balise secret-key rotate`` re-encrypts every
stored secret in one transaction, audited."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update

from balise.cli import cli
from balise.config import Settings
from balise.db import make_engine
from balise.errors import ConfigurationError, PermissionDenied, ValidationError
from balise.models import AuditEntry, BalTest, Keyring, ProvisionedBal, WatchedMailbox
from balise.referentials.bal_rules import BalRequest
from balise.secrets import new_key
from balise.services import bal_tests, keyring
from balise.services import provisioning as prov
from balise.services.access import SYSTEM, Actor
from balise.services.watched_mailboxes import WatchRequest, add_watched
from ingest.poll import run_poll
from tests.support.dovecot import unique_address
from tests.support.store_dump import all_text, rows_by_table

OLD, NEW = new_key(), new_key()
DOMAIN = "ehpad-lilas.mssante.fr"


def _short(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _wrong_key_message(given: str, stored: str) -> str:
    return (
        f"La clé BALISE_SECRET_KEY (empreinte {_short(given)}…) n'est pas celle qui a chiffré "
        f"les secrets de cette base (empreinte {_short(stored)}…) : remettez la bonne clé, ou "
        "changez de clé avec « balise secret-key rotate »."
    )


def _watch(engine, address: str, key: str, secret: str | None = "mot-de-passe", **kw) -> None:
    request = WatchRequest(
        address=address, department="38", imap_host="127.0.0.1", imap_port=143,
        tls_mode="starttls", auth_mode="password", secret=secret, **kw,
    )  # fmt: skip
    add_watched(engine, SYSTEM, request, key)


def _sealed_refs(engine) -> list[str]:
    """Every ``enc:`` reference anywhere in the store (every column of every table)."""
    return re.findall(r"enc:[A-Za-z0-9_\-=]+", all_text(engine))


# ----- the fingerprint ----------------------------------------------------------------------


def test_the_first_key_is_recorded_as_its_fingerprint_never_the_key(empty_db):
    _watch(empty_db, "a@x.test", OLD)
    with empty_db.connect() as conn:
        (row,) = conn.execute(select(Keyring.name, Keyring.fingerprint)).all()
    assert row == ("secret_key", hashlib.sha256(OLD.encode()).hexdigest())
    assert OLD not in all_text(empty_db)
    keyring.require_key(empty_db, OLD)  # the same key goes on working


def test_another_valid_key_is_refused_naming_both_fingerprints(empty_db):
    _watch(empty_db, "a@x.test", OLD)
    before = rows_by_table(empty_db)
    with pytest.raises(ConfigurationError) as exc:
        _watch(empty_db, "b@x.test", NEW)
    assert str(exc.value) == _wrong_key_message(NEW, OLD)
    assert NEW not in str(exc.value)
    assert rows_by_table(empty_db) == before  # no second key in the store


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "BALISE_SECRET_KEY n'est pas définie : "),
        ("pas-une-cle", "BALISE_SECRET_KEY n'est pas une clé Fernet valide"),
    ],
)
def test_a_missing_or_malformed_key_is_a_configuration_error(empty_db, key, message):
    with pytest.raises(ConfigurationError, match=f"^{message}"):
        _watch(empty_db, "a@x.test", key)
    with empty_db.connect() as conn:
        assert conn.scalar(select(Keyring.fingerprint)) is None


def test_a_first_key_must_open_the_secrets_already_stored(empty_db):
    # A store from before fingerprints: secrets sealed with OLD, nothing recorded.
    _watch(empty_db, "a@x.test", OLD)
    with empty_db.begin() as conn:
        conn.execute(delete(Keyring))
    with pytest.raises(ConfigurationError, match="n'ouvre pas les secrets déjà enregistrés"):
        keyring.require_key(empty_db, NEW)
    keyring.require_key(empty_db, OLD)
    with empty_db.connect() as conn:
        assert conn.scalar(select(Keyring.fingerprint)) == hashlib.sha256(OLD.encode()).hexdigest()


def test_polling_with_another_key_is_one_configuration_error(empty_db):
    _watch(empty_db, "a@x.test", OLD)
    with pytest.raises(ConfigurationError, match="n'est pas celle qui a chiffré"):
        run_poll(empty_db, SYSTEM, secret_key=NEW, timeout=1.0)
    with empty_db.connect() as conn:  # no mailbox marked as failing
        polled = conn.execute(select(WatchedMailbox.last_poll_at, WatchedMailbox.last_poll_message))
        assert polled.all() == [(None, None)]


# ----- the BAL paths (real Dovecot sandbox) ---------------------------------------------------


def _settings(tmp_path, dovecot, key: str) -> Settings:
    return Settings(
        data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=key,
        **dovecot.provisioning_settings(),
    )  # fmt: skip


def _per(address: str) -> BalRequest:
    return BalRequest("PER", "38", address, "Jeanne", "Durand", "10003456786")


def _test_lines(engine) -> list[tuple]:
    with engine.connect() as conn:
        tests = conn.execute(select(BalTest.outcome)).all()
        audited = conn.execute(
            select(AuditEntry.outcome).where(AuditEntry.action == "bal.test")
        ).all()
    return tests + audited


@pytest.mark.mail
@pytest.mark.parametrize("key", ["", NEW])
def test_a_missing_or_wrong_key_never_marks_a_healthy_bal_failed(empty_db, tmp_path, dovecot, key):
    address = unique_address("jeanne", DOMAIN)
    prov.provision(empty_db, SYSTEM, _settings(tmp_path, dovecot, OLD), _per(address))
    message = "^BALISE_SECRET_KEY n'est pas définie" if not key else "n'est pas celle qui a"
    with pytest.raises(ConfigurationError, match=message):
        bal_tests.run_bal_test(empty_db, SYSTEM, _settings(tmp_path, dovecot, key), address)
    assert prov.get_bal(empty_db, address).status == "provisioned"
    assert _test_lines(empty_db) == []
    with pytest.raises(ConfigurationError, match=message):  # a department run: one error
        bal_tests.run_department_tests(
            empty_db, SYSTEM, _settings(tmp_path, dovecot, key), "38", timeout=5
        )
    assert prov.get_bal(empty_db, address).status == "provisioned"
    assert _test_lines(empty_db) == []
    with pytest.raises(ConfigurationError, match=message):  # nor provisions under another key
        prov.provision(empty_db, SYSTEM, _settings(tmp_path, dovecot, key), _per(f"x{address}"))
    assert f"x{address}" not in dovecot.users()
    # With the right key the same BAL passes.
    result = bal_tests.run_bal_test(empty_db, SYSTEM, _settings(tmp_path, dovecot, OLD), address)
    assert result.outcome == "passed"


@pytest.mark.mail
def test_cli_bal_test_without_a_key_says_so(database_url, tmp_path, dovecot):
    engine = make_engine(database_url)
    from balise.db import upgrade

    upgrade(engine)
    address = unique_address("jeanne", DOMAIN)
    prov.provision(engine, SYSTEM, _settings(tmp_path, dovecot, OLD), _per(address))
    env = {"BALISE_DATABASE_URL": database_url, **dovecot.provisioning_env(),
           "BALISE_SECRET_KEY": "", "BALISE_USER": ""}  # fmt: skip
    res = CliRunner().invoke(cli, ["bal", "test", address], env=env)
    assert (res.exit_code, res.stderr) == (1, f"Erreur : {keyring.MISSING}\n")
    assert prov.get_bal(engine, address).status == "provisioned"
    engine.dispose()


# ----- rotation ---------------------------------------------------------------------------------


def _store_with_secrets(engine) -> None:
    _watch(engine, "a@x.test", OLD, secret="premier-secret")
    _watch(engine, "b@x.test", OLD, secret="second-secret")
    _watch(engine, "c@x.test", OLD, secret=None, secret_ref="env:IMAP_C")  # not sealed


def test_rotation_reencrypts_every_stored_secret_and_moves_the_fingerprint(empty_db):
    _store_with_secrets(empty_db)
    with empty_db.begin() as conn:  # a BAL's password: a second table with a secret column
        conn.execute(
            ProvisionedBal.__table__.insert().values(
                bal_type="PER", department="38", address="bal@x.test", status="provisioned",
                backend="dovecot", auth_mode="password",
                secret_ref="enc:" + Fernet(OLD.encode()).encrypt(b"troisieme").decode(),
                created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip
    before = _sealed_refs(empty_db)
    assert len(before) == 3
    assert keyring.rotate(empty_db, SYSTEM, OLD, NEW, "BALISE_OLD_SECRET_KEY") == 3
    after = _sealed_refs(empty_db)
    assert len(after) == 3 and not set(before) & set(after)
    opened = sorted(Fernet(NEW.encode()).decrypt(r[4:].encode()).decode() for r in after)
    assert opened == ["premier-secret", "second-secret", "troisieme"]
    for ref in after:
        with pytest.raises(InvalidToken):
            Fernet(OLD.encode()).decrypt(ref[4:].encode())
    keyring.require_key(empty_db, NEW)
    with pytest.raises(ConfigurationError, match="n'est pas celle qui a chiffré"):
        keyring.require_key(empty_db, OLD)
    with empty_db.connect() as conn:
        line = conn.execute(
            select(AuditEntry.object, AuditEntry.detail).where(
                AuditEntry.action == "secret_key.rotate"
            )
        ).one()
    assert line[0] == "BALISE_SECRET_KEY"
    assert json.loads(line[1]) == {"secrets": 3, "ancienne": _short(OLD), "nouvelle": _short(NEW)}
    assert OLD not in all_text(empty_db) and NEW not in all_text(empty_db)


def test_every_secret_column_is_walked_by_the_rotation(empty_db):
    # Enumerate, don't remember: any column that can hold an ``enc:`` reference is a *_ref one.
    names = {(t.name, c.name) for t, c in keyring.secret_columns()}
    assert names == {
        ("provisioned_bals", "secret_ref"),
        ("watched_mailboxes", "secret_ref"),
        ("watched_mailboxes", "client_key_ref"),
    }
    from balise.models import Base

    suspicious = {
        (t.name, c.name)
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if "secret" in c.name or "token" in c.name
    }
    assert suspicious <= names


def test_a_wrong_old_key_changes_nothing(empty_db):
    _store_with_secrets(empty_db)
    before = rows_by_table(empty_db)
    third = new_key()
    with pytest.raises(ConfigurationError) as exc:
        keyring.rotate(empty_db, SYSTEM, third, NEW, "BALISE_OLD_SECRET_KEY")
    assert str(exc.value) == (
        f"BALISE_OLD_SECRET_KEY (empreinte {_short(third)}…) n'est pas la clé de cette base "
        f"(empreinte {_short(OLD)}…) : rien n'a été changé."
    )
    with pytest.raises(ValidationError, match="sont la même clé"):
        keyring.rotate(empty_db, SYSTEM, OLD, OLD, "BALISE_OLD_SECRET_KEY")
    assert rows_by_table(empty_db) == before


def test_a_secret_the_old_key_does_not_open_rolls_everything_back(empty_db):
    _store_with_secrets(empty_db)
    stray = "enc:" + Fernet(new_key().encode()).encrypt(b"x").decode()
    with empty_db.begin() as conn:
        conn.execute(
            update(WatchedMailbox)
            .where(WatchedMailbox.address == "b@x.test")
            .values(secret_ref=stray)
        )
    before = rows_by_table(empty_db)
    with pytest.raises(ConfigurationError, match=r"ne s'ouvre pas avec BALISE_OLD_SECRET_KEY"):
        keyring.rotate(empty_db, SYSTEM, OLD, NEW, "BALISE_OLD_SECRET_KEY")
    assert rows_by_table(empty_db) == before


def test_only_an_administrator_rotates(empty_db):
    _store_with_secrets(empty_db)
    with pytest.raises(PermissionDenied, match="Seul un administrateur change la clé"):
        keyring.rotate(empty_db, Actor("chef", "manager"), OLD, NEW, "BALISE_OLD_SECRET_KEY")
    with empty_db.connect() as conn:
        outcome = conn.scalar(
            select(AuditEntry.outcome).where(AuditEntry.action == "secret_key.rotate")
        )
    assert outcome == "refused"
    keyring.require_key(empty_db, OLD)  # nothing moved


def test_cli_secret_key_rotate(database_url):
    engine = make_engine(database_url)
    from balise.db import upgrade

    upgrade(engine)
    _store_with_secrets(engine)
    run = CliRunner().invoke
    base = ["--database-url", database_url, "secret-key", "rotate"]
    env = {"BALISE_USER": "", "BALISE_SECRET_KEY": NEW}
    res = run(cli, base, env=env)
    assert (res.exit_code, res.stderr) == (
        1,
        "Erreur : BALISE_OLD_SECRET_KEY n'est pas définie : mettez-y l'ancienne clé (celle qui "
        "a chiffré les secrets), et la nouvelle dans BALISE_SECRET_KEY.\n",
    )
    res = run(cli, [*base, "--old-key-env", "ANCIENNE_CLE"], env={**env, "ANCIENNE_CLE": OLD})
    assert (res.exit_code, res.output) == (
        0,
        f"Clé changée : 2 secret(s) rechiffré(s) avec BALISE_SECRET_KEY (empreinte "
        f"{_short(NEW)}…). Retirez ANCIENNE_CLE de l'environnement.\n",
    )
    keyring.require_key(engine, NEW)
    engine.dispose()
