"""Every command of the ``balise`` tree declares who may run it, and gets it, for every role.

The tree is walked, not listed: ``balise.cli:cli`` with every plugin of the ``balise.commands``
entry points, through the groups, so a new command is covered without anyone remembering it; a
command without a declaration fails. For each role (administrator, programme manager, animator
of the Isère, an unknown ``BALISE_USER``, a disabled account) each command is either refused
through the real CLI, before it does anything (exit 1, ``Erreur : <reason>``, exactly one audit
line ``refused`` with that reason, the store otherwise unchanged), or passes the edge check with
arguments that parse (administrators are not made to start servers here; the commands
themselves are exercised by their own tests). The animator is refused every declared scope
parameter pointing into the Rhône (69): a department, a BAL, a mailbox, a FINESS, an account,
a spreadsheet.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from balise.cli import Context, cli
from balise.command_access import check, permission_of, requires
from balise.config import Settings, load_settings
from balise.models import (
    AuditEntry,
    BalTest,
    DailyActivity,
    IngestAlert,
    Onboarding,
    ProvisionedBal,
    Snapshot,
    User,
    WatchedMailbox,
)
from balise.referentials.bal_sheet import HEADER, template_bytes
from balise.secrets import new_key
from balise.services import provisioning as prov
from balise.services.access import SYSTEM
from tests.support.command_tree import walk
from tests.support.finess import seed_establishment
from tests.support.two_departments import (
    BAL38,
    BAL69,
    DISABLED,
    DOMAIN,
    E38,
    E69,
    cab,
    seed_two_departments,
)

INS = "285037728417346"  # the seed webinar's example
ROLES = {"admin": "admin", "manager": "chargee", "animator 38": "anim38",
         "unknown": "inconnu", "disabled": DISABLED}  # fmt: skip


COMMANDS = walk(cli)


def undeclared(commands) -> list[str]:
    return [" ".join(path) for path, command in commands if permission_of(command) is None]


def test_every_command_of_the_tree_declares_its_permission():
    names = {" ".join(path) for path, _ in COMMANDS}
    # The plugins of every package are in the walk, not only the core's commands.
    assert {
        "ingest annuaire",
        "sandbox",
        "sandbox activity",
        "poll",
        "worker",
        "serve",
        "bal test",
    } <= names
    assert undeclared(COMMANDS) == []


def test_an_undeclared_command_fails_the_walk():
    @click.group()
    def tree() -> None: ...

    @requires("public")
    @tree.command()
    def declared() -> None: ...

    @tree.command()
    def forgotten() -> None: ...

    assert undeclared(walk(tree)) == ["forgotten"]


def test_a_declaration_must_name_existing_options():
    with pytest.raises(ValueError, match=r"no parameter named \['department'\]"):
        requires("act", departments="department")(click.Command("x", callback=lambda: None))


# ----- samples: every required parameter, in the Isère (38) or in the Rhône (69) ----------


def _sheet(path: Path, address: str, department: str) -> str:
    book = load_workbook(io.BytesIO(template_bytes()))
    row = {"bal_type": "CAB", "department": department, "address": address, "practice": "Cab"}
    book["BAL"].append([row.get(name) for name in HEADER])
    book.save(path)
    return str(path)


def _samples(tmp_path: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(values of the scope parameters per department, values of the other parameters)."""
    scoped = {
        "department": {"38": "38", "69": "69"},
        "departments": {"38": "38", "69": "69"},
        "address": {"38": BAL38, "69": BAL69},
        "recipient": {"38": BAL38, "69": BAL69},
        "mailboxes": {"38": BAL38, "69": BAL69},
        "finess": {"38": E38, "69": E69},
        "login": {"38": "anim38", "69": "admin"},  # one's own account, or someone else's
        "alert_id": {"38": "1", "69": "2"},  # the import alerts of the seed
        "file": {
            "38": _sheet(tmp_path / "bal38.xlsx", f"neuf-isere@{DOMAIN}", "38"),
            "69": _sheet(tmp_path / "bal69.xlsx", f"neuf-rhone@{DOMAIN}", "69"),
        },
    }
    extract = tmp_path / "annuaire.txt"
    extract.write_text("", encoding="utf-8")
    other = {"out": str(tmp_path / "sortie.xlsx"), "source": str(extract), "number": INS,
             "host": "127.0.0.1", "bal_type": "CAB"}  # fmt: skip
    return scoped, other


