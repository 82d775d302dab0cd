"""Provisioning service: request backend, lifecycle, idempotence, permissions, audit (SQLite and
PostgreSQL); the dovecot backend against the real sandbox server, checked by plain imaplib and
smtplib."""

from __future__ import annotations

import csv
import imaplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, update

from balise.cli import cli
from balise.config import Settings
from balise.errors import (
    ConfigurationError,
    MailError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from balise.mail.provision import PasswdFileDovecot, backend_for
from balise.models import AuditEntry, Mailbox, ProvisionedBal, Snapshot, WatchedMailbox
from balise.referentials.bal_rules import BalRequest
from balise.secrets import new_key, reveal
from balise.services import bal_tests
from balise.services import provisioning as prov
from balise.services.access import SYSTEM, Actor
from sandbox import operator
from tests.support.dovecot import unique_address
from tests.support.ports import free_port

DOMAIN = "ehpad-lilas.mssante.fr"
RPPS = "10003456786"
FINESS = "010001246"
ANIMATOR_01 = Actor("anne", "animator", ("01",))


def _settings(tmp_path, **kw) -> Settings:
    base = {"data_dir": tmp_path, "allowed_domains": (DOMAIN,), "secret_key": new_key()}
    return Settings(**(base | kw))


def _per(address=f"jeanne.durand@{DOMAIN}", department="01") -> BalRequest:
    return BalRequest("PER", department, address, "Jeanne", "Durand", RPPS)


def _org(address=f"soins@{DOMAIN}") -> BalRequest:
    return BalRequest(
        "ORG", "01", address, finess=FINESS, service="Soins", responsible="Dr Durand",
        structure_head="Paul Martin",
    )  # fmt: skip


def _count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where))


def test_request_backend_writes_the_operator_batch_and_keeps_requested(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    reports = prov.provision_many(db_with_ain_ehpad, ANIMATOR_01, settings, [_per(), _org()])
    assert [(r.address, r.status, r.created) for r in reports] == [
        (f"jeanne.durand@{DOMAIN}", "requested", True),
        (f"soins@{DOMAIN}", "requested", True),
    ]
    xlsx, text = reports[0].files
    rows = list(load_workbook(xlsx).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Adresse BAL", "Type de BAL", "Département")
    assert [r[0] for r in rows[1:]] == [f"jeanne.durand@{DOMAIN}", f"soins@{DOMAIN}"]
    with open(text, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh, delimiter=";"))
    assert lines[2][:4] == [f"soins@{DOMAIN}", "ORG", "01", FINESS]
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.action == "bal.provision") == 2
    # Nothing secret is kept for a request.
    assert _count(db_with_ain_ehpad, ProvisionedBal, ProvisionedBal.secret_ref.is_not(None)) == 0


