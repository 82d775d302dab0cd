"""The installed ``balise`` command (balise/launcher.py) leaves without Python's teardown, and
loses nothing by it: the command's status and output, the atexit handlers, a thread still
running, the store's connections (SQLite's WAL folded back on close)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def balise(*args: str, env: dict | None = None, entry: str = "balise.launcher"):
    """The launcher in a fresh interpreter, as the installed script runs it (``entry``
    ``balise.cli``: the click command line alone, exiting the usual way)."""
    code = f"import sys; sys.argv[0] = 'balise'; from {entry} import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_installed_command_is_the_launcher():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["balise"] == "balise.launcher:main"


def test_status_and_output_are_the_command_s():
    for args in (["--help"], ["ins", "12a"], ["--pas-une-option"], ["ins", "--help"]):
        quick, usual = balise(*args), balise(*args, entry="balise.cli")
        assert (quick.returncode, quick.stdout, quick.stderr) == (
            usual.returncode,
            usual.stdout,
            usual.stderr,
        ), args
    assert [balise(*a).returncode for a in (["--help"], ["ins", "12a"], ["--nope"])] == [0, 1, 2]


def test_the_store_is_closed_before_leaving(tmp_path):
    url = f"sqlite:///{tmp_path / 'balise.db'}"
    listed = balise("mailbox", "list", env={"BALISE_DATABASE_URL": url})
    assert (listed.returncode, listed.stdout) == (0, "0 boîte suivie.\n")
    # SQLite folds the WAL back into the database and deletes it when the last connection
    # closes: a connection left open by the quick exit would leave it behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["balise.db"]


_LEAVE = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from balise.launcher import leave

    out = Path(sys.argv[1])

    class Torn:
        def __del__(self):
            (out / "teardown").write_text("x")

    torn = Torn()
    atexit.register(lambda: (out / "atexit").write_text("x"))
    if sys.argv[2] == "thread":
        def late():
            time.sleep(0.3)
            (out / "thread").write_text("x")
        threading.Thread(target=late).start()
    sys.stdout.write("pas encore écrit")  # buffered
    leave(3)
    """
)


def _leave(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _LEAVE, str(tmp_path), mode], capture_output=True, text=True,
        cwd=ROOT,
    )  # fmt: skip
    return done, sorted(p.name for p in tmp_path.iterdir())


def test_leaving_runs_the_atexit_handlers_and_skips_the_teardown(tmp_path):
    done, written = _leave(tmp_path, "alone")
    assert (done.returncode, done.stdout) == (3, "pas encore écrit")
    assert written == ["atexit"]  # no "teardown": the objects were never freed one by one


def test_a_thread_still_running_is_waited_for(tmp_path):
    done, written = _leave(tmp_path, "thread")
    assert (done.returncode, done.stdout) == (3, "pas encore écrit")
    assert {"atexit", "thread"} <= set(written)
