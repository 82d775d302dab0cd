"""The command line starts at once: the heavy libraries (Arrow, pandas, Streamlit, procrastinate,
openpyxl, Alembic...) load only in the commands that use them. Each check runs in a fresh
interpreter, as a user's ``balise`` does; the time and memory this buys are measured by
bench/cli_start.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from balise.db import make_engine, upgrade
from balise.models import WatchedMailbox
from balise.services.watch_list import WATCHED

HEAVY = ("pandas", "numpy", "pyarrow", "adbc_driver_sqlite", "streamlit", "procrastinate",
         "openpyxl", "plotly", "alembic", "imapclient", "aiosmtpd", "sqlalchemy", "cryptography",
         "sqlalchemy.orm", "balise.models")  # fmt: skip
# What reading the store costs (``mailbox list``): SQLAlchemy Core, neither the ORM nor the models.
STORE = ("sqlalchemy",)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from balise.cli import cli
    from tests.support.command_tree import walk

    HEAVY = {heavy!r}

    def loaded():
        return sorted(m for m in HEAVY if m in sys.modules)

    first = {{}}
    def run(label, argv):
        try:
            cli(argv, prog_name="balise", standalone_mode=False)
        except SystemExit:
            pass
        for module in loaded():
            first.setdefault(module, label)

    run("balise --help", ["--help"])
    for path, _ in walk(cli):
        run("balise " + " ".join((*path, "--help")), [*path, "--help"])
    for argv in {runs!r}:
        run("balise " + " ".join(argv), argv)
    print(json.dumps(first))
    """
)


def _first_loads(tmp_path, runs: list[list[str]]) -> dict[str, str]:
    """Which heavy module each step loaded first, in one fresh interpreter."""
    code = _PROBE.format(heavy=HEAVY, runs=runs)
    env = {**os.environ, "BALISE_DATABASE_URL": f"sqlite:///{tmp_path / 'balise.db'}"}
    env.pop("BALISE_USER", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_of_every_command_loads_no_heavy_library(tmp_path):
    assert _first_loads(tmp_path, []) == {}


def test_ins_and_mailbox_list_load_no_heavy_library(tmp_path):
    # A store already at the schema's head, as after the first command (which migrates it).
    upgrade(make_engine(f"sqlite:///{tmp_path / 'balise.db'}"))
    first = _first_loads(tmp_path, [["ins", "285037728417346"]])
    assert first == {}, "balise ins reads no store: it loads neither SQLAlchemy nor the rest"
    runs = [["mailbox", "list"], ["--json", "mailbox", "list"]]
    first = _first_loads(tmp_path, runs)
    assert {m: step for m, step in first.items() if m not in STORE} == {}


def test_the_probe_names_the_step_that_loads_a_heavy_library(tmp_path):
    # `export csv` builds a table with pandas: the probe must see it (else it proves nothing).
    out = tmp_path / "t.csv"
    first = _first_loads(tmp_path, [["demo", "--no-ingest", "--out", str(tmp_path / "d")],
                                    ["export", "csv", str(out)]])  # fmt: skip
    assert first.get("pandas", "").startswith("balise ")


def test_the_core_handle_of_the_watch_list_names_columns_of_the_model():
    # watch_list reads watched_mailboxes without the models: its handle must not drift from them.
    model = WatchedMailbox.__table__
    assert WATCHED.name == model.name
    for col in WATCHED.c:
        assert col.name in model.c, col.name
        assert isinstance(model.c[col.name].type, type(col.type)), col.name
