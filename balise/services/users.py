"""Local accounts and sign-in: who may use Balise, with which role and departments.

Passwords are hashed with scrypt (memory-hard KDF of the standard library; parameters stored
in each hash so they can be raised later). After ``MAX_FAILURES`` wrong passwords in a row an
account is locked for ``LOCK_MINUTES``. Every change and every sign-in attempt writes one audit
line; no password, hash or token is ever logged or audited.

OIDC sign-in (Streamlit's ``st.login``) maps the identity token's claims to an ``Actor``: a
row of the ``users`` table wins (an administrator decides), otherwise a role claim.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy import Connection, Engine, func, insert, select, update

from balise.clock import utc_now
from balise.errors import NotFoundError, PermissionDenied, ValidationError
from balise.formatting import fr_time
from balise.models import User
from balise.referentials.departments import load_departments
from balise.services import audit
from balise.services.access import ROLES, SYSTEM, Actor
from balise.services.refusals import refusals_audited

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

MAX_FAILURES = 5
LOCK_MINUTES = 15
PASSWORD_MIN_LENGTH = 12
# scrypt cost: N=2^15, r=8 -> 32 MiB and ~0.1 s per hash here; stored in the hash itself.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{1,254}$")
WRONG_CREDENTIALS = "Identifiant ou mot de passe incorrect."


# ----- password hashing ---------------------------------------------------------------------


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), a fresh salt each time."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored hash (False for no hash)."""
    try:
        kind, n, r, p, salt, digest = (stored or "").split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown logins against, so that they cost the same time as known ones
    (made at the first login, not at import: every command imports this module)."""
    return hash_password(secrets.token_hex(8))


# ----- validation ---------------------------------------------------------------------------


def _clean_login(login: str) -> str:
    login = (login or "").strip().lower()
    if not _LOGIN_RE.match(login):
        raise ValidationError(
            "Le champ « identifiant » doit faire 2 à 255 caractères parmi a-z, 0-9, . _ @ + -."
        )
    return login


def _clean_role(role: str, departments: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    if role not in ROLES:
        raise ValidationError(f"Le champ « rôle » doit valoir {', '.join(ROLES)}.")
    codes = tuple(sorted({d.strip().upper() for d in departments if d.strip()}))
    unknown = [c for c in codes if c not in load_departments()]
    if unknown:
        raise ValidationError(f"Le champ « départements » cite un code inconnu : {unknown[0]}.")
    if role == "animator" and not codes:
        raise ValidationError("Le champ « départements » est obligatoire pour un animateur.")
    return role, codes if role == "animator" else ()


def check_password_policy(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"Le champ « mot de passe » doit compter au moins {PASSWORD_MIN_LENGTH} caractères."
        )


def _require_admin(engine: Engine, actor: Actor, action: str, obj: str | None) -> None:
    """Refuse (audited, with the reason) anyone but an administrator."""
    with refusals_audited(engine, actor, action, obj):
        if actor.role != "admin":
            raise PermissionDenied("Seul un administrateur gère les comptes.")


# ----- account management -------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    login: str
    role: str
    departments: tuple[str, ...] = ()
    password: str | None = None  # None: an OIDC-only account (no local password)
    display_name: str = ""


def add_user(engine: Engine, actor: Actor, new: NewUser) -> Actor:
    """Create an account; administrators only (the first one from the command line)."""
    login = _clean_login(new.login)
    _require_admin(engine, actor, "user.add", login)
    role, departments = _clean_role(new.role, new.departments)
    if new.password is not None:
        check_password_policy(new.password)
    with engine.begin() as conn:
        if conn.scalar(select(User.id).where(User.login == login)) is not None:
            raise ValidationError(f"Le champ « identifiant » est déjà pris : {login}.")
        conn.execute(
            insert(User).values(
                login=login, display_name=new.display_name.strip(), role=role,
                departments=",".join(departments), created_at=utc_now(),
                password_hash=hash_password(new.password) if new.password else None,
            )
        )  # fmt: skip
        detail = {"rôle": role, "départements": list(departments), "local": bool(new.password)}
        audit.record(conn, actor, "user.add", login, detail=detail)
    log.info("account %s created (%s)", login, role)
    return Actor(login, role, departments)


def _find(conn: Connection, login: str):
    """The account row (every column, attribute access) or None."""
    return conn.execute(select(User.__table__).where(User.login == login)).first()


def _get(conn: Connection, login: str):
    row = _find(conn, login.strip().lower())
    if row is None:
        raise NotFoundError(f"Aucun compte n'a l'identifiant {login}.")
    return row


def set_role(
    engine: Engine, actor: Actor, login: str, role: str, departments: Iterable[str] = ()
) -> None:
    """Change an account's role and departments (a role change, audited)."""
    _require_admin(engine, actor, "user.role", login)
    role, codes = _clean_role(role, departments)
    with engine.begin() as conn:
        user = _get(conn, login)
        conn.execute(
            update(User).where(User.id == user.id).values(role=role, departments=",".join(codes))
        )
        detail = {"avant": user.role, "après": role, "départements": list(codes)}
        audit.record(conn, actor, "user.role", user.login, detail=detail)


def disable_user(engine: Engine, actor: Actor, login: str) -> None:
    """Disable an account: it can no longer sign in (kept for the audit trail)."""
    _require_admin(engine, actor, "user.disable", login)
    with engine.begin() as conn:
        user = _get(conn, login)
        conn.execute(update(User).where(User.id == user.id).values(disabled=True))
        audit.record(conn, actor, "user.disable", user.login)


def check_password_change(engine: Engine, actor: Actor, login: str) -> None:
    """Refuse (audited) unless ``actor`` may set the password of ``login``: an administrator
    anyone's, a user their own."""
    if actor.role != "admin" and actor.login != login.strip().lower():
        _require_admin(engine, actor, "user.passwd", login)


