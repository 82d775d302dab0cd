"""The « Serveurs de l'opérateur » form shared by the Provisionner and Tester pages: how a BAL at
a real operator is reached, as the operator publishes it (IMAP, submission, login, auth); and
the Activité page's « Suivre une boîte », the same widgets for a mailbox to watch.

Widgets only: reading and saving go through ``dashboard.data`` and ``dashboard.actions``
(``balise.services.activity``, which checks the actor's rights and writes the audit line).
A secret typed here is sealed at once; left empty, the one already registered is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from balise.errors import BaliseError, PermissionDenied
from balise.mail.endpoints import AUTH_MODES, IMAP_PORTS, TLS_MODES
from balise.services.access import Actor, check_can_act
from balise.services.activity import WatchRequest
from balise.services.labels import department_label
from dashboard import actions, data
from dashboard.shell import act

TLS_LABELS = {"starttls": "STARTTLS", "implicit": "TLS implicite"}
AUTH_LABELS = {
    "password": "mot de passe",
    "xoauth2": "jeton XOAUTH2 (Pro Santé Connect)",
    "oauthbearer": "jeton OAUTHBEARER (Pro Santé Connect)",
    "external": "certificat client (EXTERNAL)",
}
# Where the secret of a watched mailbox lives: typed here (sealed), or named (env:NAME).
SECRET_PLACES = {
    "typed": "saisi ici (chiffré dans la base)",
    "env": "variable d'environnement du serveur (env:NOM)",
}


def _port(text: str, label: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise BaliseError(f"Le champ « {label} » doit être un nombre (par exemple 587).")
    return int(text)


def _request(address: str, department: str, values: dict) -> WatchRequest:
    imap_port = _port(values["imap_port"], "port IMAP") or IMAP_PORTS[values["tls_mode"]]
    return WatchRequest(
        address=address, department=department, imap_host=values["imap_host"],
        imap_port=imap_port, tls_mode=values["tls_mode"], auth_mode=values["auth_mode"],
        username=values["username"] or None, secret=values["secret"] or None,
        secret_ref=values.get("secret_ref") or None,
        ca_bundle=values["ca_bundle"] or None, client_cert=values["client_cert"] or None,
        client_key=values["client_key"] or None,
        smtp_host=values["smtp_host"] or None,
        smtp_port=_port(values["smtp_port"], "port d'envoi"),
        smtp_tls_mode=values["smtp_tls_mode"] or None,
    )  # fmt: skip


def _fields(current: dict, key: str) -> dict:
    values: dict = {}
    left, right = st.columns(2)
    values["imap_host"] = left.text_input("Serveur IMAP", current.get("imap_host", ""),
                                          key=f"{key}_imap_host")  # fmt: skip
    values["imap_port"] = left.text_input(
        "Port IMAP", str(current.get("imap_port", "")), placeholder="143 ou 993",
        key=f"{key}_imap_port",
    )  # fmt: skip
    values["tls_mode"] = left.selectbox(
        "TLS de l'IMAP", TLS_MODES, TLS_MODES.index(current.get("tls_mode", "starttls")),
        format_func=TLS_LABELS.get, key=f"{key}_tls_mode", placeholder="Choisir…",
    )  # fmt: skip
    values["smtp_host"] = right.text_input(
        "Serveur d'envoi (SMTP)", current.get("smtp_host", ""),
        placeholder="le serveur IMAP", key=f"{key}_smtp_host",
    )  # fmt: skip
    values["smtp_port"] = right.text_input(
        "Port d'envoi", str(current.get("smtp_port", "")), placeholder="587 ou 465",
        key=f"{key}_smtp_port",
    )  # fmt: skip
    smtp_modes = ("", *TLS_MODES)
    values["smtp_tls_mode"] = right.selectbox(
        "TLS de l'envoi", smtp_modes, smtp_modes.index(current.get("smtp_tls_mode", "")),
        format_func=lambda m: TLS_LABELS.get(m, "comme l'IMAP"), key=f"{key}_smtp_tls_mode",
        placeholder="Choisir…",
    )  # fmt: skip
    return values


def _secret(column, current: dict, key: str, reference: bool) -> dict:
    """The password or token, typed once (sealed on save); with ``reference``, or the name of
    the environment variable that holds it."""
    if reference and column.radio("Secret", tuple(SECRET_PLACES), format_func=SECRET_PLACES.get,
                                  horizontal=True, key=f"{key}_secret_place") == "env":  # fmt: skip
        name = column.text_input("Variable d'environnement", placeholder="BALISE_SECRET_ACCUEIL",
                                 key=f"{key}_secret_env")  # fmt: skip
        return {"secret": "", "secret_ref": f"env:{name.strip()}"}
    kept = (
        f" (enregistré : {current['secret']} ; vide = le garder)" if current.get("secret") else ""
    )
    return {"secret": column.text_input(f"Mot de passe ou jeton{kept}", type="password",
                                        key=f"{key}_secret")}  # fmt: skip


def _identity(current: dict, address: str, key: str, reference: bool = False) -> dict:
    values: dict = {}
    left, right = st.columns(2)
    values["username"] = left.text_input(
        "Identifiant de connexion", current.get("username", ""), placeholder=address,
        help="Si l'opérateur donne un identifiant différent de l'adresse.", key=f"{key}_username",
    )  # fmt: skip
    values["auth_mode"] = left.selectbox(
        "Authentification", AUTH_MODES, AUTH_MODES.index(current.get("auth_mode", "password")),
        format_func=AUTH_LABELS.get, key=f"{key}_auth_mode", placeholder="Choisir…",
    )  # fmt: skip
    values |= _secret(right, current, key, reference)
    values["ca_bundle"] = right.text_input(
        "Autorités de confiance (fichier PEM)", current.get("ca_bundle") or "",
        placeholder="/etc/balise/igc-sante.pem", key=f"{key}_ca_bundle",
    )  # fmt: skip
    values["client_cert"], values["client_key"] = "", ""
    if values["auth_mode"] == "external":
        values["client_cert"] = left.text_input("Certificat client (PEM)",
            current.get("client_cert") or "", key=f"{key}_client_cert")  # fmt: skip
        values["client_key"] = right.text_input("Clé du certificat client (PEM)",
            current.get("client_key") or "", key=f"{key}_client_key")  # fmt: skip
    return values


def operator_servers_form(actor: Actor, address: str, department: str, key: str) -> None:
    """The form for ``address``; saving registers the BAL (or changes its servers)."""
    current = data.bal_endpoints(actor, address) or {}
    if current.get("username") == address:
        current["username"] = ""
    st.caption(
        "Les réglages que publie votre opérateur : serveur et port IMAP, serveur et port d'envoi, "
        "TLS de chacun, identifiant s'il diffère de l'adresse."
    )
    values = _fields(current, key) | _identity(current, address, key)
    if st.button("Enregistrer les serveurs", key=f"{key}_save"):
        try:
            added = actions.bal_save_endpoints(actor, _request(address, department, values))
        except BaliseError as exc:
            st.error(str(exc))
        else:
            st.success(f"Serveurs de {address} {'enregistrés' if added else 'mis à jour'}.")


def _acts_on(actor: Actor, department: str) -> bool:
    try:
        check_can_act(actor, department, "mailbox")
    except PermissionDenied:
        return False
    return True


def watchable(actor: Actor, departments: tuple[str, ...]) -> tuple[str, ...]:
    """The departments among ``departments`` where ``actor`` may watch and poll mailboxes."""
    return tuple(d for d in departments if _acts_on(actor, d))


def watch_mailbox_form(
    actor: Actor, departments: tuple[str, ...], key: str, then: Callable[[str], None] | None = None
) -> None:
    """« Suivre une boîte »: a mailbox, its department, servers, login and secret. The service
    refuses what the actor may not do (audited) and writes the audit line (never the secret);
    ``then`` gets the address once it is watched."""
    allowed = watchable(actor, departments)
    if not allowed:
        try:  # the service's own sentence: « Un chargé de programme consulte… »
            check_can_act(actor, departments[0] if departments else "", "mailbox")
        except PermissionDenied as refusal:
            st.info(str(refusal))
        else:
            st.info("Choisissez au moins un département pour y suivre une boîte.")
        return
    left, right = st.columns(2)
    address = left.text_input("Adresse de la boîte", placeholder="accueil@ehpad.mssante.fr",
                              key=f"{key}_address").strip().lower()  # fmt: skip
    department = right.selectbox("Département", allowed, format_func=department_label,
                                 key=f"{key}_department", placeholder="Choisir…")  # fmt: skip
    values = _fields({}, key) | _identity({}, address, key, reference=True)

    def _watch() -> None:
        actions.mailbox_watch(actor, _request(address, department, values))
        if then is not None:
            then(address)

    if st.button("Suivre cette boîte", type="primary", key=f"{key}_save"):
        act(
            _watch,
            f"Boîte {address} suivie : elle sera relevée par « balise poll » ou « balise worker ».",
            key=f"{key}_done",
        )