def _args(command: click.Command, samples, where: str, overrides: dict[str, str]) -> list[str]:
    """Arguments that parse: every required parameter (from the samples, in ``where``) plus
    ``overrides``; a required parameter without a sample fails the walk, never skips it."""
    scoped, other = samples
    args: list[str] = []
    for param in command.params:
        if param.name in overrides:
            value = overrides[param.name]
        elif not param.required:
            continue
        elif param.name in scoped:
            value = scoped[param.name][where]
        elif isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        elif param.name in other:
            value = other[param.name]
        else:
            raise AssertionError(f"no sample for {command.name} {param.name}: add one to the walk")
        args += [value] if isinstance(param, click.Argument) else [param.opts[0], value]
    return args


# ----- the store and the real command line -------------------------------------------------


@pytest.fixture
def walk_env(empty_db, tmp_path) -> dict:
    settings = Settings(data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=new_key())
    seed_two_departments(empty_db, settings)
    return {
        "BALISE_DATABASE_URL": empty_db.url.render_as_string(hide_password=False),
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_ALLOWED_DOMAINS": DOMAIN,
        "BALISE_PROVISION_BACKEND": "request",
        "BALISE_SANDBOX_DIR": str(tmp_path / "aucun-bac-a-sable"),
        "BALISE_SECRET_KEY": settings.secret_key,
    }


def _state(engine: Engine) -> dict:
    """What a refused command must leave as it was."""
    with engine.connect() as conn:
        return {
            "bals": conn.execute(
                select(ProvisionedBal.address, ProvisionedBal.status).order_by("address")
            ).all(),
            "watched": conn.execute(
                select(WatchedMailbox.address, WatchedMailbox.last_poll_at).order_by("address")
            ).all(),
            "users": conn.execute(
                select(User.login, User.role, User.departments, User.disabled, User.password_hash)
                .order_by("login")
            ).all(),
            "alerts": conn.execute(
                select(IngestAlert.id, IngestAlert.decision).order_by(IngestAlert.id)
            ).all(),
            **{
                model.__tablename__: conn.scalar(select(func.count()).select_from(model))
                for model in (BalTest, DailyActivity, Onboarding, Snapshot)
            },
        }  # fmt: skip


def _last_audit_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.max(AuditEntry.id))) or 0


def _assert_refused(engine: Engine, env: dict, login: str, argv: list[str]) -> None:
    before, last = _state(engine), _last_audit_id(engine)
    res = CliRunner().invoke(cli, argv, env={**env, "BALISE_USER": login})
    assert res.exit_code == 1, (argv, res.output)
    assert res.stderr.startswith("Erreur : ") and res.stdout == "", (argv, res.output)
    reason = res.stderr.removeprefix("Erreur : ").rstrip("\n")
    with engine.connect() as conn:
        lines = conn.execute(
            select(AuditEntry.actor, AuditEntry.outcome, AuditEntry.detail)
            .where(AuditEntry.id > last)
            .order_by(AuditEntry.id)
        ).all()
    audited = [(a, o, json.loads(d or "{}").get("motif")) for a, o, d in lines]
    assert audited == [(login, "refused", reason)], argv
    assert _state(engine) == before, argv


def _assert_edge_passes(env: dict, login: str, path: tuple[str, ...], args: list[str], mp):
    """The edge check passes with these arguments (parsed by click), nothing run."""
    mp.setenv("BALISE_USER", login)
    root = click.Context(cli, info_name="balise")
    root.obj = Context(load_settings(database_url=env["BALISE_DATABASE_URL"]), False)
    ctx = root
    for name in path[:-1]:
        ctx = click.Context(ctx.command.get_command(ctx, name), info_name=name, parent=ctx)
    command = ctx.command.get_command(ctx, path[-1]) if path else cli
    with command.make_context(path[-1], list(args), parent=ctx) as sub:
        check(sub, permission_of(command))


