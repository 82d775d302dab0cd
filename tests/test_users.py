"""Local accounts: scrypt hashes, sign-in right / wrong / locked / disabled, account management
rights, the ``balise user`` commands (exact messages) and the dashboard login form, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from balise.cli import cli
from balise.db import engine_for
from balise.errors import PermissionDenied, ValidationError
from balise.models import AuditEntry, User
from balise.services import users
from balise.services.access import SYSTEM, Actor
from tests.support.apptest import APP, app_as, open_page

PASSWORD = "cheval-batterie-agrafe-correct"


def _audit(engine, action: str) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(AuditEntry.actor, AuditEntry.object, AuditEntry.outcome)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()


def _add_animator(engine, login="anim38", departments=("38",)):
    return users.add_user(engine, SYSTEM, users.NewUser(login, "animator", departments, PASSWORD))


def test_hash_is_salted_scrypt_and_verifies_only_the_right_password():
    first, second = users.hash_password(PASSWORD), users.hash_password(PASSWORD)
    assert first.startswith("scrypt$32768$8$1$") and first != second
    assert users.verify_password(PASSWORD, first)
    assert not users.verify_password(PASSWORD + "x", first)
    assert not users.verify_password(PASSWORD, None)
    assert PASSWORD not in first


def test_right_password_signs_in_and_is_audited(empty_db):
    _add_animator(empty_db)
    actor = users.authenticate(empty_db, " Anim38 ", PASSWORD)
    assert actor == Actor("anim38", "animator", ("38",))
    assert _audit(empty_db, "login") == [("anim38", "anim38", "ok")]
    with empty_db.connect() as conn:
        stored = conn.scalar(select(User.password_hash))
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_wrong_password_and_unknown_login_get_the_same_answer(empty_db):
    _add_animator(empty_db)
    for login in ("anim38", "personne"):
        with pytest.raises(PermissionDenied, match=r"^Identifiant ou mot de passe incorrect\.$"):
            users.authenticate(empty_db, login, "mauvais mot de passe")
    assert _audit(empty_db, "login") == [
        ("anim38", "anim38", "failed"),
        ("personne", "personne", "failed"),
    ]


def test_five_failures_lock_the_account_for_fifteen_minutes(empty_db):
    _add_animator(empty_db)
    t0 = datetime(2026, 11, 25, 10, 0)
    for i in range(users.MAX_FAILURES):
        with pytest.raises(PermissionDenied, match="incorrect"):
            users.authenticate(empty_db, "anim38", f"faux-{i}", now=t0 + timedelta(seconds=i))
    # locked: even the right password is refused, with the time it opens again in Paris
    # (10:15 UTC is 11:15 in November)
    with pytest.raises(
        PermissionDenied, match=r"^Compte verrouillé après trop d'échecs : réessayez après 11:15\.$"
    ):
        users.authenticate(empty_db, "anim38", PASSWORD, now=t0 + timedelta(minutes=5))
    actor = users.authenticate(empty_db, "anim38", PASSWORD, now=t0 + timedelta(minutes=16))
    assert actor.login == "anim38"
    outcomes = [o for _, _, o in _audit(empty_db, "login")]
    assert outcomes == ["failed"] * 5 + ["refused", "ok"]
    with empty_db.connect() as conn:
        assert conn.execute(select(User.failed_logins, User.locked_until)).one() == (0, None)


def test_a_success_resets_the_failure_count(empty_db):
    _add_animator(empty_db)
    for _ in range(users.MAX_FAILURES - 1):
        with pytest.raises(PermissionDenied):
            users.authenticate(empty_db, "anim38", "faux")
    users.authenticate(empty_db, "anim38", PASSWORD)
    with pytest.raises(PermissionDenied, match="incorrect"):
        users.authenticate(empty_db, "anim38", "faux")  # 1 failure, not 5: no lock
    assert users.authenticate(empty_db, "anim38", PASSWORD).login == "anim38"


def test_a_disabled_account_cannot_sign_in(empty_db):
    _add_animator(empty_db)
    users.disable_user(empty_db, SYSTEM, "anim38")
    with pytest.raises(PermissionDenied, match=r"^Le compte anim38 est désactivé\.$"):
        users.authenticate(empty_db, "anim38", PASSWORD)
    assert _audit(empty_db, "user.disable") == [("système", "anim38", "ok")]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (users.NewUser("a", "admin", (), PASSWORD), "« identifiant » doit faire 2 à 255"),
        (users.NewUser("anim", "animator", (), PASSWORD), "« départements » est obligatoire"),
        (users.NewUser("anim", "animator", ("99",), PASSWORD), "code inconnu : 99"),
        (users.NewUser("anim", "chef", (), PASSWORD), "« rôle » doit valoir admin, manager"),
        (users.NewUser("anim", "manager", (), "court"), "au moins 12 caractères"),
    ],
)
def test_account_fields_are_validated(empty_db, new, message):
    with pytest.raises(ValidationError, match=message):
        users.add_user(empty_db, SYSTEM, new)
    assert users.count_users(empty_db) == 0


def test_only_an_administrator_manages_accounts(empty_db):
    anim = _add_animator(empty_db)
    manager = Actor("chargee", "manager")
    for who in (anim, manager):
        with pytest.raises(PermissionDenied, match="Seul un administrateur gère les comptes"):
            users.add_user(empty_db, who, users.NewUser("intrus", "admin", (), PASSWORD))
    with pytest.raises(PermissionDenied):
        users.set_role(empty_db, anim, "anim38", "admin")
    with pytest.raises(PermissionDenied):
        users.set_password(empty_db, anim, "autre", PASSWORD)
    assert [o for _, _, o in _audit(empty_db, "user.add")] == ["ok", "refused", "refused"]
    assert _audit(empty_db, "user.role") == [("anim38", "anim38", "refused")]
    # but anyone may change their own password
    users.set_password(empty_db, anim, "anim38", PASSWORD + "-2")
    assert users.authenticate(empty_db, "anim38", PASSWORD + "-2").role == "animator"


def test_role_change_moves_departments(empty_db):
    _add_animator(empty_db)
    users.set_role(empty_db, SYSTEM, "anim38", "animator", ["69", "38"])
    assert users.actor_for(empty_db, "anim38").departments == ("38", "69")
    users.set_role(empty_db, SYSTEM, "anim38", "manager", ["69"])
    assert users.actor_for(empty_db, "anim38") == Actor("anim38", "manager", ())


# ----- the command line -----------------------------------------------------------------


def _run(url, *args, input=None, env=None):
    return CliRunner().invoke(
        cli, ["--database-url", url, *args], input=input, env={"BALISE_USER": "", **(env or {})}
    )


def test_cli_first_administrator_then_accounts(database_url):
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    res = _run(database_url, "user", "add", "Admin.Region", "--role", "admin", input=typed)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == "Compte admin.region créé : administrateur."
    assert PASSWORD not in res.output  # hidden prompt
    res = _run(
        database_url, "user", "add", "anim38", "--role", "animator", "--department", "38",
        "--department", "69", input=typed,
    )  # fmt: skip
    assert res.output.splitlines()[-1] == "Compte anim38 créé : animateur (38, 69)."
    res = _run(database_url, "user", "add", "sso.user", "--role", "manager", "--oidc")
    assert res.output == "Compte sso.user créé : chargé de programme.\n"
    res = _run(database_url, "user", "list")
    assert res.output.splitlines() == [
        "admin.region  Administrateur  tous départements  local  actif",
        "anim38  Animateur  38,69  local  actif",
        "sso.user  Chargé de programme  tous départements  OIDC  actif",
        "3 compte(s).",
    ]
    assert _run(database_url, "user", "disable", "anim38").output == "Compte anim38 désactivé.\n"
    res = _run(database_url, "user", "passwd", "anim38", input="x" * 12 + "\n" + "x" * 12 + "\n")
    assert res.output.splitlines()[-1] == "Mot de passe de anim38 changé."
    res = _run(database_url, "user", "passwd", "admin.region", "--password-stdin",
               input="nouveau-mot-de-passe-2026\n")  # fmt: skip
    assert res.output == "Mot de passe de admin.region changé.\n"
    engine = engine_for(database_url)
    assert users.authenticate(engine, "admin.region", "nouveau-mot-de-passe-2026").role == "admin"


def test_cli_errors_are_french_and_exit_1(database_url):
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    _run(database_url, "user", "add", "anim38", "--role", "animator", "--department", "38",
         input=typed)  # fmt: skip
    res = _run(database_url, "user", "add", "anim38", "--role", "admin", input=typed)
    assert res.exit_code == 1
    assert (
        res.stderr.splitlines()[-1] == "Erreur : Le champ « identifiant » est déjà pris : anim38."
    )
    res = _run(database_url, "user", "add", "x1", "--role", "admin", input=typed,
               env={"BALISE_USER": "anim38"})  # fmt: skip
    refused = "Erreur : Seul un administrateur peut lancer « balise user add ».\n"
    assert (res.exit_code, res.stderr) == (1, refused)
    res = _run(database_url, "user", "list", env={"BALISE_USER": "inconnu"})
    assert res.stderr == "Erreur : Aucun compte n'a l'identifiant inconnu.\n"
    res = _run(database_url, "user", "disable", "personne")
    assert res.stderr == "Erreur : Aucun compte n'a l'identifiant personne.\n"


def test_secret_key_prints_a_new_fernet_key():
    first = CliRunner().invoke(cli, ["secret-key"]).output.strip()
    second = CliRunner().invoke(cli, ["secret-key"]).output.strip()
    assert first != second
    assert Fernet(first.encode()).decrypt(Fernet(first.encode()).encrypt(b"ok")) == b"ok"


# ----- the dashboard's login form (dashboard/auth.py through dashboard/app.py) ---------------


def _dashboard(engine, monkeypatch):
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    at = open_page()
    assert not at.exception, at.exception
    return at


def _submit(at, login: str, password: str):
    at.text_input(key="login_name").input(login)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def test_dashboard_is_open_only_while_no_account_exists(empty_db, monkeypatch):
    at = _dashboard(empty_db, monkeypatch)
    assert "Aucun compte n'existe encore" in at.sidebar.warning[0].value
    _add_animator(empty_db)
    at.run()  # the first account closes the open mode at the next rerun
    assert at.title[0].value == "Balise – connexion"
    assert not at.sidebar.warning


def test_login_form_wrong_then_right_then_logout(empty_db, monkeypatch):
    _add_animator(empty_db)
    at = _dashboard(empty_db, monkeypatch)
    assert at.title[0].value == "Balise – connexion"
    assert not at.metric  # nothing of the app before signing in
    _submit(at, "anim38", "mauvais mot de passe")
    assert [e.value for e in at.error] == ["Identifiant ou mot de passe incorrect."]
    _submit(at, "anim38", PASSWORD)
    assert at.session_state["actor"] == Actor("anim38", "animator", ("38",))
    assert "Connecté : anim38 · Animateur · 38" in [c.value for c in at.sidebar.caption]
    assert at.sidebar.multiselect[0].options == ["38 – Isère"]
    at.sidebar.button(key="logout").click().run()
    assert at.title[0].value == "Balise – connexion"
    assert [o for _, _, o in _audit(empty_db, "login")] == ["failed", "ok"]


def test_login_form_locks_after_five_failures(empty_db, monkeypatch):
    _add_animator(empty_db)
    at = _dashboard(empty_db, monkeypatch)
    for i in range(users.MAX_FAILURES):
        _submit(at, "anim38", f"faux-{i}")
    _submit(at, "anim38", PASSWORD)
    assert at.error[0].value.startswith("Compte verrouillé après trop d'échecs : réessayez après")
    assert "actor" not in at.session_state


# ----- the « Comptes » page --------------------------------------------------------------------


def _accounts_page(engine, monkeypatch, actor: Actor) -> AppTest:
    at = app_as(engine, monkeypatch, actor, "comptes")
    assert not at.exception, at.exception
    return at


def test_accounts_page_creates_changes_and_disables(empty_db, monkeypatch):
    admin = users.add_user(empty_db, SYSTEM, users.NewUser("admin", "admin", (), PASSWORD))
    at = _accounts_page(empty_db, monkeypatch, admin)
    at.text_input(key="new_login").input("Anim69")
    at.selectbox(key="new_role").set_value("animator")
    at.multiselect(key="new_departments").set_value(["69"])
    at.text_input(key="new_password").input("court")
    at.button[0].click().run()  # the form's submit button
    assert [e.value for e in at.error] == [
        "Le champ « mot de passe » doit compter au moins 12 caractères."
    ]
    at.text_input(key="new_login").input("Anim69")
    at.selectbox(key="new_role").set_value("animator")
    at.multiselect(key="new_departments").set_value(["69"])
    at.text_input(key="new_password").input(PASSWORD)
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["Compte anim69 créé."]
    assert users.authenticate(empty_db, "anim69", PASSWORD).departments == ("69",)
    at.selectbox(key="edit_login").set_value("anim69").run()
    at.multiselect(key="edit_departments_anim69").set_value(["69", "01"])
    at.button[1].click().run()  # « Enregistrer le rôle »
    assert users.actor_for(empty_db, "anim69").departments == ("01", "69")
    at.button(key="edit_disable").click().run()
    with pytest.raises(PermissionDenied, match="désactivé"):
        users.actor_for(empty_db, "anim69")
    assert [a for a, _, _ in _audit(empty_db, "user.add")] == ["système", "admin"]
    assert _audit(empty_db, "user.role") == [("admin", "anim69", "ok")]


def test_accounts_page_is_for_administrators_only(empty_db, monkeypatch):
    """Not in an animator's or a programme manager's menu; the page itself, run anyway, and the
    service still refuse."""
    anim = _add_animator(empty_db)
    manager = users.add_user(empty_db, SYSTEM, users.NewUser("chargee", "manager", (), PASSWORD))
    for actor in (anim, manager):
        at = app_as(empty_db, monkeypatch, actor)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("views/comptes.py")
    page = AppTest.from_file(str(Path(APP).parent / "views" / "comptes.py"), default_timeout=60)
    page.session_state["actor"] = anim
    page.run()
    assert [i.value for i in page.info] == ["Seul un administrateur gère les comptes."]
    assert not page.dataframe
    with pytest.raises(PermissionDenied, match="Seul un administrateur gère les comptes"):
        users.list_users(empty_db, anim)


# ----- the local login form in a real browser ------------------------------------------------


@pytest.mark.browser
def test_local_login_in_chromium_the_audit_page_and_sign_out(tmp_path):
    from balise.db import make_engine, upgrade
    from tests.support.adoption_seed import seed_small_adoption
    from tests.support.browser import chromium
    from tests.support.streamlit import start_streamlit

    url = f"sqlite:///{tmp_path / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_small_adoption(engine, demo=True)
    users.add_user(engine, SYSTEM, users.NewUser("admin.region", "admin", (), PASSWORD))
    server = start_streamlit({"BALISE_DATABASE_URL": url}, tmp_path)
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1200}, locale="fr-FR")
            page.goto(server.url)
            page.get_by_label("Identifiant").fill("admin.region", timeout=30_000)
            page.get_by_label("Mot de passe").fill("pas le bon")
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_text("Identifiant ou mot de passe incorrect.").wait_for(timeout=30_000)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_label("Mot de passe").press("Enter")  # the form submits on Enter
            page.get_by_role("heading", name="Vue régionale").wait_for(timeout=30_000)
            # In-app navigation: a new page load would be a new session (sign in again).
            more = page.get_by_text("View", exact=False).filter(has_text="more")
            if more.count():
                more.first.click()
            page.get_by_role("link", name="Journal d'audit").click()
            page.get_by_role("heading", name="Journal d'audit").wait_for(timeout=30_000)
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
            lines = page.locator('[data-testid="stMetric"]').filter(has_text="Lignes").first
            assert lines.locator('[data-testid="stMetricValue"]').inner_text() == "3"
            ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "audit-page.png"))
            page.get_by_role("button", name="Se déconnecter").click()
            page.get_by_role("button", name="Se connecter").wait_for(timeout=30_000)
    finally:
        server.stop()
        engine.dispose()
    assert [o for _, _, o in _audit(engine, "login")] == ["failed", "ok"]
