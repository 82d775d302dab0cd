"""The audit log in words: every action code the code writes has a French label (enumerated from
the sources, not remembered), and a line's JSON detail reads as one sentence-like line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from balise.services.audit_log import ACTIONS, action_label, detail_text

ROOT = Path(__file__).resolve().parent.parent
# Calls whose third positional argument is an audit action: audit.record(conn, actor, ACTION),
# audit_refusal(engine, actor, ACTION), refusals_audited(engine, actor, ACTION); the events'
# and onboarding's own checks take it later (``_check(conn, actor, deps, ACTION, obj)``).
ACTION_ARGUMENT = {"record": 2, "audit_refusal": 2, "refusals_audited": 2, "_check": 3,
                   "_require_admin": 2, "_authorised": 3, "_transition": 3}  # fmt: skip


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _written_actions() -> set[str]:
    codes = set()
    for package in ("balise", "dashboard", "ingest", "sandbox"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                index = ACTION_ARGUMENT.get(_name(node.func))
                if index is None or len(node.args) <= index:
                    continue
                arg = node.args[index]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.add(arg.value)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                # {"bal.confirm": (...), ...}: transitions named by their action
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == (
                    "_TRANSITIONS"
                ):
                    codes |= {k.value for k in node.value.keys}
    return codes


def test_every_action_written_has_a_french_label():
    written = _written_actions()
    assert {"bal.provision", "event_create", "login", "bal.confirm"} <= written  # the walk works
    assert sorted(written - ACTIONS.keys()) == []


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("ingest.finess", "Import FINESS"),
        ("ingest.annuaire", "Import annuaire MSSanté"),
        ("page.structure", "Lecture de la page « structure »"),
        ("sandbox.activity", "Commande « balise sandbox activity »"),
        ("onboarding_auto", "Accompagnement : avancée automatique"),
    ],
)
def test_action_families_read_in_words(code, label):
    assert action_label(code) == label


def test_details_read_as_one_line():
    assert detail_text('{"snapshot": 5, "départements": ["01", "03"]}') == (
        "extraction : 5 · départements : 01, 03"
    )
    assert detail_text('{"lignes": 12345, "host": "imap.example.org", "port": 10143}') == (
        "lignes : 12\u202f345 · serveur : imap.example.org · port : 10143"
    )
    assert detail_text('{"motif": "Vous n\'avez pas accès au département 69."}') == (
        "motif : Vous n'avez pas accès au département 69."
    )
    assert detail_text(None) == "—" and detail_text("texte libre") == "texte libre"
    assert detail_text('{"a_verifier": 2, "exactes": true, "avant": null}') == (
        "à vérifier : 2 · exactes : oui · avant : —"
    )
