"""The Provisionner and Tester pages in AppTest, against the real store (SQLite and PostgreSQL)
and the real Dovecot sandbox."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from balise.config import load_settings
from balise.formatting import THIN
from balise.referentials.bal_rules import BalRequest
from balise.referentials.bal_sheet import HEADER, template_bytes
from balise.secrets import new_key
from balise.services import audit_log, bal_lifecycle, provisioned_bals, watched_mailboxes
from balise.services import provisioning as prov
from balise.services.access import SYSTEM
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import app_as, open_page
from tests.support.dovecot import add_login, add_operator_account, unique_address
from tests.support.finess import AIN_EHPAD, seed_establishment
from tests.support.two_departments import ADMIN, ANIM38, MANAGER

DOMAIN = "ehpad-lilas.mssante.fr"
RPPS = "10003456786"


@pytest.fixture
def bal_env(empty_db, tmp_path, dovecot, monkeypatch):
    """The dashboard's settings: this store, the sandbox operator, one allowed domain."""
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_ALLOWED_DOMAINS", DOMAIN)
    monkeypatch.setenv("BALISE_SECRET_KEY", new_key())
    for name, value in dovecot.provisioning_env().items():
        monkeypatch.setenv(name, value)
    return empty_db


def _open(page: str) -> AppTest:
    at = open_page(page)
    assert not at.exception, at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.mark.mail
def test_provisionner_validates_from_the_first_submit_then_creates_the_bal(bal_env):
    at = _open("provisionner")
    assert at.title[0].value == "Provisionner des BAL"
    assert "opérateur bac à sable" in at.caption[0].value
    # No structure in an empty store: a PER BAL is for a department, « 01 – Ain » the first.
    assert at.selectbox(key="prov_department").value == "01"
    assert at.selectbox(key="prov_department").options[0] == "01 – Ain"
    # Nothing typed yet: nothing is wrong yet either.
    assert _errors(at) == [] and not at.button(key="prov_submit").disabled
    at.button(key="prov_submit").click().run()
    # Submitted empty: every missing field of a PER is named, the button waits for a fix.
    assert _errors(at) == [
        "Le champ « prénom du titulaire » est obligatoire pour une BAL PER.",
        "Le champ « nom du titulaire » est obligatoire pour une BAL PER.",
        "Le champ « RPPS ou ADELI du titulaire » est obligatoire pour une BAL PER.",
        "Le champ « adresse » est obligatoire.",
    ]
    assert at.button(key="prov_submit").disabled
    at.text_input(key="prov_first_name").input("Hélène")
    at.text_input(key="prov_last_name").input("Le Bœuf")
    at.text_input(key="prov_holder_id").input("10003456787").run()
    assert _errors(at) == [
        "Le champ « RPPS ou ADELI du titulaire » a une clé de contrôle RPPS fausse."
    ]
    assert f"Adresse proposée : helene.le-boeuf@{DOMAIN}" in [c.value for c in at.caption]
    address = unique_address("helene", DOMAIN)
    at.text_input(key="prov_holder_id").input(RPPS)
    at.text_input(key="prov_address").input(address).run()
    assert _errors(at) == []
    assert at.success[0].value == "La demande respecte les règles : elle peut être provisionnée."
    at.button(key="prov_submit").click().run()
    assert not at.exception, at.exception
    assert at.success[1].value == f"BAL {address} créée."
    assert len(at.code[0].value) >= 16  # the password, shown once
    assert prov.get_bal(bal_env, address).status == "provisioned"
    # Provisioned now: the same form is refused by name.
    at.run()
    assert _errors(at) == [
        f"Le champ « adresse » : {address} existe déjà parmi les BAL provisionnées."
    ]


