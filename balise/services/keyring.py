"""The BALISE_SECRET_KEY the store depends on: its fingerprint, the check every use of the key
goes through, and the rotation to a new key (``balise secret-key rotate``).

The fingerprint is the SHA-256 (hex) of the key's text; the key itself is never stored. The key
is 32 random bytes, so its fingerprint reveals nothing; messages show the first 8 characters.
The first use of a key on a store records its fingerprint (after checking that it opens the
secrets already there); from then on any other key is refused, so that a store never ends up
with secrets sealed under two keys.

Stored secrets live in the columns whose name ends with ``_ref`` (``enc:`` references, or
``env:``/``file:`` ones that hold no secret themselves): the rotation walks them all.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from balise.clock import utc_now
from balise.errors import ConfigurationError, PermissionDenied, ValidationError
from balise.models import Base, Keyring
from balise.secrets import MISSING_KEY
from balise.services import audit
from balise.services.access import Actor
from balise.services.refusals import refusals_audited

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SECRET_KEY = "secret_key"
MISSING = MISSING_KEY
WRONG = (
    "La clé BALISE_SECRET_KEY (empreinte {given}…) n'est pas celle qui a chiffré les secrets de "
    "cette base (empreinte {stored}…) : remettez la bonne clé, ou changez de clé avec "
    "« balise secret-key rotate »."
)


def fingerprint(key: str) -> str:
    """SHA-256 (hex) of the key's text: names a key without revealing it."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


def _fernet(key: str, name: str = "BALISE_SECRET_KEY") -> Fernet:
    from cryptography.fernet import Fernet

    if not key:
        raise ConfigurationError(MISSING if name == "BALISE_SECRET_KEY" else f"{name} est vide.")
    try:
        return Fernet(key.strip().encode())
    except ValueError as exc:
        raise ConfigurationError(
            f"{name} n'est pas une clé Fernet valide (une nouvelle clé : « balise secret-key »)."
        ) from exc


def secret_columns() -> list[tuple[Table, Column]]:
    """Every column that holds a secret reference (its name ends with ``_ref``)."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_ref")
    ]


def _sealed(conn: Connection, limit: int | None = None):
    """(table, primary key, token) of stored ``enc:`` secrets, all or the first ``limit``."""
    for table, column in secret_columns():
        (pk,) = table.primary_key.columns
        stmt = select(pk, column).where(column.like("enc:%")).order_by(pk).limit(limit)
        for key, ref in conn.execute(stmt):
            yield table, column, pk, key, ref.removeprefix("enc:")


def stored_fingerprint(conn: Connection) -> str | None:
    return conn.scalar(select(Keyring.fingerprint).where(Keyring.name == SECRET_KEY))


def _record_fingerprint(conn: Connection, fp: str) -> None:
    now = utc_now()
    if stored_fingerprint(conn) is None:
        conn.execute(insert(Keyring).values(name=SECRET_KEY, fingerprint=fp, since=now))
    else:
        conn.execute(
            update(Keyring).where(Keyring.name == SECRET_KEY).values(fingerprint=fp, since=now)
        )


def require_key(engine: Engine, key: str) -> None:
    """Raise ConfigurationError unless ``key`` is set, valid and the store's key. Call it before
    sealing a secret into the store or opening one, outside the action's transaction."""
    fernet = _fernet(key)
    given = fingerprint(key)
    with engine.connect() as conn:
        stored = stored_fingerprint(conn)
    if stored is None:
        stored = _adopt(engine, fernet, given)
    if stored != given:
        raise ConfigurationError(WRONG.format(given=given[:8], stored=stored[:8]))


def _adopt(engine: Engine, fernet: Fernet, given: str) -> str:
    """First use of a key on this store: it must open the secrets already sealed; record its
    fingerprint. Returns the fingerprint now recorded (another process may have been first)."""
    from cryptography.fernet import InvalidToken

    try:
        with engine.begin() as conn:
            for *_, token in _sealed(conn, limit=1):
                try:
                    fernet.decrypt(token.encode())
                except InvalidToken as exc:
                    raise ConfigurationError(
                        f"La clé BALISE_SECRET_KEY (empreinte {given[:8]}…) n'ouvre pas les "
                        "secrets déjà enregistrés dans cette base : remettez la clé qui les a "
                        "chiffrés."
                    ) from exc
            _record_fingerprint(conn, given)
    except IntegrityError:  # recorded by another process meanwhile: compare with that one
        pass
    with engine.connect() as conn:
        return stored_fingerprint(conn) or given


def rotate(engine: Engine, actor: Actor, old_key: str, new_key: str, old_name: str) -> int:
    """Re-encrypt every stored ``enc:`` secret from ``old_key`` to ``new_key`` in one
    transaction, record the new fingerprint, audit it; administrators only. How many secrets."""
    from cryptography.fernet import MultiFernet

    with refusals_audited(engine, actor, "secret_key.rotate", "BALISE_SECRET_KEY"):
        if actor.role != "admin":
            raise PermissionDenied("Seul un administrateur change la clé de chiffrement.")
    old, new = _fernet(old_key, old_name), _fernet(new_key)
    old_fp, new_fp = fingerprint(old_key), fingerprint(new_key)
    if old_fp == new_fp:
        raise ValidationError(f"{old_name} et BALISE_SECRET_KEY sont la même clé : rien à changer.")
    both = MultiFernet([new, old])  # encrypts with the new key, opens with either
    with engine.begin() as conn:
        _check_old_key(conn, old_fp, new_fp, old_name)
        count = 0
        for table, column, pk, key, token in list(_sealed(conn)):
            _check_opens(old, token, table.name, key, old_name)
            fresh = "enc:" + both.rotate(token.encode()).decode()
            conn.execute(update(table).where(pk == key).values({column.name: fresh}))
            count += 1
        _record_fingerprint(conn, new_fp)
        detail = {"secrets": count, "ancienne": old_fp[:8], "nouvelle": new_fp[:8]}
        audit.record(conn, actor, "secret_key.rotate", "BALISE_SECRET_KEY", detail=detail)
    return count


def _check_old_key(conn: Connection, old_fp: str, new_fp: str, old_name: str) -> None:
    stored = stored_fingerprint(conn)
    if stored == new_fp:
        raise ValidationError(
            f"Les secrets sont déjà chiffrés avec BALISE_SECRET_KEY (empreinte {new_fp[:8]}…)."
        )
    if stored is not None and stored != old_fp:
        raise ConfigurationError(
            f"{old_name} (empreinte {old_fp[:8]}…) n'est pas la clé de cette base (empreinte "
            f"{stored[:8]}…) : rien n'a été changé."
        )


def _check_opens(old: Fernet, token: str, table: str, key: object, old_name: str) -> None:
    from cryptography.fernet import InvalidToken

    try:
        old.decrypt(token.encode())
    except InvalidToken as exc:
        raise ConfigurationError(
            f"Un secret de {table} (ligne {key}) ne s'ouvre pas avec {old_name} : "
            "rien n'a été changé."
        ) from exc
