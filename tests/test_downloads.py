"""Downloads are whole or nothing, so that a bad download never replaces good data: a real local TLS server plays a body cut short of its
``Content-Length``, bytes trickled past the deadline, files over the size cap, a zip bomb and a zip
corrupted in the middle. Each one is an ``Erreur : …`` with exit 1 and the store unchanged, from
``balise ingest`` and from the worker's refresh; no test reaches the internet."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from balise.cli import cli
from balise.config import load_settings
from balise.db import make_engine
from balise.errors import ConfigurationError, SourceError
from balise.formatting import fr_int
from ingest.sources.download import DownloadLimits
from ingest.sources.files import fetch_source
from ingest.worker import Runtime, refresh_source
from tests.support.extracts import directory_line, write_directory
from tests.support.https import HttpsServer, Reply
from tests.support.store_dump import rows_by_table
from tests.support.zips import corrupt_middle, make_zip, zip_bomb
from tests.test_ingest import first_extract, second_extract

ANS_NAME = "Extraction_Correspondance_MSSante_202611250312.txt"
NNBSP = "\u202f"


def _limits(deadline_s: float = 10.0, max_mb: int = 2048) -> DownloadLimits:
    return DownloadLimits.of(deadline_s, max_mb)


def _fetch_refused(server: HttpsServer, path: str, workdir: Path, limits: DownloadLimits) -> str:
    """The French message of a refused download, after checking it left no file behind."""
    with pytest.raises(SourceError) as err:
        fetch_source(server.url(path), workdir, ca_bundle=server.ca_bundle, limits=limits)
    assert not workdir.exists() or list(workdir.iterdir()) == []
    return str(err.value)


# --- fetch_source: each way a download can go wrong ----------------------------------------------


def test_body_shorter_than_its_content_length_is_refused(https_server, tmp_path):
    body = first_extract(tmp_path).read_bytes()
    https_server.files["/a.txt"] = Reply(body, cut_at=len(body) // 2)
    message = _fetch_refused(https_server, "/a.txt", tmp_path / "work", _limits())
    assert message == (
        f"Le téléchargement depuis 127.0.0.1 est incomplet : {fr_int(len(body) // 2)} octets "
        f"reçus sur {fr_int(len(body))} annoncés ; rien n'est importé."
    )


def test_chunked_body_cut_off_is_refused(https_server, tmp_path):
    body = first_extract(tmp_path).read_bytes()
    https_server.files["/a.txt"] = Reply(body, chunked=True, cut_at=len(body) // 2)
    message = _fetch_refused(https_server, "/a.txt", tmp_path / "work", _limits())
    assert message == "Le téléchargement depuis 127.0.0.1 s'est interrompu ; rien n'est importé."


@pytest.mark.parametrize("where", ["body", "head"])
def test_a_trickle_is_cut_at_the_overall_deadline(https_server, tmp_path, where):
    """One byte every 50 ms never trips a per-read timeout; the 1.5 s deadline cuts it."""
    pause = {"trickle_s": 0.05} if where == "body" else {"trickle_head_s": 0.05}
    https_server.files["/slow.txt"] = Reply(first_extract(tmp_path).read_bytes(), **pause)
    started = time.monotonic()
    message = _fetch_refused(https_server, "/slow.txt", tmp_path / "work", _limits(1.5))
    assert 1.4 < time.monotonic() - started < 5
    assert message == (
        f"Le téléchargement depuis 127.0.0.1 a dépassé le délai de 1,5{NNBSP}s (option --timeout) : "
        "abandonné, rien n'est importé."
    )


def test_announced_size_over_the_cap_is_refused_before_the_body(https_server, tmp_path):
    https_server.files["/big.txt"] = Reply(bytes(3 << 20))
    message = _fetch_refused(https_server, "/big.txt", tmp_path / "work", _limits(max_mb=2))
    assert message == (
        "Le fichier proposé par 127.0.0.1 dépasse la taille maximale de 2 Mo "
        "(réglage BALISE_MAX_DOWNLOAD_MB) ; rien n'est importé."
    )


def test_unannounced_size_over_the_cap_is_cut_while_receiving(https_server, tmp_path):
    https_server.files["/big.txt"] = Reply(bytes(3 << 20), chunked=True)
    message = _fetch_refused(https_server, "/big.txt", tmp_path / "work", _limits(max_mb=2))
    assert message.startswith("Le fichier proposé par 127.0.0.1 dépasse la taille maximale de 2 Mo")


def test_a_sound_download_within_the_limits_is_kept(https_server, tmp_path):
    body = first_extract(tmp_path).read_bytes()
    https_server.files["/a.txt"] = Reply(body, chunked=True)
    source = fetch_source(
        https_server.url("/a.txt"), tmp_path / "w", https_server.ca_bundle, _limits(5, 1)
    )
    assert source.path.read_bytes() == body
    assert [p.name for p in (tmp_path / "w").iterdir()] == ["a.txt"]


# --- balise ingest: Erreur, exit 1, the store as it was ------------------------------------------


def _corrupt_zip(tmp_path: Path) -> bytes:
    """A 6 MB extract whose damage lies at 90 %: found while the writer is already staging
    blocks in its scratch file (through ADBC on SQLite)."""
    lines = [directory_line("PER", f"p{i}.n{i * 7919 % 100003}@medecin.mssante.fr", department="38")
             for i in range(40_000)]  # fmt: skip
    path = tmp_path / "served.zip"
    make_zip(path, {ANS_NAME: write_directory(tmp_path / "big.txt", lines).read_bytes()})
    corrupt_middle(path, ANS_NAME, at=0.9)
    return path.read_bytes()


CASES = {
    "short": (
        lambda tmp: Reply(second_extract(tmp).read_bytes(), cut_at=400),
        [],
        "Erreur : Le téléchargement depuis 127.0.0.1 est incomplet : 400 octets reçus sur ",
    ),
    "trickle": (
        lambda tmp: Reply(second_extract(tmp).read_bytes(), trickle_s=0.05),
        ["--timeout", "1"],
        f"Erreur : Le téléchargement depuis 127.0.0.1 a dépassé le délai de 1{NNBSP}s",
    ),
    "over the cap": (
        lambda tmp: Reply(bytes(2 << 20)),
        [],
        "Erreur : Le fichier proposé par 127.0.0.1 dépasse la taille maximale de 1 Mo",
    ),
    "zip bomb": (
        lambda tmp: Reply(zip_bomb(ANS_NAME, 1024)),
        [],
        f"Erreur : L'archive ZIP est refusée : {ANS_NAME} se décompresse 1{NNBSP}011 fois",
    ),
    "corrupt zip": (
        lambda tmp: Reply(_corrupt_zip(tmp)),
        ["--all"],
        f"Erreur : L'archive ZIP est corrompue : la lecture de {ANS_NAME} s'est interrompue.",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ingest_refuses_a_bad_download_and_changes_nothing(
    case, database_url, https_server, tmp_path, monkeypatch
):
    reply, options, expected = CASES[case]
    run = CliRunner().invoke
    db = ["--database-url", database_url]
    first = run(cli, [*db, "ingest", "annuaire", str(first_extract(tmp_path)), "--all"])
    assert first.exit_code == 0, first.output
    engine = make_engine(database_url)
    before = rows_by_table(engine)
    monkeypatch.setenv("BALISE_MAX_DOWNLOAD_MB", "1" if case == "over the cap" else "64")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "scratch"))  # where stages go
    (tmp_path / "scratch").mkdir()
    https_server.files["/extraction"] = reply(tmp_path)
    url = https_server.url("/extraction")
    args = ["ingest", "annuaire", url, "--ca-bundle", https_server.ca_bundle, *options]
    result = run(cli, [*db, *args])
    assert (result.exit_code, type(result.exception)) == (1, SystemExit), result.output
    assert result.output.startswith(expected), result.output
    assert result.output.count("\n") == 1
    assert rows_by_table(engine) == before
    assert list((tmp_path / "scratch").iterdir()) == []  # no download, no balise-stage-* left
    engine.dispose()


def test_timeout_option_is_checked(tmp_path):
    result = CliRunner().invoke(cli, ["ingest", "annuaire", "x.txt", "--timeout", "0"])
    assert result.exit_code == 2
    assert "--timeout" in result.output


def test_worker_refresh_gives_up_at_its_deadline(empty_db, https_server, tmp_path):
    body = second_extract(tmp_path).read_bytes()
    https_server.files["/annuaire"] = Reply(body, trickle_s=0.05)
    settings = load_settings(
        annuaire_url=https_server.url("/annuaire"), ca_bundle=https_server.ca_bundle
    )
    before = rows_by_table(empty_db)
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"a dépassé le délai de 1{NNBSP}s"):
        refresh_source(Runtime(empty_db, settings, download_timeout=1.0), "annuaire")
    assert time.monotonic() - started < 5
    after = rows_by_table(empty_db)
    checks = after.pop("source_checks")  # the failed attempt is recorded, nothing else
    assert after == {table: rows for table, rows in before.items() if table != "source_checks"}
    # Rows come as their repr, which writes the narrow no-break space as an escape.
    assert len(checks) == 1 and "a dépassé le délai de 1\\u202fs" in checks[0]
    assert https_server.requests == [("GET", "/annuaire")]


# --- the size cap setting ------------------------------------------------------------------------


def test_max_download_setting_defaults_and_parses(monkeypatch):
    monkeypatch.delenv("BALISE_MAX_DOWNLOAD_MB", raising=False)
    assert load_settings().max_download_mb == 2048
    monkeypatch.setenv("BALISE_MAX_DOWNLOAD_MB", " 300 ")
    assert load_settings().max_download_mb == 300


@pytest.mark.parametrize("value", ["", "0", "-5", "2 Go", "1.5"])
def test_a_malformed_size_cap_is_refused_not_replaced(monkeypatch, value):
    monkeypatch.setenv("BALISE_MAX_DOWNLOAD_MB", value)
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert str(err.value) == (
        f"BALISE_MAX_DOWNLOAD_MB doit être un nombre entier de Mo (1 au moins), pas « {value} »."
    )


# --- memory: a refused bomb costs no more than starting the command -----------------------------

# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forked test process from
# before exec.
_MEASURE = """
import re, sys
from balise.cli import cli
try:
    cli(sys.argv[1:], prog_name="balise")
except SystemExit as exit:
    code = exit.code
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024, code, file=sys.stderr)
"""


@pytest.mark.parametrize("kind", ["zip bomb", "sparse zeros"])
def test_peak_memory_of_a_refused_bomb_stays_under_250_mb(tmp_path, kind):
    """The whole ``balise ingest`` process, in a child of its own: 1 GiB of zeros in a 1 MB zip,
    and a 256 MiB plain file of zeros (one endless first line)."""
    path = tmp_path / (f"{ANS_NAME}.zip" if kind == "zip bomb" else ANS_NAME)
    if kind == "zip bomb":
        path.write_bytes(zip_bomb(ANS_NAME, 1024))
    else:
        with open(path, "wb") as fh:
            fh.truncate(256 << 20)
    env = {**os.environ, "BALISE_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, "ingest", "annuaire", str(path), "--all"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    peak_mb, code = done.stderr.splitlines()[-1].split()
    assert done.stderr.startswith("Erreur : ") and code == "1", done.stderr
    assert int(peak_mb) <= 250, done.stderr