def test_provisioning_twice_creates_nothing_twice(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    first = prov.provision(db_with_ain_ehpad, SYSTEM, settings, _per())
    again = prov.provision(db_with_ain_ehpad, SYSTEM, settings, _per())
    assert (first.created, again.created, again.status) == (True, False, "requested")
    assert again.files == []
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 1
    assert len(list((tmp_path / "demandes").glob("*.xlsx"))) == 1


def test_lifecycle_confirm_then_disable(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    prov.provision(db_with_ain_ehpad, ANIMATOR_01, settings, _per())
    address = f"jeanne.durand@{DOMAIN}"
    with pytest.raises(ValidationError) as exc:
        prov.activate(db_with_ain_ehpad, ANIMATOR_01, address)
    assert str(exc.value) == "Le champ « statut » ne le permet pas : la BAL est demandée."
    assert prov.confirm(db_with_ain_ehpad, ANIMATOR_01, address) == "provisioned"
    assert prov.confirm(db_with_ain_ehpad, ANIMATOR_01, address) == "provisioned"  # idempotent
    assert prov.disable(db_with_ain_ehpad, ANIMATOR_01, address) == "disabled"
    frame = prov.bals_frame(db_with_ain_ehpad, ANIMATOR_01)
    assert frame[["adresse", "statut"]].values.tolist() == [[address, "disabled"]]
    with db_with_ain_ehpad.connect() as conn:
        actions = conn.execute(
            select(AuditEntry.action, AuditEntry.outcome).order_by(AuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("bal.provision", "ok"), ("bal.confirm", "ok"), ("bal.disable", "ok"),
    ]  # fmt: skip


def test_refusals_name_the_field(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    with db_with_ain_ehpad.begin() as conn:
        snap = conn.execute(
            insert(Snapshot).values(
                source="annuaire", file_name="x", sha256="0" * 64, ingested_at=datetime(2026, 1, 1),
                departments="01",
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(Mailbox).values(
                address=f"soins@{DOMAIN}", bal_type="ORG", department="01", first_seen=snap,
                valid_from=snap,
            )
        )  # fmt: skip
    problems = prov.check_request(db_with_ain_ehpad, SYSTEM, settings, _org())
    assert problems == [
        ("address", f"Le champ « adresse » : soins@{DOMAIN} existe déjà dans l'annuaire MSSanté.")
    ]
    prov.provision(db_with_ain_ehpad, SYSTEM, settings, _per())
    # Same address, another type: refused, not silently merged.
    other = BalRequest(
        "APP", "01", f"jeanne.durand@{DOMAIN}", finess=FINESS, responsible="R", software="S"
    )
    with pytest.raises(ValidationError) as exc:
        prov.provision(db_with_ain_ehpad, SYSTEM, settings, other)
    assert str(exc.value) == (
        f"Le champ « adresse » : jeanne.durand@{DOMAIN} existe déjà parmi les BAL provisionnées."
    )
    assert prov.check_request(db_with_ain_ehpad, SYSTEM, settings, _per()) == [
        (
            "address",
            f"Le champ « adresse » : jeanne.durand@{DOMAIN} existe déjà parmi les BAL provisionnées.",
        )
    ]
    with pytest.raises(ValidationError) as exc:
        prov.provision(db_with_ain_ehpad, SYSTEM, settings, _per(address="x@autre.mssante.fr"))
    assert exc.value.problems[0][0] == "address"


def test_animator_outside_their_department_is_refused_and_audited(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    with pytest.raises(PermissionDenied) as exc:
        prov.provision(db_with_ain_ehpad, ANIMATOR_01, settings, _per(department="38"))
    assert str(exc.value) == "Vous n'avez pas accès au département 38."
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 0
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.outcome == "refused") == 1
    manager = Actor("marc", "manager")
    with pytest.raises(PermissionDenied):
        prov.provision(db_with_ain_ehpad, manager, settings, _per())


def test_retry_resends_a_request_and_traffic_makes_a_tested_bal_active(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    first = prov.provision(db_with_ain_ehpad, ANIMATOR_01, settings, _per())
    again = prov.retry_provision(db_with_ain_ehpad, ANIMATOR_01, settings, first.address)
    assert again.status == "requested" and again.files[0] != first.files[0]
    assert len(list((tmp_path / "demandes").glob("*.csv"))) == 2
    prov.confirm(db_with_ain_ehpad, ANIMATOR_01, first.address)
    with pytest.raises(ValidationError):
        prov.retry_provision(db_with_ain_ehpad, ANIMATOR_01, settings, first.address)
    with db_with_ain_ehpad.begin() as conn:
        conn.execute(
            update(ProvisionedBal)
            .where(ProvisionedBal.address == first.address)
            .values(status="test_passed")
        )
        conn.execute(
            insert(WatchedMailbox).values(
                address=first.address, department="01", imap_host="imap.example.test",
                imap_port=143, tls_mode="starttls", auth_mode="password", folders="",
            )
        )  # fmt: skip
    assert prov.activate_from_traffic(db_with_ain_ehpad, ANIMATOR_01) == []  # no traffic yet
    with db_with_ain_ehpad.begin() as conn:
        conn.execute(update(WatchedMailbox).values(last_activity_at=datetime(2026, 11, 20)))
    assert prov.activate_from_traffic(db_with_ain_ehpad, ANIMATOR_01) == [first.address]
    assert prov.get_bal(db_with_ain_ehpad, first.address).status == "active"
    assert prov.activate_from_traffic(db_with_ain_ehpad, ANIMATOR_01) == []


def test_status_counts_group_by_department(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, [_per(), _org()])
    prov.provision(
        db_with_ain_ehpad, SYSTEM, settings, _per(f"paul.martin@{DOMAIN}", department="38")
    )
    prov.confirm(db_with_ain_ehpad, SYSTEM, f"soins@{DOMAIN}")
    counts = prov.status_counts(db_with_ain_ehpad, SYSTEM)
    assert counts.values.tolist() == [
        ["01", "provisioned", 1], ["01", "requested", 1], ["38", "requested", 1],
    ]  # fmt: skip
    assert prov.bals_frame(db_with_ain_ehpad, ANIMATOR_01)["departement"].unique().tolist() == [
        "01"
    ]


# ----- dovecot backend on the real sandbox ----------------------------------------------------


def _sandbox_settings(tmp_path, dovecot) -> Settings:
    """The dovecot backend pointed at the sandbox's passwd-files (one per account)."""
    return _settings(
        tmp_path, allowed_domains=(DOMAIN, "sandbox.test"), **dovecot.provisioning_settings()
    )


@pytest.mark.mail
def test_dovecot_backend_account_works_for_an_independent_client(
    db_with_ain_ehpad, tmp_path, dovecot
):
    settings = _sandbox_settings(tmp_path, dovecot)
    request = _per(unique_address("jeanne", DOMAIN))
    report = prov.provision(db_with_ain_ehpad, SYSTEM, settings, request)
    assert (report.status, report.created) == ("provisioned", True)
    password = report.secret
    bal = prov.get_bal(db_with_ain_ehpad, report.address)
    assert bal.secret_ref.startswith("enc:") and password not in bal.secret_ref
    assert reveal(bal.secret_ref, settings.secret_key) == password
    # The sandbox's passwd-file holds a SHA512-CRYPT hash of it, never the password itself.
    users_file = (dovecot.users_dir / report.address).read_text()
    assert users_file.startswith(f"{report.address}:{{SHA512-CRYPT}}$6$")
    assert password not in users_file

    context = ssl.create_default_context(cafile=str(dovecot.ca_path))
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as imap:
        imap.starttls(context)
        assert imap.login(report.address, password)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
    message = EmailMessage()
    message["From"], message["To"] = report.address, report.address
    message["Subject"] = "Vérification indépendante"
    message.set_content("Bonjour")
    with smtplib.SMTP(dovecot.host, dovecot.submission_port) as smtp:
        smtp.starttls(context=context)
        smtp.login(report.address, password)
        assert smtp.send_message(message) == {}

    # Idempotent: the second run neither creates the account again nor changes its password.
    again = prov.provision(db_with_ain_ehpad, SYSTEM, settings, request)
    assert (again.created, again.secret) == (False, None)
    assert prov.get_bal(db_with_ain_ehpad, report.address).secret_ref == bal.secret_ref


class _CrashAfterCreating(PasswdFileDovecot):
    """The real backend, then a crash (as if the store went away mid-batch)."""

    def provision(self, requests):
        outcomes, files = super().provision(requests)
        self.created = [o.address for o in outcomes]
        raise MailError("panne simulée après la création des comptes.")


@pytest.mark.mail
def test_failed_batch_is_undone_on_the_server(db_with_ain_ehpad, tmp_path, dovecot):
    settings = _sandbox_settings(tmp_path, dovecot)
    batch = [_per(unique_address("jeanne", DOMAIN)), _org(unique_address("soins", DOMAIN))]
    crashing = _CrashAfterCreating(dovecot.users_dir / "%u", dovecot.config_path)
    with pytest.raises(MailError):
        prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch, backend=crashing)
    assert len(crashing.created) == 2
    assert not set(crashing.created) & dovecot.users()
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 0
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.outcome == "failed") == 2
    # The same batch goes through afterwards (a retry creates it, once).
    reports = prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch)
    assert {(r.status, r.created) for r in reports} == {("provisioned", True)}
    assert {r.address for r in batch} <= dovecot.users()


@pytest.mark.mail
def test_dovecot_backend_needs_a_secret_key_before_creating_anything(
    db_with_ain_ehpad, tmp_path, dovecot
):
    settings = _sandbox_settings(tmp_path, dovecot)
    object.__setattr__(settings, "secret_key", "")
    request = _per(unique_address("jeanne", DOMAIN))
    with pytest.raises(ConfigurationError, match="^BALISE_SECRET_KEY n'est pas définie : "):
        prov.provision(db_with_ain_ehpad, SYSTEM, settings, request)
    assert request.address not in dovecot.users()


# ----- round-trip tests of provisioned BALs ---------------------------------------------------


def _app(address) -> BalRequest:
    return BalRequest(
        "APP", "01", address, finess=FINESS, responsible="Dr Durand", software="DPI Titan"
    )


@pytest.mark.mail
def test_provisioned_bals_pass_their_round_trip_in_their_own_auth_mode(
    db_with_ain_ehpad, tmp_path, dovecot
):
    settings = _sandbox_settings(tmp_path, dovecot)
    per, app = _per(unique_address("jeanne", DOMAIN)), _app(unique_address("dpi", DOMAIN))
    prov.provision_many(db_with_ain_ehpad, ANIMATOR_01, settings, [per, app])
    assert prov.get_bal(db_with_ain_ehpad, app.address).auth_mode == "external"
    steps = []
    first = bal_tests.run_bal_test(
        db_with_ain_ehpad, ANIMATOR_01, settings, per.address, with_xdm=True,
        on_step=lambda step, state, _s: steps.append((step, state)),
    )  # fmt: skip
    second = bal_tests.run_bal_test(db_with_ain_ehpad, ANIMATOR_01, settings, app.address)
    assert (first.outcome, second.outcome) == ("passed", "passed")
    assert steps[-1] == ("visible", "ok")
    frame = prov.bals_frame(db_with_ain_ehpad, ANIMATOR_01)
    assert set(frame["statut"]) == {"test_passed"}
    history = bal_tests.history(db_with_ain_ehpad, ANIMATOR_01)
    assert history["adresse"].tolist() == [app.address, per.address]
    assert history["resultat"].tolist() == ["passed", "passed"]
    assert (
        (history[["connexion_s", "authentification_s", "envoi_s", "reception_s"]] > 0).all().all()
    )
    counts = bal_tests.outcome_counts(db_with_ain_ehpad, ANIMATOR_01)
    assert counts[["resultat", "tests"]].values.tolist() == [["passed", 2]]
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.action == "bal.test") == 2


@pytest.mark.mail
def test_xoauth2_bal_and_a_failed_test_moves_the_status(db_with_ain_ehpad, tmp_path, dovecot):
    settings = _sandbox_settings(tmp_path, dovecot)
    per = _per(unique_address("jeanne", DOMAIN))
    prov.provision(db_with_ain_ehpad, SYSTEM, settings, per)
    with db_with_ain_ehpad.begin() as conn:  # this holder signs in with Pro Santé Connect
        conn.execute(
            ProvisionedBal.__table__.update()
            .where(ProvisionedBal.address == per.address)
            .values(auth_mode="xoauth2")
        )
    assert (
        bal_tests.run_bal_test(db_with_ain_ehpad, SYSTEM, settings, per.address).outcome == "passed"
    )
    # To another BAL: the arrival is checked in that BAL's own mailbox.
    org = _org(unique_address("soins", DOMAIN))
    prov.provision(db_with_ain_ehpad, SYSTEM, settings, org)
    result = bal_tests.run_bal_test(
        db_with_ain_ehpad, SYSTEM, settings, per.address, recipient=org.address
    )
    assert (result.outcome, result.recipient) == ("passed", org.address)
    with pytest.raises(NotFoundError):
        bal_tests.run_bal_test(
            db_with_ain_ehpad, SYSTEM, settings, per.address, recipient="x@y.mssante.fr"
        )
    # The account vanished from the server: the refused login is a recorded failure.
    dovecot.remove_user(org.address)
    result = bal_tests.run_bal_test(db_with_ain_ehpad, SYSTEM, settings, org.address, timeout=2)
    assert (result.outcome, result.failed_step) == ("failed", "imap")
    assert prov.get_bal(db_with_ain_ehpad, org.address).status == "test_failed"
    history = bal_tests.history(db_with_ain_ehpad, SYSTEM)
    assert history["resultat"].tolist() == ["failed", "passed", "passed"]
    assert history["etape_en_echec"].tolist()[0] == "imap"
    # Retry the failed step once the account is back: the test runs again and passes.
    dovecot.add_user(org.address, reveal(prov.get_bal(db_with_ain_ehpad, org.address).secret_ref,
                                         settings.secret_key))  # fmt: skip
    assert bal_tests.retry(db_with_ain_ehpad, SYSTEM, settings, org.address).outcome == "passed"
    assert prov.get_bal(db_with_ain_ehpad, org.address).status == "test_passed"
    with pytest.raises(ValidationError) as exc:
        bal_tests.retry(db_with_ain_ehpad, SYSTEM, settings, org.address)
    assert str(exc.value) == (
        "Le champ « statut » ne demande pas de relance : la BAL est au statut « Test réussi »."
    )


@pytest.mark.mail
def test_department_batch_runs_with_bounded_concurrency(db_with_ain_ehpad, tmp_path, dovecot):
    settings = _sandbox_settings(tmp_path, dovecot)
    batch = [_per(unique_address("p", DOMAIN)) for _ in range(4)]
    prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch)
    prov.provision(
        db_with_ain_ehpad, SYSTEM, _settings(tmp_path), _per(f"req@{DOMAIN}")
    )  # requested
    results = bal_tests.run_department_tests(
        db_with_ain_ehpad, ANIMATOR_01, settings, "01", concurrency=2
    )
    assert sorted(r.sender for r in results) == sorted(r.address for r in batch)
    assert {r.outcome for r in results} == {"passed"}
    with pytest.raises(PermissionDenied):
        bal_tests.run_department_tests(db_with_ain_ehpad, ANIMATOR_01, settings, "38")
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.outcome == "refused") == 1
    with pytest.raises(ValidationError) as exc:
        bal_tests.run_bal_test(db_with_ain_ehpad, SYSTEM, settings, f"req@{DOMAIN}")
    assert str(exc.value) == "Le champ « statut » ne permet pas de tester : la BAL est demandée."