def _workbook(rows: list[dict]) -> bytes:
    book = load_workbook(io.BytesIO(template_bytes()))
    for row in rows:
        book["BAL"].append([row.get(name) for name in HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.mail
def test_provisionner_import_dry_run_then_apply(bal_env):
    good = {"bal_type": "CAB", "department": "01", "practice": "Cabinet des Lilas",
            "address": unique_address("cabinet", DOMAIN)}  # fmt: skip
    bad = {"bal_type": "APP", "department": "01", "address": unique_address("dpi", DOMAIN)}
    at = _open("provisionner")
    at.file_uploader(key="prov_upload").set_value(
        ("lot.xlsx", _workbook([good, bad]), "application/octet-stream")
    ).run()
    assert not at.exception, at.exception
    assert "1 ligne(s) en erreur sur 2 : corrigez le fichier, rien n'a été importé." in _errors(at)
    assert at.button(key="prov_apply").disabled
    table = at.dataframe[0].value
    assert table["Ligne"].tolist() == [2, 3]
    assert table["État"].tolist() == ["à créer", "erreur"]
    at.file_uploader(key="prov_upload").set_value(
        ("lot.xlsx", _workbook([good]), "application/octet-stream")
    ).run()
    at.button(key="prov_apply").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][-1] == (
        "Import appliqué : 1 BAL créées ou demandées, 0 déjà présentes."
    )
    assert prov.get_bal(bal_env, good["address"]).status == "provisioned"


@pytest.mark.mail
def test_tester_shows_each_step_then_the_history(bal_env):
    address = unique_address("jeanne", DOMAIN)
    request = BalRequest("PER", "01", address, "Jeanne", "Durand", RPPS)
    prov.provision(bal_env, SYSTEM, load_settings(), request)
    at = _open("tester")
    assert at.multiselect(key="test_pick").value == [address]
    assert at.info[0].value == "Aucun test enregistré pour cette sélection."
    at.button(key="test_run").click().run()
    assert not at.exception, at.exception
    steps = [m.value for m in at.markdown if m.value.startswith((":green[", ":red[", ":gray["))]
    assert [s.split(" ")[1] for s in steps] == ["Connexion", "Authentification", "Envoi",
                                                 "Réception"]  # fmt: skip
    # Each step's time in French: « 0,05 s » (decimal comma, narrow no-break space).
    assert all(s.startswith(":green[:material/check_circle:]") for s in steps)
    assert all(re.search(rf" \d+,\d\d{THIN}s$", s) for s in steps), steps
    assert at.success[0].value == "Message reçu dans la boîte de réception."
    at.run()
    assert len(at.get("plotly_chart")) == 2
    history = at.dataframe[0].value
    assert history["Adresse"].tolist() == [address]
    assert history["Résultat"].tolist() == ["Réussi"]
    assert history["Réception (s)"].iloc[0] > 0
    assert prov.get_bal(bal_env, address).status == "test_passed"


@pytest.mark.mail
def test_pages_say_what_is_missing_without_the_server(bal_env, tmp_path, monkeypatch):
    monkeypatch.setenv("BALISE_DOVECOT_PASSWD_FILE", str(tmp_path / "nulle-part" / "%u"))
    for page in ("provisionner", "tester"):
        at = _open(page)
        assert at.warning[0].value == (
            f"Le dossier des fichiers d'utilisateurs Dovecot {tmp_path / 'nulle-part'} "
            "n'existe pas."
        )
    # The sandbox's files are there, but its Dovecot is not running.
    stopped = tmp_path / "arrete"
    (stopped / "users.d").mkdir(parents=True)
    monkeypatch.setenv("BALISE_DOVECOT_PASSWD_FILE", str(stopped / "users.d" / "%u"))
    monkeypatch.setenv("BALISE_DOVECOT_CONFIG", str(stopped / "dovecot.conf"))
    at = _open("provisionner")
    assert at.warning[0].value == (
        f"Le serveur Dovecot ({stopped / 'dovecot.conf'}) ne répond pas : démarrez-le "
        "(« make run » démarre l'opérateur bac à sable) ou choisissez le moteur « request »."
    )


@pytest.fixture
def request_env(db_with_ain_ehpad, tmp_path, monkeypatch):
    """The ``request`` backend: no mail server, the operator gets a file; the FINESS holds the
    EHPAD 010001246 of the Ain (01)."""
    empty_db = db_with_ain_ehpad
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_ALLOWED_DOMAINS", DOMAIN)
    monkeypatch.setenv("BALISE_PROVISION_BACKEND", "request")
    return empty_db


def test_request_backend_hands_the_file_then_confirms(request_env):
    at = _open("provisionner")
    assert "demande à l'opérateur" in at.caption[0].value
    assert not at.main.warning  # nothing is missing for this backend (the sidebar may say
    # that no account exists yet: that is the open-mode notice, not a missing piece)
    at.selectbox(key="prov_structure").set_value(AIN_EHPAD).run()
    at.radio(key="prov_type").set_value("ORG").run()
    for key, value in {
        "service": "Équipe de soins",
        "responsible": "Dr Durand",
        "structure_head": "Paul Martin",
    }.items():
        at.text_input(key=f"prov_{key}").input(value)  # fmt: skip
    at.run()
    assert _errors(at) == []
    assert at.markdown[0].value.startswith("**EHPAD Les Lilas**")
    assert f"Adresse proposée : equipe-de-soins@{DOMAIN}" in [c.value for c in at.caption]
    at.button(key="prov_submit").click().run()
    assert at.success[1].value == f"BAL equipe-de-soins@{DOMAIN} demandée à l'opérateur."
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Télécharger demande-BAL-") and label.endswith(".xlsx")
               for label in labels)  # fmt: skip
    at.run()
    assert at.selectbox(key="prov_confirm_pick").value == f"equipe-de-soins@{DOMAIN}"
    at.button(key="prov_confirm").click().run()
    assert f"BAL equipe-de-soins@{DOMAIN} confirmée." in [x.value for x in at.success]
    assert prov.get_bal(request_env, f"equipe-de-soins@{DOMAIN}").status == "provisioned"


