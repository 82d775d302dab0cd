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

import pytest
from sqlalchemy import text

from balise.cli import cli
from balise.db import make_engine, upgrade
from balise.models import WatchedMailbox
from balise.services.watch_list import WATCHED
from tests.support.command_tree import walk
from tests.support.finess_plus import grouped_flow
from tests.test_ingest import finess_file, first_extract

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
    env = {**os.environ, "BALISE_DATABASE_URL": f"sqlite:///{tmp_path / 'balise.db'}",
           "BALISE_ARCHIVE_DIR": ""}  # fmt: skip
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


def test_the_tables_load_without_the_orm_and_the_classes_with_it():
    # An import or a poll could read and write through balise.models.tables alone (Core):
    # the ORM and its declarative classes cost every command about 0.1 s more.
    code = textwrap.dedent(
        """
        import sys
        from balise.models import AUDIT_APPEND_ONLY, coded, metadata
        from balise.models.tables import mailboxes, watched_mailboxes
        print(len(metadata.tables), "sqlalchemy.orm" in sys.modules, end=" ")
        from balise.models import Mailbox
        print(Mailbox.__table__ is mailboxes, "sqlalchemy.orm" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "24 False True True\n"), done.stderr


def test_an_ingest_loads_neither_pandas_nor_alembic(tmp_path):
    # A new store (created from the models), then a FINESS and a directory import: Arrow and
    # SQLAlchemy do the work; pandas (which pyarrow would import on its first array) and
    # Alembic (the new store) cost each command a few tenths of a second for nothing.
    runs = [["ingest", "finess", str(finess_file(tmp_path)), "--all"],
            ["ingest", "annuaire", str(first_extract(tmp_path)), "--all"]]  # fmt: skip
    first = _first_loads(tmp_path, runs)
    with make_engine(f"sqlite:///{tmp_path / 'balise.db'}").connect() as conn:
        sources = conn.execute(text("SELECT source FROM snapshots ORDER BY id")).scalars().all()
    assert sources == ["finess", "annuaire"]  # both imports ran in the probe
    assert first["pyarrow"] == "balise " + " ".join(runs[0])
    assert "pandas" not in first
    assert "alembic" not in first


def test_pyarrow_still_converts_to_and_from_pandas_after_an_ingest_s_set_up():
    code = textwrap.dedent(
        """
        import sys
        import ingest.jobs
        import pyarrow as pa
        pa.array([1, None]); pa.array(["a"], pa.string())
        assert "pandas" not in sys.modules
        frame = pa.table({"n": [1, None]}).to_pandas()
        assert frame["n"].isna().tolist() == [False, True]
        assert pa.Table.from_pandas(frame).column("n").null_count == 1
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_a_directory_ingest_loads_no_finess_module(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from balise.db import make_engine, upgrade
        from ingest import jobs
        engine = make_engine(sys.argv[1])
        upgrade(engine)
        report = jobs.ingest(engine, "annuaire", sys.argv[2], None)
        finess = ("msgspec", "ingest.load.finess", "ingest.sources.finess")
        print(report.kept, sorted(m for m in finess if m in sys.modules))
        """
    )
    url, extract = f"sqlite:///{tmp_path / 'balise.db'}", str(first_extract(tmp_path))
    done = subprocess.run([sys.executable, "-c", code, url, extract], capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # fmt: skip
    assert done.returncode == 0, done.stderr
    kept, loaded = done.stdout.strip().split(" ", 1)
    assert int(kept) > 0
    assert loaded == "[]"


# ----- an import never loads the ORM -----------------------------------------------------------

# The command as installed runs it (balise.launcher, which runs the atexit handlers, then leaves
# by os._exit): whether the ORM was imported is read once the whole command is done.
_ORM_PROBE = textwrap.dedent(
    """
    import atexit, sys
    atexit.register(lambda: print("ORM loaded:", "sqlalchemy.orm" in sys.modules))
    from balise.launcher import main
    main()
    """
)


def _flow(tmp_path):
    path = tmp_path / "finess-structures-journalier-20261101.json"
    path.write_bytes(grouped_flow())
    return path


# Each import command with a small file of every kind it reads.
IMPORT_FILES = {"annuaire": [first_extract], "finess": [finess_file, _flow]}


def test_every_import_command_has_files_to_import_in_the_orm_check():
    imports = {path[1] for path, command in walk(cli)
               if path[0] == "ingest" and "source" in {p.name for p in command.params}}  # fmt: skip
    assert imports == set(IMPORT_FILES) == {"annuaire", "finess"}


@pytest.mark.parametrize(
    ("command", "make_file"),
    [(command, make) for command, makers in IMPORT_FILES.items() for make in makers],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_an_import_command_never_loads_the_orm(database_url, tmp_path, command, make_file):
    # The ORM and its classes cost every command about 0.1 s of start-up: an import reads and
    # writes the tables with Core statements, from a brand-new store (created, not migrated).
    env = {**os.environ, "BALISE_DATABASE_URL": database_url, "BALISE_ARCHIVE_DIR": "",
           "BALISE_DATA_DIR": str(tmp_path)}  # fmt: skip
    env.pop("BALISE_USER", None)
    argv = ["--json", "ingest", command, str(make_file(tmp_path)), "--all"]
    done = subprocess.run(
        [sys.executable, "-c", _ORM_PROBE, *argv], capture_output=True, text=True, env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report, probe = done.stdout.strip().rsplit("\n", 1)
    assert json.loads(report)["kept"] > 0
    assert probe == "ORM loaded: False"