# ----- the command line, end to end on a sandbox operator started by the command itself ------


@pytest.fixture
def sandbox_operator_dir():
    # Not tmp_path: Dovecot's auth process (user dovecot) must traverse every parent folder.
    directory = Path(tempfile.mkdtemp(prefix="balise-operator-"))
    yield directory
    operator.stop(directory)
    shutil.rmtree(directory, ignore_errors=True)


def test_cli_sandbox_provision_test_and_stop(
    db_with_ain_ehpad, database_url, tmp_path, sandbox_operator_dir
):
    env = {
        "BALISE_DATABASE_URL": database_url,
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_SANDBOX_DIR": str(sandbox_operator_dir),
        "BALISE_ALLOWED_DOMAINS": "",
    }
    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "--background"], env=env)
    assert result.exit_code == 0, result.output
    pid = operator.running_pid(sandbox_operator_dir)
    assert result.output == (
        f"Opérateur bac à sable (fictif) démarré : {sandbox_operator_dir} (processus {pid}).\n"
        "Pour y provisionner des BAL :\n"
        "  BALISE_PROVISION_BACKEND=dovecot\n"
        f"  BALISE_DOVECOT_PASSWD_FILE={sandbox_operator_dir}/users.d/%u\n"
        f"  BALISE_DOVECOT_CONFIG={sandbox_operator_dir}/dovecot.conf\n"
    )
    # What the command says to set is all the backend needs.
    env.update(line.strip().split("=", 1) for line in result.output.splitlines()[2:])
    env["BALISE_SECRET_KEY"] = operator.secret_key(sandbox_operator_dir)
    args = ["bal", "provision", "--type", "ORG", "--department", "01", "--domain", DOMAIN,
            "--finess", FINESS, "--service", "Équipe de nuit", "--responsible", "Dr Durand",
            "--structure-head", "Paul Martin"]  # fmt: skip
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first == f"BAL equipe-de-nuit@{DOMAIN} créée."
    assert second.startswith("Mot de passe (affiché une seule fois) : ")
    result = runner.invoke(cli, args, env=env)
    assert result.output == (
        f"BAL equipe-de-nuit@{DOMAIN} déjà provisionnée, rien n'a été refait.\n"
    )
    result = runner.invoke(cli, ["bal", "test", f"equipe-de-nuit@{DOMAIN}", "--xdm"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"equipe-de-nuit@{DOMAIN} : réussi — Message reçu dans la boîte de réception. (connexion "
    )
    result = runner.invoke(cli, ["bal", "list"], env=env)
    assert result.output == f"equipe-de-nuit@{DOMAIN}  ORG  01  Test réussi\n"
    result = runner.invoke(cli, ["sandbox", "--stop"], env=env)
    assert result.output == "Opérateur bac à sable arrêté.\n"
    assert operator.running_pid(sandbox_operator_dir) is None
    result = runner.invoke(cli, ["bal", "test", f"equipe-de-nuit@{DOMAIN}"], env=env)
    assert (result.exit_code, result.stderr) == (
        1, "Erreur : L'opérateur bac à sable n'est pas démarré : lancez « make run » pour "
        "tester cette BAL.\n",
    )  # fmt: skip
    result = runner.invoke(cli, [*args[:-6], "--service", "Jour", *args[-4:]], env=env)
    assert (result.exit_code, result.stderr) == (
        1, f"Erreur : Le serveur Dovecot ({sandbox_operator_dir}/dovecot.conf) ne répond pas : "
        "démarrez-le (« make run » démarre l'opérateur bac à sable) ou choisissez le moteur "
        "« request ».\n",
    )  # fmt: skip
    assert operator.running_pid(sandbox_operator_dir) is None
    assert not (sandbox_operator_dir / "users.d" / f"jour@{DOMAIN}").exists()


def test_dovecot_backend_says_what_it_lacks_before_writing_anything(tmp_path):
    settings = _settings(tmp_path, provision_backend="dovecot")
    with pytest.raises(ConfigurationError) as exc:
        backend_for(settings)
    assert str(exc.value) == (
        "Le moteur « dovecot » crée les comptes dans le fichier d'utilisateurs du serveur : "
        "définissez BALISE_DOVECOT_PASSWD_FILE (et BALISE_DOVECOT_CONFIG) ; « make run » y met "
        "ceux de l'opérateur bac à sable."
    )
    for passwd_file, message in (
        (tmp_path / "absent" / "%u",
         f"Le dossier des fichiers d'utilisateurs Dovecot {tmp_path / 'absent'} n'existe pas."),
        (tmp_path / "users", f"Le fichier d'utilisateurs Dovecot {tmp_path / 'users'} n'existe pas."),
        (tmp_path / "%u" / "users", f"BALISE_DOVECOT_PASSWD_FILE : {tmp_path / '%u' / 'users'} : "
                                    "« %u » ne peut être que le nom du fichier."),
    ):  # fmt: skip
        with pytest.raises(ConfigurationError) as exc:
            PasswdFileDovecot(passwd_file)
        assert str(exc.value) == message
    # A configured server that does not answer: refused before a single file is written.
    (tmp_path / "users.d").mkdir()
    backend = PasswdFileDovecot(tmp_path / "users.d" / "%u", tmp_path / "dovecot.conf")
    with pytest.raises(ConfigurationError) as exc:
        backend.provision([_per()])
    assert str(exc.value).startswith(f"Le serveur Dovecot ({tmp_path}/dovecot.conf) ne répond pas")
    assert list((tmp_path / "users.d").iterdir()) == []


# ----- a self-hosted Dovecot with one passwd-file (not the sandbox) --------------------------

_SELF_HOSTED = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = selfhosted-{port}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 8
last_valid_uid = 8
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
  default_fields = uid=mail gid=mail home={d}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


@pytest.fixture
def self_hosted_dovecot():
    """A plain Dovecot as an ESMS might run it: passwd-file with hashed passwords, IMAP."""
    directory = Path(tempfile.mkdtemp(prefix="balise-selfhosted-"))
    directory.chmod(0o755)
    (directory / "mail").mkdir()
    shutil.chown(directory / "mail", "mail", "mail")
    (directory / "users").write_text("# comptes\n")
    shutil.chown(directory / "users", "root", "dovecot")
    port = free_port()
    config = directory / "dovecot.conf"
    config.write_text(_SELF_HOSTED.format(d=directory, port=port))
    server = subprocess.Popen(["dovecot", "-F", "-c", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield directory, port
    server.terminate()
    server.wait(10)
    shutil.rmtree(directory, ignore_errors=True)


class _SelfHostedCrash(PasswdFileDovecot):
    def provision(self, requests):
        super().provision(requests)
        raise MailError("panne simulée après la création des comptes.")


@pytest.mark.mail
def test_self_hosted_passwd_file_dovecot(db_with_ain_ehpad, tmp_path, self_hosted_dovecot):
    directory, port = self_hosted_dovecot
    settings = _settings(
        tmp_path,
        provision_backend="dovecot",
        dovecot_passwd_file=str(directory / "users"),
        dovecot_config=str(directory / "dovecot.conf"),
    )
    batch = [_per(f"jeanne.durand@{DOMAIN}"), _org(f"soins@{DOMAIN}")]
    crashing = _SelfHostedCrash(directory / "users", directory / "dovecot.conf")
    with pytest.raises(MailError):
        prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch, backend=crashing)
    assert (directory / "users").read_text() == "# comptes\n"  # rolled back
    reports = prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch)
    assert {(r.status, r.created) for r in reports} == {("provisioned", True)}
    stored = (directory / "users").read_text()
    assert "{SHA512-CRYPT}$6$" in stored and reports[0].secret not in stored
    with imaplib.IMAP4("127.0.0.1", port) as imap:
        assert imap.login(reports[0].address, reports[0].secret)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
    again = prov.provision_many(db_with_ain_ehpad, SYSTEM, settings, batch)
    assert {r.created for r in again} == {False}
    assert stored == (directory / "users").read_text()
    # Not the sandbox: no plugged-in server claims the BAL, whose test needs its servers.
    with pytest.raises(ConfigurationError) as exc:
        bal_tests.run_bal_test(db_with_ain_ehpad, SYSTEM, settings, reports[0].address)
    assert str(exc.value).startswith(f"Aucun serveur connu pour {reports[0].address} : ")
