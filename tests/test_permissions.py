"""An animator of the Isère (38) can neither read the structures' details nor provision, test,
import or export for the Rhône (69): through the services, the command line (``BALISE_USER``)
and the pages. A programme manager reads and exports everywhere but does not act on BALs."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from balise.cli import cli
from balise.config import Settings
from balise.errors import PermissionDenied
from balise.models import AuditEntry
from balise.referentials.bal_sheet import HEADER, template_bytes
from balise.secrets import new_key
from balise.services import (
    activity,
    adoption,
    bal_import,
    bal_tests,
    finess_groups,
    pack,
    structure_map,
    structures,
    users,
)
from balise.services import provisioning as prov
from balise.services.access import SYSTEM, Actor
from tests.support.apptest import app_as
from tests.support.two_departments import (
    ANIM38,
    BAL38,
    BAL69,
    DOMAIN,
    E69,
    MANAGER,
    cab,
    seed_two_departments,
)

DENIED_69 = r"^Vous n'avez pas accès au département 69\.$"


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=new_key())


@pytest.fixture
def db_with_two_departments(empty_db, tmp_path):
    """The small adoption store (38, 69, 75), one provisioned (and watched) BAL in 38 and one
    in 69, and the accounts anim38 (animator, Isère), chargee, admin and a disabled one."""
    seed_two_departments(empty_db, _settings(tmp_path))
    return empty_db


def _sheet(address: str, department: str) -> bytes:
    book = load_workbook(io.BytesIO(template_bytes()))
    row = {"bal_type": "CAB", "department": department, "address": address, "practice": "Cab"}
    book["BAL"].append([row.get(name) for name in HEADER])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ----- services -----------------------------------------------------------------------------

REFUSED_CALLS = {
    "structure details": lambda db, s: structures.establishment(db, ANIM38, E69),
    "structure mailboxes": lambda db, s: structures.establishment_mailboxes(db, ANIM38, E69),
    "structure history": lambda db, s: structures.establishment_history(db, ANIM38, E69),
    "structure list": lambda db, s: structures.structures(db, ANIM38, ["69"]),
    "structure map": lambda db, s: structure_map.structure_points(db, ANIM38, ["69"]),
    "groupings": lambda db, s: finess_groups.groupings(db, ANIM38, ["69"]),
    "adoption figures": lambda db, s: adoption.coverage(db, ANIM38, ["38", "69"]),
    "provision": lambda db, s: prov.provision(db, ANIM38, s, cab(f"neuf@{DOMAIN}", "69")),
    "confirm": lambda db, s: prov.confirm(db, ANIM38, BAL69),
    "disable": lambda db, s: prov.disable(db, ANIM38, BAL69),
    "test one BAL": lambda db, s: bal_tests.run_bal_test(db, ANIM38, s, BAL69, timeout=1),
    "test a department": lambda db, s: bal_tests.run_department_tests(db, ANIM38, s, "69"),
    "import": lambda db, s: bal_import.apply(db, ANIM38, s, _sheet(f"neuf@{DOMAIN}", "69")),
    "export pack": lambda db, s: pack.build_pack(db, ANIM38, ["69"]),
    "export csv": lambda db, s: pack.table_csv(db, ANIM38, ["69"], "structures"),
    "BAL list": lambda db, s: prov.bals_frame(db, ANIM38, ["69"]),
    "test history": lambda db, s: bal_tests.history(db, ANIM38, ["69"]),
    "watched mailboxes": lambda db, s: activity.watched(db, ANIM38, ["69"]),
}


@pytest.mark.parametrize("name", list(REFUSED_CALLS))
def test_services_refuse_another_department(db_with_two_departments, tmp_path, name):
    with pytest.raises(PermissionDenied, match=DENIED_69):
        REFUSED_CALLS[name](db_with_two_departments, _settings(tmp_path))


def test_refused_actions_are_audited_and_change_nothing(db_with_two_departments, tmp_path):
    db, settings = db_with_two_departments, _settings(tmp_path)
    for name in ("provision", "confirm", "test one BAL", "import", "export csv"):
        with pytest.raises(PermissionDenied):
            REFUSED_CALLS[name](db, settings)
    with db.connect() as conn:
        refused = conn.execute(
            select(AuditEntry.action, AuditEntry.object)
            .where(AuditEntry.outcome == "refused")
            .order_by(AuditEntry.id)
        ).all()
    assert refused == [
        ("bal.provision", f"neuf@{DOMAIN}"), ("bal.confirm", BAL69), ("bal.test", BAL69),
        ("bal.import", f"neuf@{DOMAIN}"), ("export", "csv structures"),
    ]  # fmt: skip
    assert prov.get_bal(db, BAL69).status == "provisioned"
    assert prov.bals_frame(db, SYSTEM)["adresse"].tolist() == [BAL38, BAL69]


def test_the_animator_reads_and_acts_in_their_own_department(db_with_two_departments, tmp_path):
    db, settings = db_with_two_departments, _settings(tmp_path)
    assert set(structures.structures(db, ANIM38, None)["department"]) == {"38"}
    assert structures.establishment(db, ANIM38, "380000001")["name"] == "EHPAD Les Tilleuls"
    assert prov.bals_frame(db, ANIM38)["adresse"].tolist() == [BAL38]
    assert prov.disable(db, ANIM38, BAL38) == "disabled"
    assert pack.table_csv(db, ANIM38, ["38"], "structures").count(b"\n") == 4  # header + 3 ESMS
    report = prov.provision(db, ANIM38, settings, cab(f"neuf@{DOMAIN}", "38"))
    assert report.status == "requested"


def test_a_manager_reads_and_exports_everywhere_but_does_not_act(db_with_two_departments, tmp_path):
    db, settings = db_with_two_departments, _settings(tmp_path)
    assert structures.establishment(db, MANAGER, E69)["department"] == "69"
    assert pack.table_csv(db, MANAGER, ["38", "69", "75"], "departements")
    action_refused = r"^Un chargé de programme consulte et exporte mais n'agit pas sur les BAL\.$"
    with pytest.raises(PermissionDenied, match=action_refused):
        prov.provision(db, MANAGER, settings, cab(f"neuf@{DOMAIN}", "69"))
    with pytest.raises(PermissionDenied, match=action_refused):
        bal_tests.run_bal_test(db, MANAGER, settings, BAL69, timeout=1)


# ----- the command line ---------------------------------------------------------------------


def _cli(db, tmp_path, *args, user="anim38"):
    env = {
        "BALISE_USER": user,
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_ALLOWED_DOMAINS": DOMAIN,
        "BALISE_PROVISION_BACKEND": "request",
    }
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--database-url", url, *args], env=env)


def test_cli_as_an_animator_refuses_another_department(db_with_two_departments, tmp_path):
    db = db_with_two_departments
    sheet = tmp_path / "bal69.xlsx"
    sheet.write_bytes(_sheet(f"neuf@{DOMAIN}", "69"))
    extract = tmp_path / "annuaire.csv"
    extract.write_text("", encoding="utf-8")
    refused = [
        ["export", "csv", str(tmp_path / "t.csv"), "--department", "69"],
        ["export", "xlsx", str(tmp_path / "p.xlsx"), "--department", "69"],
        ["bal", "provision", "--type", "CAB", "--department", "69", "--address",
         f"neuf@{DOMAIN}", "--practice", "Cabinet"],
        ["bal", "test", BAL69, "--timeout", "1"],
        ["bal", "test", "--department", "69"],
        ["bal", "import", str(sheet)],
        ["bal", "list", "--department", "69"],
        ["bal", "confirm", BAL69],
        ["ingest", "annuaire", str(extract), "--departments", "69"],
    ]  # fmt: skip
    for args in refused:
        res = _cli(db, tmp_path, *args)
        assert (res.exit_code, res.stderr) == (
            1, "Erreur : Vous n'avez pas accès au département 69.\n"
        ), args  # fmt: skip
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "p.xlsx").exists()


def test_cli_as_an_animator_works_in_their_department(db_with_two_departments, tmp_path):
    db = db_with_two_departments
    out = tmp_path / "t.csv"
    res = _cli(db, tmp_path, "export", "csv", str(out), "--department", "38")
    assert res.output == f"Tableau « departements » écrit dans {out} : 1 lignes, 1 département.\n"
    res = _cli(db, tmp_path, "bal", "list")
    assert res.output == f"{BAL38}  CAB  38  Créée\n"


def test_cli_refuses_an_unknown_or_disabled_account(db_with_two_departments, tmp_path):
    db = db_with_two_departments
    res = _cli(db, tmp_path, "bal", "list", user="inconnu")
    assert res.stderr == "Erreur : Aucun compte n'a l'identifiant inconnu.\n"
    users.disable_user(db, SYSTEM, "anim38")
    res = _cli(db, tmp_path, "bal", "list")
    assert res.stderr == "Erreur : Le compte anim38 est désactivé.\n"


# ----- the pages ----------------------------------------------------------------------------


def _app(db, monkeypatch, tmp_path, actor: Actor, **state) -> AppTest:
    monkeypatch.setenv("BALISE_REGION", "84")
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_ALLOWED_DOMAINS", DOMAIN)
    at = app_as(db, monkeypatch, actor, **state)
    return at


def _open(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"views/{page}.py").run()


def test_pages_offer_only_the_animators_department(db_with_two_departments, monkeypatch, tmp_path):
    at = _app(db_with_two_departments, monkeypatch, tmp_path, ANIM38)
    assert at.sidebar.multiselect[0].options == ["38 – Isère"]
    _open(at, "provisionner")
    assert not at.exception
    assert at.selectbox(key="prov_department").options == ["38 – Isère"]
    offered = at.selectbox(key="prov_structure").options  # the Isère's structures only
    assert sorted(o[-9:] for o in offered) == ["380000001", "380000002", "380000003"]
    _open(at, "tester")
    assert at.multiselect(key="test_pick").options == [BAL38]
    assert at.selectbox(key="test_department").options == ["38 – Isère"]


def test_structure_page_refuses_another_departments_structure(
    db_with_two_departments, monkeypatch, tmp_path
):
    at = _app(db_with_two_departments, monkeypatch, tmp_path, ANIM38, structure=E69)
    _open(at, "structure")
    assert not at.exception
    assert [e.value for e in at.error] == ["Vous n'avez pas accès au département 69."]
    assert "IME Les Cèdres" not in [h.value for h in at.header]
    with db_with_two_departments.connect() as conn:
        refused = conn.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.outcome == "refused")
        ).all()
    assert set(refused) == {("anim38", "page.structure")}


@pytest.mark.parametrize("page", ["exports", "regional", "department"])
def test_a_tampered_selection_is_refused_by_the_services(
    db_with_two_departments, monkeypatch, tmp_path, page
):
    # The sidebar never offers 69; even with the session forced to it, nothing is read.
    at = _app(db_with_two_departments, monkeypatch, tmp_path, ANIM38, departments=["69"])
    _open(at, page)
    shown = [e.value for e in at.error] + [str(x.message) for x in at.exception]
    assert any("Vous n'avez pas accès au département 69." in m for m in shown), shown
    assert not at.get("download_button")
    assert not at.metric
    with db_with_two_departments.connect() as conn:  # and the refusal is in the audit trail
        refused = conn.execute(
            select(AuditEntry.actor, AuditEntry.detail).where(AuditEntry.outcome == "refused")
        ).all()
    # (one line per refused run: the first page shown, then this one)
    assert refused and set(refused) == {
        ("anim38", '{"motif": "Vous n\'avez pas accès au département 69."}')
    }