def set_password(engine: Engine, actor: Actor, login: str, password: str) -> None:
    """Set a new password (a credential change); also lifts a lock-out. An administrator may
    set anyone's; a user their own."""
    check_password_change(engine, actor, login)
    check_password_policy(password)
    with engine.begin() as conn:
        user = _get(conn, login)
        conn.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=hash_password(password), failed_logins=0, locked_until=None)
        )
        audit.record(conn, actor, "user.passwd", user.login)


def list_users(engine: Engine, actor: Actor) -> pd.DataFrame:
    """Accounts without any hash: login, name, role, departments, state."""
    import pandas as pd

    _require_admin(engine, actor, "user.list", None)
    query = select(
        User.login, User.display_name, User.role, User.departments, User.disabled,
        User.locked_until, User.password_hash.is_not(None).label("local"), User.created_at,
    ).order_by(User.login)  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(User)) or 0


def _actor_of(user) -> Actor:
    departments = tuple(d for d in (user.departments or "").split(",") if d)
    return Actor(user.login, user.role, departments)


def actor_for(engine: Engine, login: str) -> Actor:
    """The actor of an existing, enabled account (the CLI's ``BALISE_USER``)."""
    with engine.connect() as conn:
        user = _get(conn, login)
    if user.disabled:
        raise PermissionDenied(f"Le compte {user.login} est désactivé.")
    return _actor_of(user)


# ----- sign-in ------------------------------------------------------------------------------


def authenticate(engine: Engine, login: str, password: str, now: datetime | None = None) -> Actor:
    """Check a local sign-in; one audit line ``login`` whatever the outcome."""
    now = now or utc_now()
    login = (login or "").strip().lower()[:255]
    with engine.begin() as conn:
        user = _find(conn, login)
        if user is None or user.password_hash is None:
            verify_password(password, _dummy_hash())
            _refuse(conn, login, "failed", WRONG_CREDENTIALS)
        if user.disabled:
            _refuse(conn, login, "refused", f"Le compte {login} est désactivé.")
        if user.locked_until and user.locked_until > now:
            why = (
                "Compte verrouillé après trop d'échecs : réessayez après "
                f"{fr_time(user.locked_until)}."
            )
            _refuse(conn, login, "refused", why)
        if not verify_password(password, user.password_hash):
            _refuse(conn, login, "failed", WRONG_CREDENTIALS, _count_failure(conn, user.id, now))
        conn.execute(
            update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
        )
        actor = _actor_of(user)
        audit.record(conn, actor, "login", login, detail={"méthode": "local"})
    return actor


def _count_failure(conn: Connection, user_id: int, now: datetime) -> dict:
    """One more failure, counted in SQL so that concurrent attempts cannot lose one; the
    MAX_FAILURES-th locks the account and starts the count again."""
    failures = conn.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    locked = failures >= MAX_FAILURES
    if locked:
        until = now + timedelta(minutes=LOCK_MINUTES)
        conn.execute(
            update(User).where(User.id == user_id).values(failed_logins=0, locked_until=until)
        )
    return {"échecs": failures, "verrouillé": locked}


def _refuse(
    conn: Connection, login: str, outcome: str, why: str, detail: dict | None = None
) -> NoReturn:
    """Audit a refused sign-in and raise; the audit line (and the failure count) are
    committed first, since the raise would otherwise roll them back."""
    who = Actor(login or "?", "animator")
    audit.record(conn, who, "login", login or None, outcome, detail=detail)
    conn.commit()
    raise PermissionDenied(why)


@dataclass(frozen=True)
class ClaimNames:
    role: str = "balise_role"
    departments: str = "balise_departments"


def _claim_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [v for v in re.split(r"[,\s]+", value) if v]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


def oidc_actor(engine: Engine, claims: Mapping[str, object], names: ClaimNames) -> Actor:
    """The actor for an OIDC identity: the ``users`` row for its e-mail (or subject) if one
    exists, else the role and departments claims. One audit line ``login`` either way."""
    login = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "")
    login = login.strip().lower()[:255]
    with engine.begin() as conn:
        user = _find(conn, login) if login else None
        if user is not None and user.disabled:
            _refuse(conn, login, "refused", f"Le compte {login} est désactivé.")
        if user is not None:
            actor = _actor_of(user)
        else:
            roles = [r for r in _claim_list(claims.get(names.role)) if r in ROLES]
            if not login or not roles:
                why = "Votre compte n'a pas de rôle dans Balise : demandez-le à un administrateur."
                _refuse(conn, login, "refused", why, {"méthode": "oidc"})
            # Several roles in the claim: the widest wins (admin > manager > animator).
            role = next(r for r in ROLES if r in roles)
            try:
                role, departments = _clean_role(role, _claim_list(claims.get(names.departments)))
            except ValidationError as exc:
                _refuse(conn, login, "refused", str(exc), {"méthode": "oidc"})
            actor = Actor(login, role, departments)
        detail = {"méthode": "oidc", "source": "comptes" if user else "revendication"}
        audit.record(conn, actor, "login", login, detail=detail)
    return actor


def cli_actor(engine_factory, login: str | None = None) -> Actor:
    """Who the command line acts as: the account named by ``BALISE_USER`` (so that the CLI obeys
    the same department rules as the pages), else the local operator. A named account that does
    not exist or is disabled is refused: never the local operator in its place."""
    login = login if login is not None else os.environ.get("BALISE_USER", "")
    if not login.strip():
        return SYSTEM
    try:
        return actor_for(engine_factory(), login)
    except NotFoundError as exc:
        raise PermissionDenied(str(exc)) from exc
