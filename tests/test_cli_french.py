"""The command line speaks French, click's own words included: every command's ``--help`` and
every kind of usage error (unknown option, missing argument, bad value), walked over the whole
command tree, and a catalogue that holds every sentence click marks for translation."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from balise.cli import cli
from balise.cli_french import MESSAGES, PLURALS
from tests.support.command_tree import walk

# Words of click's English (and of its types' names) that must never reach a user.
ENGLISH = re.compile(
    r"Usage|Options:|Commands|Show this|Error|Try '|No such|Missing|Invalid value|is not|does not"
    r"|requires|\bTEXT\b|INTEGER|FLOAT|\bFILE\b|DIRECTORY|\bPATH\b|COMMAND\b|\bARGS\b|default:"
    r"|required|env var|%Y|for help|Aborted|(?<![\d.])\d+\.0\b(?!\.)"  # a float default: « 30.0 »
)
COMMANDS = walk(cli)
NOT_A_VALUE = "pas-une-valeur"


def _english(text: str) -> list[str]:
    return ENGLISH.findall(text)


def _run(tmp_path: Path, *argv: str):
    env = {"BALISE_DATABASE_URL": f"sqlite:///{tmp_path / 'balise.db'}", "BALISE_USER": ""}
    return CliRunner().invoke(cli, list(argv), prog_name="balise", env=env)


def _click_messages() -> tuple[set[str], set[tuple[str, str]]]:
    """Every literal click passes to ``_`` and ``ngettext``, read from its sources."""
    singles: set[str] = set()
    plurals: set[tuple[str, str]] = set()
    for source in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.id == "_" and texts:
                singles.add(texts[0])
            elif node.func.id == "ngettext":
                plurals.add((texts[0], texts[1]))
    return singles, plurals


def test_the_catalogue_holds_every_message_click_marks_and_no_other():
    singles, plurals = _click_messages()
    # ``_(extra["required"])``: the one message click marks through a variable.
    assert set(MESSAGES) == singles | {"required"}
    assert set(PLURALS) == plurals


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("english", sorted(MESSAGES))
def test_a_translation_uses_only_the_fields_click_fills(english):
    assert _fields(MESSAGES[english]) <= _fields(english)
    assert not _english(MESSAGES[english]) or english in ("Options", "required")


def test_plural_translations_use_only_the_fields_click_fills():
    for (one, many), (un, plusieurs) in PLURALS.items():
        assert _fields(un) <= _fields(one) | _fields(many)
        assert _fields(plusieurs) <= _fields(one) | _fields(many)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_help_page_is_french(path, tmp_path):
    res = _run(tmp_path, *path, "--help")
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"Utilisation : {' '.join(('balise', *path))} [OPTIONS]")
    assert "  --help" in res.output and "Afficher cette aide et quitter." in res.output
    assert _english(res.output) == [], res.output


def _bad_values(command: click.Command) -> list[tuple[str, str]]:
    """(option, value) pairs the option's type refuses: each kind of value error click has."""
    refused = (click.types.IntParamType, click.types.FloatParamType, click.Choice)
    return [
        (param.opts[0], NOT_A_VALUE)
        for param in command.params
        if isinstance(param, click.Option) and isinstance(param.type, refused)
    ] + [
        (param.opts[0], "2026-13-45")
        for param in command.params
        if isinstance(param, click.Option) and param.type.name == "date"
    ]


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_usage_error_is_french_with_click_exit_status(path, command, tmp_path):
    name = " ".join(("balise", *path))
    unknown = _run(tmp_path, *path, "--pas-une-option")
    assert unknown.exit_code == 2, unknown.output
    assert unknown.stderr.splitlines()[1:] == [
        f"Aide : « {name} --help ».", "", "Erreur : Option inconnue : « --pas-une-option ».",
    ]  # fmt: skip
    errors = [unknown.stderr]
    for option, value in _bad_values(command):
        res = _run(tmp_path, *path, option, value)
        assert res.exit_code == 2, (option, res.output)
        assert f"Erreur : Valeur invalide pour '{option}' : « {value} » " in res.stderr
        errors.append(res.stderr)
    arguments = [p for p in command.params if isinstance(p, click.Argument) and p.required]
    if arguments:
        res = _run(tmp_path, *path)
        assert res.exit_code == 2 and "Erreur : Argument manquant '" in res.stderr, res.output
        errors.append(res.stderr)
    if any(isinstance(p, click.Option) and p.required for p in command.params):
        res = _run(tmp_path, *path, *(_any_value(p) for p in arguments))
        assert res.exit_code == 2 and "Erreur : Option manquante '" in res.stderr, res.output
        errors.append(res.stderr)
    for error in errors:
        assert _english(error) == [], error


def _any_value(argument: click.Argument) -> str:
    """A value ``argument`` accepts (a choice, or any text)."""
    if isinstance(argument.type, click.Choice):
        return str(argument.type.choices[0])
    return "x"


def test_every_argument_is_named_in_french():
    """An argument's name is a Python identifier (« address »): each says its French metavar."""
    unnamed = [
        (path, param.name)
        for path, command in COMMANDS
        for param in command.params
        if isinstance(param, click.Argument) and param.metavar is None
    ]
    assert unnamed == []


def test_value_errors_read_as_sentences(tmp_path):
    res = _run(tmp_path, "poll", "--workers", "x")
    assert res.stderr.endswith(
        "Erreur : Valeur invalide pour '--workers' : « x » n'est pas un entier valide.\n"
    )
    res = _run(tmp_path, "poll", "--workers", "0")
    assert res.stderr.endswith(
        "Erreur : Valeur invalide pour '--workers' : 0 n'est pas dans l'intervalle 1<=x<=64.\n"
    )
    res = _run(tmp_path, "ingest", "annuaire", "--from-archive", "--since", "2026-13-01")
    assert res.stderr.endswith(
        "Erreur : Valeur invalide pour '--since' : « 2026-13-01 » n'est pas une date AAAA-MM-JJ.\n"
    )
    res = _run(tmp_path, "mailbox", "add", "a@b.test", "--tls", "ssl")
    assert res.stderr.endswith(
        "Erreur : Valeur invalide pour '--tls' : « ssl » n'est pas l'une des valeurs permises : "
        "'starttls', 'implicit'.\n"
    )
    res = _run(tmp_path, "nope")
    assert res.stderr == (
        "Utilisation : balise [OPTIONS] COMMANDE [ARGUMENTS]...\n"
        "Aide : « balise --help ».\n\nErreur : Commande inconnue : « nope ».\n"
    )
    res = _run(tmp_path, "bal", "import", str(tmp_path / "absent.xlsx"))
    assert res.stderr.endswith(
        f"Erreur : Valeur invalide pour 'FICHIER' : Fichier « {tmp_path / 'absent.xlsx'} » "
        "introuvable.\n"
    )
