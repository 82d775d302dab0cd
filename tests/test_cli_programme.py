"""``balise indicateurs`` and ``balise priorites``: exact messages, JSON, the workbook read back,
refusals (bad catalogue, bad month, another department, too few snapshots)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select, text

from balise.cli import cli
from balise.formatting import THIN
from balise.models import AuditEntry
from balise.services import users
from balise.services.access import SYSTEM
from tests.support.programme_catalogue import CATALOGUE, write_catalogue
from tests.support.programme_seed import seed_programme


@pytest.fixture
def db_with_programme(empty_db):
    seed_programme(empty_db)
    users.add_user(empty_db, SYSTEM, users.NewUser("anim38", "animator", ("38",), "x" * 12))
    return empty_db


def _run(db, tmp_path, *args, user: str | None = None, catalogue: str = CATALOGUE):
    env = {"BALISE_INDICATORS_DIR": str(write_catalogue(tmp_path / "ind", catalogue))}
    if user:
        env["BALISE_USER"] = user
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--database-url", url, *args], env=env)


PCT = f"{THIN}%"
INDICATORS_38 = f"""\
Indicateurs du programme — campagne 2026 (seuils fixés par l'ARS), mois de référence 11/2026, 1 département.
org-esms — BAL ORG ou APP (niveau ESMS, objectif oui, période 11/2026)
  38 – Isère : 3 ESMS sur 5 (60,0{PCT})
org-ej — Organismes équipés en BAL ORG ou APP (niveau organisme gestionnaire, objectif ≥ 80 %, période 11/2026)
  38 – Isère : 1 organisme sur 3 (33,3{PCT})
org-dep — Département équipé en BAL ORG ou APP (niveau département, objectif ≥ 60 %, période 11/2026)
  38 – Isère : 60,0{PCT} — atteint
demat — Dématérialisation (niveau ESMS, objectif ≥ 50 %, période 11/2026)
  38 – Isère : 1 ESMS sur 5 (20,0{PCT})
demat-dep — Dématérialisation du département (niveau département, objectif ≥ 50 %, période 11/2026)
  38 – Isère : 40,0{PCT} — non atteint
teste — BAL testée (niveau ESMS, objectif oui, période 09/2026 à 11/2026)
  38 – Isère : 1 ESMS sur 5 (20,0{PCT})
messages — Messages par mois (niveau ESMS, objectif ≥ 20 messages/mois, période 09/2026 à 11/2026)
  38 – Isère : 1 ESMS sur 5 (20,0{PCT})
messages-dep — Messages par mois et par ESMS du département (niveau département, objectif ≥ 5 messages/mois, période 09/2026 à 11/2026)
  38 – Isère : 5,0 messages/mois — atteint
sensibilise — Sensibilisés (niveau ESMS, objectif oui, période 01/2026 à 11/2026)
  38 – Isère : 2 ESMS sur 5 (40,0{PCT})
"""


def test_indicateurs_prints_each_indicator_per_department(db_with_programme, tmp_path):
    res = _run(
        db_with_programme, tmp_path, "indicateurs", "--department", "38", "--mois", "2026-11"
    )
    assert (res.exit_code, res.output) == (0, INDICATORS_38)


def test_indicateurs_json(db_with_programme, tmp_path):
    res = _run(db_with_programme, tmp_path, "indicateurs", "--department", "38", "--mois",
               "2026-11", "--json")  # fmt: skip
    payload = json.loads(res.output)
    assert (payload["year"], payload["status"], payload["month"]) == (2026, "arrete", "2026-11")
    dep = next(r for r in payload["indicators"] if r["indicator"] == "demat-dep")
    assert (dep["met"], dep["value"], dep["threshold"]) == (0, 40.0, 50.0)


def test_indicateurs_xlsx_holds_the_table_and_the_esms_below_target(db_with_programme, tmp_path):
    out = tmp_path / "indicateurs.xlsx"
    res = _run(db_with_programme, tmp_path, "indicateurs", "--department", "38", "--mois",
               "2026-11", "--xlsx", str(out))  # fmt: skip
    assert res.exit_code == 0 and res.output.endswith(f"Classeur écrit dans {out}.\n")
    book = load_workbook(out)
    assert book.sheetnames == ["Couverture", "Indicateurs", "ESMS sous l'objectif"]
    rows = list(book["Indicateurs"].iter_rows(min_row=3, values_only=True))
    assert rows[0][:8] == ("Indicateur", "Niveau", "Seuil", "Période", "Département", "Unités",
                           "Atteignent", "Part qui atteint")  # fmt: skip
    assert rows[1][:8] == ("BAL ORG ou APP", "ESMS", "oui", "11/2026", "38 – Isère", 5, 3, 0.6)
    assert book["Indicateurs"]["H4"].number_format == "0.0 %"
    below = [r for r in book["ESMS sous l'objectif"].iter_rows(min_row=2, values_only=True)
             if r[0] == "BAL ORG ou APP"]  # fmt: skip
    assert sorted(r[2] for r in below) == ["380000003", "380000009"]
    with db_with_programme.connect() as conn:  # an export, traced like the pack
        traced = conn.execute(select(AuditEntry.action, AuditEntry.object)).all()
    assert ("export", "indicateurs xlsx") in [tuple(t) for t in traced]


def test_a_bad_threshold_is_a_clear_error(db_with_programme, tmp_path):
    bad = CATALOGUE.replace("seuil = 80", "seuil = 180")
    res = _run(db_with_programme, tmp_path, "indicateurs", catalogue=bad)
    line = bad.splitlines().index("seuil = 180") + 1
    assert (res.exit_code, res.stderr) == (1, (
        f"Erreur : Catalogue 2026.toml, ligne {line} : indicateur « org-ej » : le champ « seuil » "
        "est un pourcentage : entre 0 et 100, pas 180.\n"
    ))  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["indicateurs", "--mois", "novembre"],
         "Le mois s'écrit AAAA-MM (par exemple 2026-10), pas « novembre »."),
        (["indicateurs", "--annee", "2031"],
         "Aucun catalogue d'indicateurs pour la campagne 2031 ({dir}/2031.toml). "
         "Catalogues disponibles : 2026."),
    ],
)  # fmt: skip
def test_indicateurs_refusals(db_with_programme, tmp_path, args, message):
    res = _run(db_with_programme, tmp_path, *args)
    expected = message.format(dir=tmp_path / "ind")
    assert (res.exit_code, res.stderr) == (1, f"Erreur : {expected}\n")


def test_an_animator_reads_only_their_department(db_with_programme, tmp_path):
    for args in (["indicateurs", "--department", "69"], ["priorites", "--department", "69"],
                 ["priorites", "--department", "69", "--backtest"]):  # fmt: skip
        res = _run(db_with_programme, tmp_path, *args, user="anim38")
        assert (res.exit_code, res.stderr) == (
            1, "Erreur : Vous n'avez pas accès au département 69.\n"), args  # fmt: skip
    res = _run(db_with_programme, tmp_path, "indicateurs", "--mois", "2026-11", user="anim38")
    assert res.output == INDICATORS_38  # by default: the region's departments they read
    res = _run(db_with_programme, tmp_path, "indicateurs", "--department", "69", "--json",
               user="anim38")  # fmt: skip
    assert json.loads(res.output) == {"error": "Vous n'avez pas accès au département 69."}


def test_priorites_lists_the_best_first_with_reasons(db_with_programme, tmp_path):
    res = _run(db_with_programme, tmp_path, "priorites", "--department", "38", "--top", "1")
    days = (datetime.now(UTC).replace(tzinfo=None) - datetime(2026, 10, 20, 10)).days
    assert (res.exit_code, res.output) == (0, (
        "Priorités d'appel — 38 – Isère : 1 premiers sur 2 ESMS non équipés (score sur 10,5, "
        "poids : priorites.toml).\n"
        f"  1.   {'5,8' if days <= 90 else '4,8'}  380000003  =HYPERLINK(\"http://x\") EHPAD Le "
        "Chêne (VOIRON) — étape « Sensibilisé » ; présent à « Midis du collectif #7 » le "
        f"12/10/2026 ; catégorie équipée à 67{PCT} dans le département ; dernier contact il y a "
        f"{days} jours\n"
    ))  # fmt: skip
    payload = json.loads(_run(db_with_programme, tmp_path, "priorites", "--department", "38",
                              "--json").output)  # fmt: skip
    assert payload["candidates"] == 2
    assert [p["finess_et"] for p in payload["priorities"]] == ["380000003", "380000009"]


def test_priorites_backtest_prints_its_measures(db_with_programme, tmp_path):
    res = _run(db_with_programme, tmp_path, "priorites", "--department", "38", "--backtest",
               "--top", "1")  # fmt: skip
    assert (res.exit_code, res.output) == (0, (
        "Backtest des priorités : 1 instantané rejoué (le 15/10/2026), chacun comparé aux "
        "suivants ; 3 notes d'ESMS non équipés (3 ESMS distincts).\n"
        f"Devenus équipés ensuite : 1 (taux de base 33,3{PCT}).\n"
        f"Précision du premier : 0,0{PCT} (0 sur 1), soit 0,0 fois le taux de base.\n"
        "ROC AUC : 0,000 (0,5 = hasard).\n"
        "  15/10/2026 : 3 notés, 1 équipé ensuite, 0 dans le premier, AUC 0,000\n"
    ))  # fmt: skip


def test_priorites_backtest_needs_two_snapshots(empty_db, tmp_path):
    seed_programme(empty_db)
    with empty_db.begin() as conn:  # keep one directory snapshot only
        conn.execute(text("UPDATE snapshots SET source = 'finess' WHERE id = 3"))
    res = _run(empty_db, tmp_path, "priorites", "--department", "38", "--backtest")
    assert (res.exit_code, res.stderr) == (1, (
        "Erreur : Le backtest demande au moins deux instantanés de l'annuaire : importez-en un "
        "autre plus tard (« balise ingest annuaire SOURCE »).\n"
    ))  # fmt: skip