def _expected(level: str, role: str) -> str:
    """``refused``, ``allowed``, or ``scope`` (allowed in the Isère, refused in the Rhône)."""
    if level == "public":
        return "allowed"
    if role in ("unknown", "disabled"):
        return "refused"
    if role == "admin":
        return "allowed"
    if level == "admin" or (role == "manager" and level == "act"):
        return "refused"
    return "scope" if role == "animator 38" else "allowed"


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_gets_what_each_command_declares(walk_env, empty_db, tmp_path, monkeypatch, role):
    login, samples = ROLES[role], _samples(tmp_path)
    for env_name, value in walk_env.items():
        monkeypatch.setenv(env_name, value)
    covered = 0
    for path, command in COMMANDS:
        permission = permission_of(command)
        expected = _expected(permission.level, role)
        args = _args(command, samples, "38", {})
        if permission.level == "public":  # harmless: run them for real, whoever asks
            res = CliRunner().invoke(cli, [*path, *args], env={**walk_env, "BALISE_USER": login})
            assert res.exit_code == 0, (path, res.output)
        elif expected == "refused":
            _assert_refused(empty_db, walk_env, login, [*path, *args])
        elif expected == "allowed":
            _assert_edge_passes(walk_env, login, path, args, monkeypatch)
        else:
            _assert_edge_passes(walk_env, login, path, args, monkeypatch)
            in_38 = {name: samples[0][name]["38"] for name in permission.objects}
            for name in (permission.departments, *permission.objects):
                if name is None:
                    continue
                # One parameter in the Rhône; the objects it goes with (a sender for a
                # recipient) in the Isère.
                others = in_38 if name in in_38 else {}
                into_69 = {**others, name: samples[0][name]["69"]}
                _assert_refused(
                    empty_db, walk_env, login, [*path, *_args(command, samples, "38", into_69)]
                )
        covered += 1
    assert covered == len(COMMANDS) >= 33


# ----- the cases the tester found, one by one ------------------------------------------------


def _cli(env: dict, login: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={**env, "BALISE_USER": login})


def _polled(engine: Engine) -> dict[str, bool]:
    with engine.connect() as conn:
        rows = conn.execute(select(WatchedMailbox.address, WatchedMailbox.last_poll_at)).all()
    return {address: at is not None for address, at in rows}


def test_an_animator_polls_and_lists_their_own_departments_mailboxes_only(walk_env, empty_db):
    res = _cli(walk_env, "anim38", "--json", "poll")
    assert [o["address"] for o in json.loads(res.stdout)["outcomes"]] == [BAL38]
    assert res.exit_code == 1  # that mailbox failed (its secret is absent)
    assert _polled(empty_db) == {BAL38: True, BAL69: False}
    res = _cli(walk_env, "anim38", "--json", "mailbox", "list")
    assert [m["address"] for m in json.loads(res.stdout)["mailboxes"]] == [BAL38]
    res = _cli(walk_env, "anim38", "mailbox", "list")
    assert res.stdout.splitlines()[-1] == "1 boîte suivie."
    for args in (["poll", "--department", "69"], ["poll", "--mailbox", BAL69]):
        res = _cli(walk_env, "anim38", *args)
        assert res.stderr == "Erreur : Vous n'avez pas accès au département 69.\n"
    assert _polled(empty_db) == {BAL38: True, BAL69: False}
    res = _cli(walk_env, "chargee", "poll")
    assert res.stderr == "Erreur : Un chargé de programme consulte et exporte mais n'agit pas.\n"


def test_system_commands_are_for_administrators(walk_env):
    for args in (["worker", "--once"], ["demo", "--national"], ["sandbox", "activity"],
                 ["sandbox", "--stop"], ["serve"], ["secret-key"]):  # fmt: skip
        res = _cli(walk_env, "anim38", *args)
        command = args[0]  # a group refuses before its subcommand
        assert res.stderr == f"Erreur : Seul un administrateur peut lancer « balise {command} ».\n"
    res = _cli(walk_env, "admin", "secret-key")
    assert res.exit_code == 0 and len(res.stdout.strip()) == 44