ORG_FIELDS = {"service": "Soins", "responsible": "Dr Durand", "structure_head": "Paul Martin"}


@pytest.mark.mail
def test_servers_of_a_bal_at_an_operator_then_its_test(
    request_env, dovecot_other_operator, monkeypatch
):
    """An operator's BAL on the pages: the operator's published servers (IMAP with implicit TLS,
    submission on another host and port with STARTTLS, a login that is not the address) typed
    on Provisionner, shown again on Tester, and the test there passes on a server without IDLE
    whose relay delivers late."""
    server = dovecot_other_operator
    monkeypatch.setenv("BALISE_SECRET_KEY", new_key())
    address = unique_address("paul", DOMAIN)
    add_operator_account(server, address)
    login = "pmartin-" + address.split("@")[0].split(".", 1)[1].replace(".", "-")
    add_login(server, login, address, "Mdp-Page-9")
    prov.provision(request_env, SYSTEM, load_settings(), BalRequest("PER", "01", address,
                   "Paul", "Martin", RPPS))  # fmt: skip
    bal_lifecycle.confirm(request_env, SYSTEM, address)

    at = _open("provisionner")
    assert at.selectbox(key="prov_servers_pick").value == address
    at.text_input(key="prov_servers_smtp_port").input("cinq-cent-quatre-vingt-sept")
    at.text_input(key="prov_servers_imap_host").input("127.0.0.1")
    at.button(key="prov_servers_save").click().run()
    assert "Le champ « port d'envoi » doit être un nombre (par exemple 587)." in _errors(at)
    typed = {
        "imap_port": str(server.imaps_port), "smtp_host": "localhost",
        "smtp_port": str(server.submission_port), "username": login, "secret": "Mdp-Page-9",
        "ca_bundle": str(server.ca_path),
    }  # fmt: skip
    for name, value in typed.items():
        at.text_input(key=f"prov_servers_{name}").input(value)
    at.selectbox(key="prov_servers_tls_mode").set_value("implicit")
    at.selectbox(key="prov_servers_smtp_tls_mode").set_value("starttls")
    at.button(key="prov_servers_save").click().run()
    assert not at.exception, at.exception
    assert f"Serveurs de {address} enregistrés." in [x.value for x in at.success]
    found = watched_mailboxes.endpoints(request_env, SYSTEM, address)
    assert {k: found[k] for k in ("imap_port", "tls_mode", "smtp_host", "smtp_port",
            "smtp_tls_mode", "username", "secret")} == {
        "imap_port": server.imaps_port, "tls_mode": "implicit", "smtp_host": "localhost",
        "smtp_port": server.submission_port, "smtp_tls_mode": "starttls", "username": login,
        "secret": "chiffré",
    }  # fmt: skip

    at = _open("tester")
    assert at.text_input(key="test_servers_username").value == login  # shown again, no secret
    assert at.text_input(key="test_servers_secret").value == ""
    assert at.multiselect(key="test_pick").value == [address]
    at.button(key="test_run").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Message reçu dans la boîte de réception."
    at.run()
    history = at.dataframe[0].value
    assert history[["Adresse", "Vu par"]].values.tolist() == [[address, "vérification périodique"]]


# --- Structure first: the search box, the structure's card, the Structure page's links ---------

GLYCINES = "380000109"  # a valid key, Isère (38); no BAL yet


@pytest.fixture
def structures_env(empty_db, tmp_path, monkeypatch):
    """The small adoption store (EHPAD Les Tilleuls 380000001, Isère, three directory BALs) plus
    two establishments with a valid FINESS key: EHPAD Les Glycines (38) and EHPAD Les Lilas (01);
    the selection Isère and Rhône; the ``request`` backend."""
    seed_small_adoption(empty_db)
    seed_establishment(empty_db, GLYCINES, "38", "EHPAD Les Glycines", "VOIRON")
    seed_establishment(empty_db)
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_DEPARTMENTS", "38,69")
    monkeypatch.setenv("BALISE_ALLOWED_DOMAINS", DOMAIN)
    monkeypatch.setenv("BALISE_PROVISION_BACKEND", "request")
    return empty_db


