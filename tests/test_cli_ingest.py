"""`balise ingest` at the command line: the exact one-line summaries and error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from balise.cli import cli
from tests.support.extracts import directory_line, finess_line, write_directory, write_finess
from tests.support.finess_plus import ege_file, flow
from tests.test_ingest import EJ_X, A, first_extract

NNBSP = "\u202f"


def run(database_url: str, *args: str):
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def test_ingest_prints_the_french_summary_with_rejected_lines(database_url, tmp_path):
    write_finess(tmp_path / "finess.csv", [finess_line(A, EJ_X, "500")])
    finess = run(
        database_url, "ingest", "finess", str(tmp_path / "finess.csv"), "--departments", "38"
    )
    assert finess.exit_code == 0, finess.output
    assert finess.output.startswith("FINESS « finess.csv » : 1 ligne lue, 1 retenue, 0 rejetée")
    result = run(database_url, "ingest", "annuaire", str(first_extract(tmp_path)), "--region", "84")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "Annuaire MSSanté « Extraction_Correspondance_MSSante_202610010312.txt » : "
        "8 lignes lues, 5 retenues, 2 rejetées (nombre de colonnes incorrect : 1, ligne(s) 6 ; "
        "type de BAL inconnu : 1, ligne(s) 7), 1 doublon ; depuis le dernier instantané : "
        "5 créées, 0 supprimée, 0 modifiée ; instantané n° 2 en "
    )
    again = run(database_url, "ingest", "annuaire", str(first_extract(tmp_path)), "--region", "84")
    assert again.output == (
        "Annuaire MSSanté « Extraction_Correspondance_MSSante_202610010312.txt » : "
        "déjà importé (instantané n° 2), rien à faire.\n"
    )


def test_json_output_for_scripts(database_url, tmp_path):
    result = run(
        database_url, "--json", "ingest", "annuaire", str(first_extract(tmp_path)), "--all"
    )
    data = json.loads(result.output)
    assert (data["kept"], data["rejected"], data["duplicates"]) == (5, 2, 1)
    assert data["rejected_by_reason"] == {
        "nombre de colonnes incorrect": 1,
        "type de BAL inconnu": 1,
    }


def test_the_summary_tells_what_the_reader_noticed(database_url, tmp_path):
    """Unknown category codes, wrong Luhn keys, establishments set apart and repaired
    coordinates are told to whoever imports (and in the JSON), not only counted by the reader."""
    reversed_point = dict(
        ege_file()["adresse"][0],
        coordonneesGeographique={"directionLatitude": "5.345", "directionLongitude": "46.383"},
    )
    flow_file = tmp_path / "finess-structures-journalier-20261015.json"
    flow_file.write_bytes(
        flow(
            ege_file(adresse=[reversed_point]),
            ege_file("010780931"),  # its Luhn key is wrong: kept, reported
            ege_file("010780955", categorieentiteGeographiqueExercice="999"),
            ege_file("010780948", etatObjet="I"),
        )
    )
    result = run(database_url, "ingest", "finess", str(flow_file), "--departments", "01")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("FINESS « finess-structures-journalier-20261015.json » : ")
    notes = [
        "Établissements fermés ou inactifs mis à part : 1.",
        "Catégories inconnues de la nomenclature TRE-R397 : 999 (1).",
        "Coordonnées inversées puis corrigées : 1.",
        "Numéros FINESS dont la clé de Luhn est fausse (gardés) : 1 (010780931).",
    ]
    assert result.output.endswith(" " + " ".join(notes) + "\n")
    flow_file.write_bytes(flow(ege_file("010780931")))
    again = json.loads(run(database_url, "--json", "ingest", "finess", str(flow_file)).output)
    assert again["notes"] == [notes[-1]]


def test_errors_print_erreur_and_exit_1(database_url, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Type de BAL|Adresse BAL|Code postal\n", encoding="utf-8")
    result = run(database_url, "ingest", "annuaire", str(bad))
    assert result.exit_code == 1
    assert result.output == (
        "Erreur : Ce fichier n'est pas un extrait de l'annuaire MSSanté : colonnes manquantes : "
        "Type identifiant structure, Identification Structure, Département.\n"
    )
    unknown = run(database_url, "ingest", "annuaire", str(bad), "--departments", "01,99")
    assert (unknown.exit_code, unknown.output) == (1, "Erreur : Département inconnu : 99.\n")
    out_of_scope = write_directory(
        tmp_path / "x.txt", [directory_line("ORG", "a@b.mssante.fr", A, "75001", "75")]
    )
    refused = run(database_url, "ingest", "annuaire", str(out_of_scope), "--region", "84")
    assert refused.output == (
        "Erreur : Aucune ligne du fichier Annuaire MSSanté ne concerne les départements choisis "
        "(1 ligne hors sélection).\n"
    )


def test_a_terminal_gets_a_progress_bar(tmp_path):
    """Under a pseudo-terminal (util-linux ``script``) the ingest draws click's progress bar on
    stderr, then prints its summary; without a terminal (the tests above) there is no bar."""
    extract = first_extract(tmp_path)
    balise = Path(sys.executable).with_name("balise")
    command = (
        f"{balise} --database-url sqlite:///{tmp_path / 'tty.db'} ingest annuaire {extract} --all"
    )
    out = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "Import" in out and "100%" in out
    assert "Annuaire MSSanté « Extraction_Correspondance_MSSante_202610010312.txt » : " in out