def test_an_unknown_or_disabled_account_is_never_the_local_operator(walk_env, empty_db):
    res = _cli(walk_env, "inconnu", "bal", "list")
    assert res.stderr == "Erreur : Aucun compte n'a l'identifiant inconnu.\n"
    res = _cli(walk_env, DISABLED, "demo", "--no-ingest")
    assert res.stderr == f"Erreur : Le compte {DISABLED} est désactivé.\n"
    with empty_db.connect() as conn:
        refusals = conn.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.outcome == "refused")
        ).all()
    assert refusals == [("inconnu", "bal.list"), (DISABLED, "demo")]
    # BALISE_USER unset (or empty): the local operator, as the README says.
    res = _cli(walk_env, "", "bal", "list")
    assert res.exit_code == 0 and BAL69 in res.stdout


def test_bal_retry_acts_as_the_user_not_as_the_system(walk_env, empty_db):
    settings = Settings(data_dir=Path(walk_env["BALISE_DATA_DIR"]), allowed_domains=(DOMAIN,))
    prov.provision(empty_db, SYSTEM, settings, cab(f"attente@{DOMAIN}", "38"))
    res = _cli(walk_env, "anim38", "bal", "retry", f"attente@{DOMAIN}")
    assert res.exit_code == 0, res.output
    # The status's French label, not its code (« requested »).
    assert res.stdout == f"BAL attente@{DOMAIN} : provisionnement relancé (statut : demandée).\n"
    with empty_db.connect() as conn:
        who = conn.execute(
            select(AuditEntry.actor, AuditEntry.outcome).where(AuditEntry.action == "bal.retry")
        ).all()
    assert who == [("anim38", "ok")]


def test_a_test_towards_another_departments_bal_is_refused_before_signing_in(walk_env, empty_db):
    res = _cli(walk_env, "anim38", "bal", "test", BAL38, "--to", BAL69, "--timeout", "1")
    assert res.stderr == "Erreur : Vous n'avez pas accès au département 69.\n"
    with empty_db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(BalTest)) == 0
        statuses = dict(conn.execute(select(ProvisionedBal.address, ProvisionedBal.status)).all())
    assert statuses == {BAL38: "provisioned", BAL69: "provisioned"}


def test_a_bal_names_a_finess_of_its_own_department(walk_env, empty_db, tmp_path):
    seed_establishment(empty_db, "690000104", "69", "EHPAD du Rhône", "LYON")
    org = ["--type", "ORG", "--service", "Soins", "--responsible", "Dr Durand",
           "--structure-head", "Paul Martin", "--domain", DOMAIN]  # fmt: skip
    res = _cli(walk_env, "anim38", "bal", "provision", "--department", "38",
               "--finess", "690000104", *org)  # fmt: skip
    assert res.stderr == (
        "Erreur : Le champ « FINESS de la structure » désigne un établissement du département 69,"
        " pas du département 38.\n"
    )
    res = _cli(walk_env, "admin", "bal", "provision", "--department", "38",
               "--finess", "380000109", *org)  # fmt: skip
    assert res.stderr == (
        "Erreur : Le champ « FINESS de la structure » ne correspond à aucun établissement du "
        "FINESS importé : 380000109 (importez-le avec « balise ingest finess »).\n"
    )
    book = load_workbook(io.BytesIO(template_bytes()))
    row = {"bal_type": "ORG", "department": "38", "address": f"soins@{DOMAIN}",
           "finess": "690000104", "service": "Soins", "responsible": "Dr Durand",
           "structure_head": "Paul Martin"}  # fmt: skip
    book["BAL"].append([row.get(name) for name in HEADER])
    book.save(tmp_path / "lot.xlsx")
    res = _cli(walk_env, "anim38", "bal", "import", str(tmp_path / "lot.xlsx"), "--dry-run")
    assert res.exit_code == 1
    assert res.stdout.splitlines()[1] == (
        "Ligne 2 : Le champ « FINESS de la structure » désigne un établissement du "
        "département 69, pas du département 38."
    )