def _with_finess(at: AppTest, page: str, finess: str) -> AppTest:
    """``page`` opened from a link carrying ``?finess=`` (the app has run once already)."""
    at.query_params["finess"] = finess
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_provisionner_finds_a_structure_by_name_and_shows_it(structures_env, monkeypatch):
    at = app_as(structures_env, monkeypatch, ADMIN, page="provisionner")
    assert not at.exception, at.exception
    box = at.selectbox(key="prov_structure")
    assert box.value is None
    assert box.placeholder == "Rechercher une structure par nom, commune ou numéro FINESS"
    # The box filters on its labels (« contains »): name, commune and FINESS are all in them.
    for typed in ("tilleuls", "grenoble", "380000001"):
        assert [o for o in box.options if typed in o.lower()] == [
            "EHPAD Les Tilleuls – GRENOBLE – FINESS 380000001"
        ]
    # The Ain is outside the selection (Isère, Rhône): not offered.
    assert not [o for o in box.options if "Lilas" in o]
    # An empty form says nothing is wrong yet.
    assert _errors(at) == [] and not at.success
    assert not at.button(key="prov_submit").disabled
    box.set_value("380000001").run()
    card = at.markdown[0].value
    assert card.startswith("**EHPAD Les Tilleuls**")
    for part in ("**FINESS** 380000001", "EHPAD", "**Commune** GRENOBLE", "38 – Isère"):
        assert part in card
    bals = at.dataframe[0].value
    assert bals["Adresse"].tolist() == [
        "dpi@asso-grenoble.mssante.fr", "accueil@tilleuls.mssante.fr",
        "jean.martin@medecin.mssante.fr",
    ]  # fmt: skip
    assert set(bals["Dans l'annuaire"]) == {"oui"} and set(bals["Provisionnement"]) == {"—"}
    assert _errors(at) == []
    assert at.query_params["finess"] == "380000001"  # kept in the page address


def test_provisionner_problems_after_the_first_submit_then_the_bal(structures_env, monkeypatch):
    at = app_as(structures_env, monkeypatch, ADMIN, page="provisionner")
    at.selectbox(key="prov_structure").set_value(GLYCINES).run()
    assert "Aucune BAL pour l'instant : ni dans l'annuaire, ni provisionnée." in [
        c.value for c in at.caption
    ]
    at.text_input(key="prov_first_name").input("Hélène")
    at.text_input(key="prov_last_name").input("Le Bœuf")
    at.text_input(key="prov_holder_id").input("10003456787").run()
    assert _errors(at) == []  # typed, not submitted: no verdict yet
    at.button(key="prov_submit").click().run()
    assert _errors(at) == [
        "Le champ « RPPS ou ADELI du titulaire » a une clé de contrôle RPPS fausse."
    ]
    assert at.button(key="prov_submit").disabled
    assert not provisioned_bals.bals_frame(structures_env, SYSTEM).shape[0]
    at.text_input(key="prov_holder_id").input(RPPS).run()  # told as it changes from now on
    assert _errors(at) == []
    assert f"Adresse proposée : helene.le-boeuf@{DOMAIN}" in [c.value for c in at.caption]
    at.button(key="prov_submit").click().run()
    assert not at.exception, at.exception
    assert at.success[-1].value == f"BAL helene.le-boeuf@{DOMAIN} demandée à l'opérateur."
    bal = prov.get_bal(structures_env, f"helene.le-boeuf@{DOMAIN}")
    assert (bal.finess, bal.department) == (GLYCINES, "38")
    card = at.dataframe[0].value  # the structure's card lists its new BAL at once
    assert card.values.tolist() == [[f"helene.le-boeuf@{DOMAIN}", "Personnelle", "non",
                                     "Demandée"]]  # fmt: skip


def test_provisionner_proposes_the_domain_the_structure_uses(structures_env, monkeypatch):
    monkeypatch.setenv("BALISE_ALLOWED_DOMAINS", f"{DOMAIN},tilleuls.mssante.fr")
    at = app_as(structures_env, monkeypatch, ADMIN, page="provisionner")
    assert at.selectbox(key="prov_domain").value == DOMAIN
    at.selectbox(key="prov_structure").set_value("380000001").run()
    assert at.selectbox(key="prov_domain").value == "tilleuls.mssante.fr"
    at.radio(key="prov_type").set_value("ORG").run()
    at.text_input(key="prov_service").input("Infirmerie").run()
    assert "Adresse proposée : infirmerie@tilleuls.mssante.fr" in [c.value for c in at.caption]


