"""Secrets at rest: passwords, tokens and key files are never stored in clear.

A stored secret is a *reference*:
- ``enc:<token>``: encrypted with Fernet (AES-128-CBC + HMAC) under ``BALISE_SECRET_KEY``;
- ``env:NAME``: read from the environment variable NAME when needed;
- ``file:/path``: read from a file when needed (e.g. a mounted secret).
Nothing here logs a secret; ``describe()`` gives a safe label for screens and logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from balise.errors import SecretError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def new_key() -> str:
    """A fresh key for ``BALISE_SECRET_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


MISSING_KEY = (
    "BALISE_SECRET_KEY n'est pas définie : les secrets des boîtes (mots de passe, jetons) ne "
    "peuvent être ni chiffrés ni lus. Définissez-la (une nouvelle clé : « balise secret-key »)."
)


def _fernet(key: str) -> Fernet:
    from cryptography.fernet import Fernet

    if not key:
        raise SecretError(MISSING_KEY)
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise SecretError("La clé BALISE_SECRET_KEY n'est pas une clé Fernet valide.") from exc


def seal(secret: str, key: str) -> str:
    """The reference to store for ``secret``, encrypted under ``key``."""
    return "enc:" + _fernet(key).encrypt(secret.encode()).decode()


def reveal(reference: str | None, key: str) -> str:
    """The secret behind a stored reference."""
    from cryptography.fernet import InvalidToken

    if not reference:
        raise SecretError("Aucun secret n'est enregistré pour cette boîte.")
    kind, _, value = reference.partition(":")
    if kind == "enc":
        try:
            return _fernet(key).decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise SecretError("Le secret ne se déchiffre pas avec la clé actuelle.") from exc
    if kind == "env":
        if value not in os.environ:
            raise SecretError(f"La variable d'environnement {value} n'est pas définie.")
        return os.environ[value]
    if kind == "file":
        try:
            return Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"Le fichier secret {value} est illisible.") from exc
    raise SecretError("Référence de secret inconnue (attendu enc:, env: ou file:).")


def describe(reference: str | None) -> str:
    """A label safe to show or log: never the secret itself."""
    if not reference:
        return "aucun"
    kind, _, value = reference.partition(":")
    return {"enc": "chiffré", "env": f"variable {value}", "file": f"fichier {value}"}.get(
        kind, "inconnu"
    )