def test_a_dry_run_of_another_departments_sheet_tells_nothing(walk_env, empty_db, tmp_path):
    taken = _sheet(tmp_path / "pris.xlsx", BAL69, "69")  # an address that exists in 69
    res = _cli(walk_env, "anim38", "bal", "import", taken, "--dry-run")
    assert (res.exit_code, res.stdout) == (1, "")
    assert res.stderr == "Erreur : Vous n'avez pas accès au département 69.\n"


def test_refusals_of_every_action_are_audited_with_their_reason(walk_env, empty_db):
    _cli(walk_env, "anim38", "mailbox", "add", f"x@{DOMAIN}", "--department", "69",
         "--host", "127.0.0.1", "--secret-env", "X")  # fmt: skip
    _cli(walk_env, "anim38", "mailbox", "remove", BAL69)
    _cli(walk_env, "anim38", "onboarding", "advance", "--department", "69")
    with empty_db.connect() as conn:
        lines = conn.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.outcome, AuditEntry.detail)
            .where(AuditEntry.outcome == "refused")
            .order_by(AuditEntry.id)
        ).all()
    why = json.dumps({"motif": "Vous n'avez pas accès au département 69."}, ensure_ascii=False)
    assert lines == [
        ("anim38", "mailbox.add", "refused", why),
        ("anim38", "mailbox.remove", "refused", why),
        ("anim38", "onboarding.advance", "refused", why),
    ]


def test_a_department_test_reports_and_records_every_bal(walk_env, empty_db):
    settings = Settings(data_dir=Path(walk_env["BALISE_DATA_DIR"]), allowed_domains=(DOMAIN,))
    lost = f"sans-serveur@{DOMAIN}"  # no server known for it: its test cannot even start
    prov.provision(empty_db, SYSTEM, settings, cab(lost, "38"))
    prov.confirm(empty_db, SYSTEM, lost)
    res = _cli(walk_env, "anim38", "bal", "test", "--department", "38", "--timeout", "1")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"{BAL38} : échec — ")
    assert lines[1:] == [
        f"{lost} : échec — Aucun serveur connu pour {lost} : enregistrez la boîte avec "
        "« balise mailbox add » (serveur, TLS, authentification) pour la tester.",
        "2 BAL testées, 2 en échec.",
    ]
    with empty_db.connect() as conn:
        tested = conn.execute(select(BalTest.sender, BalTest.outcome).order_by("sender")).all()
        statuses = dict(conn.execute(select(ProvisionedBal.address, ProvisionedBal.status)).all())
    assert tested == [(BAL38, "failed"), (lost, "failed")]
    assert (statuses[BAL38], statuses[lost], statuses[BAL69]) == (
        "test_failed", "test_failed", "provisioned",
    )  # fmt: skip


def test_json_errors_are_json_on_stdout(walk_env):
    res = _cli(walk_env, "anim38", "--json", "bal", "list", "--department", "69")
    assert (res.exit_code, res.stderr) == (1, "")
    assert json.loads(res.stdout) == {"error": "Vous n'avez pas accès au département 69."}
    res = _cli(walk_env, "anim38", "--json", "export", "csv")  # a usage error
    assert (res.exit_code, json.loads(res.stdout)) == (2, {"error": "Argument manquant 'SORTIE'."})
    res = _cli({**walk_env, "BALISE_CONFIG": "/nulle-part.toml"}, "", "--json", "bal", "list")
    assert (res.exit_code, res.stderr) == (1, "")  # the settings themselves: JSON too
    assert json.loads(res.stdout) == {
        "error": "Le fichier de configuration /nulle-part.toml est introuvable."
    }
    res = _cli(walk_env, "anim38", "bal", "list", "--department", "69")  # without --json: text
    assert (res.stdout, res.stderr) == ("", "Erreur : Vous n'avez pas accès au département 69.\n")
