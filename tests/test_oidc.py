"""OIDC sign-in. The claim -> role mapping on both databases; then the whole flow in Chromium:
Streamlit's own ``st.login`` against an OpenID Connect provider started by the test on
127.0.0.1 (tests/support/oidc.py: discovery, JWKS, authorization code with PKCE, RS256 ID
token), back to the dashboard as the mapped actor, with the sign-in in the audit trail."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from balise.db import make_engine, upgrade
from balise.errors import PermissionDenied
from balise.models import AuditEntry
from balise.services import users
from balise.services.access import SYSTEM, Actor
from tests.support.adoption_seed import seed_small_adoption
from tests.support.browser import chromium
from tests.support.oidc import secrets_toml, start_provider, stop_provider
from tests.support.streamlit import start_streamlit

NAMES = users.ClaimNames("balise_role", "balise_departments")
NO_ROLE = r"^Votre compte n'a pas de rôle dans Balise : demandez-le à un administrateur\.$"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _login_lines(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(AuditEntry.actor, AuditEntry.outcome, AuditEntry.detail)
            .where(AuditEntry.action == "login")
            .order_by(AuditEntry.id)
        ).all()


# ----- claims -> actor ----------------------------------------------------------------------


def test_role_and_departments_from_claims(empty_db):
    claims = {"sub": "x1", "email": "Anne@ARA.test", "balise_role": "animator",
              "balise_departments": "38 69"}  # fmt: skip
    assert users.oidc_actor(empty_db, claims, NAMES) == Actor(
        "anne@ara.test", "animator", ("38", "69")
    )
    claims = {"email": "chef@ara.test", "balise_role": ["animator", "manager"]}
    assert users.oidc_actor(empty_db, claims, NAMES) == Actor("chef@ara.test", "manager", ())
    assert [(a, o) for a, o, _ in _login_lines(empty_db)] == [
        ("anne@ara.test", "ok"),
        ("chef@ara.test", "ok"),
    ]
    assert json.loads(_login_lines(empty_db)[0][2]) == {
        "méthode": "oidc",
        "source": "revendication",
    }


def test_the_accounts_table_wins_over_claims(empty_db):
    users.add_user(empty_db, SYSTEM, users.NewUser("anne@ara.test", "animator", ("01",)))
    claims = {"email": "anne@ara.test", "balise_role": "admin"}  # a claim cannot promote
    assert users.oidc_actor(empty_db, claims, NAMES) == Actor("anne@ara.test", "animator", ("01",))
    users.disable_user(empty_db, SYSTEM, "anne@ara.test")
    with pytest.raises(PermissionDenied, match=r"^Le compte anne@ara.test est désactivé\.$"):
        users.oidc_actor(empty_db, claims, NAMES)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"email": "x@ara.test"}, NO_ROLE),
        ({"email": "x@ara.test", "balise_role": "superuser"}, NO_ROLE),
        ({"balise_role": "admin"}, NO_ROLE),  # no identity at all
        ({"email": "x@ara.test", "balise_role": "animator"}, "« départements » est obligatoire"),
        ({"email": "x@ara.test", "balise_role": "animator", "balise_departments": ["99"]},
         "code inconnu : 99"),
    ],
)  # fmt: skip
def test_identities_without_a_usable_role_are_refused_and_audited(empty_db, claims, message):
    with pytest.raises(PermissionDenied, match=message):
        users.oidc_actor(empty_db, claims, NAMES)
    assert [o for _, o, _ in _login_lines(empty_db)] == ["refused"]


# ----- the real flow in Chromium --------------------------------------------------------------

IDENTITIES = {
    "anim38@ara.test": {"email": "anim38@ara.test", "name": "Anne Isère",
                        "balise_role": "animator", "balise_departments": ["38"]},
    "sansrole@ara.test": {"email": "sansrole@ara.test", "name": "Sans Rôle"},
    "chef@ara.test": {"email": "chef@ara.test", "name": "Cheffe", "balise_role": "animator",
                      "balise_departments": ["69"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def oidc_dashboard(tmp_path_factory):
    """The dashboard with ``[auth]`` pointing at the local provider, on a seeded SQLite store
    where chef@ara.test is a programme manager in the accounts table."""
    tmp = tmp_path_factory.mktemp("oidc")
    url = f"sqlite:///{tmp / 'balise.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_small_adoption(engine, demo=True)
    users.add_user(engine, SYSTEM, users.NewUser("chef@ara.test", "manager"))
    provider = start_provider(IDENTITIES)
    (tmp / "secrets.toml").write_text(secrets_toml(provider, secrets.token_urlsafe(32)))
    env = {"BALISE_DATABASE_URL": url, "STREAMLIT_SECRETS_FILES": str(tmp / "secrets.toml")}
    server = start_streamlit(env, tmp)
    yield server, provider, engine
    server.stop()
    stop_provider(provider)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _sign_in(browser, server, login: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="fr-FR")
    page = context.new_page()
    page.goto(server.url)
    page.get_by_role("button", name="Se connecter").click(timeout=30_000)
    page.locator("#login").fill(login, timeout=30_000)  # the provider's own form
    page.locator("#signin").click()
    page.wait_for_url(f"{server.url}/**", timeout=30_000)
    return context, page


def _shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.mark.browser
def test_st_login_through_a_local_provider_maps_claims_to_an_animator(oidc_dashboard, browser):
    server, provider, engine = oidc_dashboard
    context, page = _sign_in(browser, server, "anim38@ara.test")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Connecté : anim38@ara.test · Animateur · 38").wait_for(timeout=30_000)
    page.get_by_role("heading", name="Vue régionale").wait_for(timeout=30_000)
    _shoot(page, "oidc-animator")
    # the figures are the Isère's, and the department filter has nothing else to offer
    esms = page.locator('[data-testid="stMetric"]').filter(has_text="ESMS suivis").first
    assert esms.locator('[data-testid="stMetricValue"]').inner_text() == "3"
    departments = sidebar.locator('[data-testid="stMultiSelect"]')
    assert "38 – Isère" in departments.inner_text()
    departments.click()
    assert page.locator('[role="option"]').all_inner_texts() == ["No results"]
    context.close()
    # the code was exchanged with PKCE and the client secret, and the sign-in is audited
    assert provider.token_requests and provider.token_requests[-1]["code_verifier"]
    actor, outcome, detail = _login_lines(engine)[-1]
    assert (actor, outcome, json.loads(detail)["méthode"]) == ("anim38@ara.test", "ok", "oidc")


@pytest.mark.browser
def test_the_accounts_table_decides_the_role_and_sign_out_works(oidc_dashboard, browser):
    server, _, engine = oidc_dashboard
    context, page = _sign_in(browser, server, "chef@ara.test")
    caption = "Connecté : chef@ara.test · Chargé de programme · tous les départements"
    page.locator('[data-testid="stSidebar"]').get_by_text(caption).wait_for(timeout=30_000)
    # signing out clears Streamlit's identity cookie: a reload asks to sign in again
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("button", name="Se connecter").wait_for(timeout=30_000)
    page.reload()
    page.get_by_role("button", name="Se connecter").wait_for(timeout=30_000)
    context.close()
    assert json.loads(_login_lines(engine)[-1][2])["source"] == "comptes"


@pytest.mark.browser
def test_an_identity_without_a_role_sees_a_french_refusal(oidc_dashboard, browser):
    server, _, engine = oidc_dashboard
    context, page = _sign_in(browser, server, "sansrole@ara.test")
    page.get_by_text("Votre compte n'a pas de rôle dans Balise").wait_for(timeout=30_000)
    _shoot(page, "oidc-refused")
    assert page.get_by_role("heading", name="Vue régionale").count() == 0
    context.close()
    assert _login_lines(engine)[-1][:2] == ("sansrole@ara.test", "refused")