def test_provisionner_refuses_a_structure_of_another_department(structures_env, monkeypatch):
    at = app_as(structures_env, monkeypatch, ANIM38)
    at = _with_finess(at, "provisionner", AIN_EHPAD)
    assert _errors(at) == ["Vous n'avez pas accès au département 01."]
    assert at.selectbox(key="prov_structure").value is None
    assert not any("Lilas" in m.value for m in at.markdown)
    refused = audit_log.entries(structures_env, SYSTEM)
    assert refused[["actor", "action", "outcome"]].values.tolist()[0] == [
        "anim38", "page.provisionner", "refused",
    ]  # fmt: skip
    # An administrator reads it, but it is outside the selection: said, not picked.
    at = app_as(structures_env, monkeypatch, ADMIN)
    at = _with_finess(at, "provisionner", AIN_EHPAD)
    assert at.warning[-1].value == (
        "EHPAD Les Lilas (FINESS 010001246) est dans le département 01 – Ain, hors de la "
        "sélection : ajoutez ce département dans la barre latérale pour la choisir."
    )
    assert at.selectbox(key="prov_structure").value is None


def test_provisionner_tells_a_programme_manager_after_submit(structures_env, monkeypatch):
    at = app_as(structures_env, monkeypatch, MANAGER, page="provisionner")
    at.selectbox(key="prov_structure").set_value(GLYCINES).run()
    at.radio(key="prov_type").set_value("ORG").run()
    for key, value in ORG_FIELDS.items():
        at.text_input(key=f"prov_{key}").input(value)
    at.run()
    assert _errors(at) == []
    at.button(key="prov_submit").click().run()
    assert _errors(at) == [
        "Un chargé de programme consulte et exporte mais n'agit pas sur les BAL."
    ]


def test_structure_page_links_preselect_the_structure(structures_env, monkeypatch):
    at = app_as(structures_env, monkeypatch, ANIM38)
    at = _with_finess(at, "structure", GLYCINES)
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    assert set(links) == {"Provisionner une BAL", "Tester ses BAL"}
    assert links["Provisionner une BAL"].page == "provisionner"
    assert links["Tester ses BAL"].page == "tester"
    # The links carry the sidebar selection too (dashboard/selection.py).
    assert all(link.query_string == f"departements=38&finess={GLYCINES}" for link in links.values())
    # Where the links lead: the page opened with the structure picked and shown.
    for page, key in (("provisionner", "prov_structure"), ("tester", "test_structure")):
        opened = _with_finess(app_as(structures_env, monkeypatch, ANIM38), page, GLYCINES)
        assert opened.selectbox(key=key).value == GLYCINES
        assert opened.markdown[0].value.startswith("**EHPAD Les Glycines**")
    # A programme manager does not act on BALs: no links.
    at = _with_finess(app_as(structures_env, monkeypatch, MANAGER), "structure", GLYCINES)
    assert not at.get("page_link")


def test_tester_narrows_to_the_structure_picked(structures_env, monkeypatch):
    settings = load_settings()
    glycines = BalRequest("PER", "38", f"marie.curie@{DOMAIN}", "Marie", "Curie", RPPS,
                          finess=GLYCINES)  # fmt: skip
    elsewhere = BalRequest("CAB", "38", f"cabinet@{DOMAIN}", practice="Cabinet")
    for request in (glycines, elsewhere):
        prov.provision(structures_env, SYSTEM, settings, request)
        bal_lifecycle.confirm(structures_env, SYSTEM, request.address)
    at = app_as(structures_env, monkeypatch, ANIM38, page="tester")
    assert at.multiselect(key="test_pick").options == [f"cabinet@{DOMAIN}",
                                                       f"marie.curie@{DOMAIN}"]  # fmt: skip
    assert at.selectbox(key="test_department").options == ["38 – Isère"]
    at.selectbox(key="test_structure").set_value(GLYCINES).run()
    assert at.multiselect(key="test_pick").options == [f"marie.curie@{DOMAIN}"]
    assert at.dataframe[0].value["Provisionnement"].tolist() == ["Créée"]
    # A structure without any BAL to test links to Provisionner with it picked.
    at.selectbox(key="test_structure").set_value("380000002").run()
    assert any("Aucune BAL provisionnée de cette structure" in i.value for i in at.info)
    assert at.get("page_link")[0].proto.query_string == "departements=38&finess=380000002"
