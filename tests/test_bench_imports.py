"""The benchmarks are not a package, so the import contracts of pyproject.toml cannot name them:
this walks every bench script and checks that none imports the tests (the throw-away servers and
fictitious mail they need live in the ``sandbox`` package, as the tests' do)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHES = sorted((Path(__file__).resolve().parents[1] / "bench").glob("*.py"))


def imported_modules(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_there_are_benches():
    assert len(BENCHES) >= 5


@pytest.mark.parametrize("path", BENCHES, ids=lambda p: p.name)
def test_bench_imports_nothing_from_tests(path):
    assert [n for n in imported_modules(path.read_text()) if n.split(".")[0] == "tests"] == []


def test_the_check_sees_a_test_import():
    assert imported_modules("def f():\n    from tests.support import ports\n") == ["tests.support"]


def test_benches_take_their_throwaway_servers_from_the_sandbox_package():
    servers = {"poll.py": "sandbox.harness", "roundtrip.py": "sandbox.server",
               "ingest.py": "sandbox.postgres"}  # fmt: skip
    for path in BENCHES:
        if path.name in servers:
            assert servers[path.name] in imported_modules(path.read_text()), path.name
