"""Sources configured by default, fetched only when they change, and their health.

A local HTTPS server (``https_server``) plays data.gouv.fr: a stable address that redirects to a
dated static file carrying an ETag and a Last-Modified, then answers ``304`` to a conditional
GET; a changed file; the same bytes republished; a failing server; a source left unchanged for
days. ``balise ingest annuaire|finess`` without SOURCE, the worker's refresh and
``balise sources`` are run for real, on SQLite and PostgreSQL. No test reaches the internet."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from balise.cli import cli
from balise.clock import utc_now
from balise.config import DEFAULT_ANNUAIRE_URL, DEFAULT_FINESS_URL, load_settings
from balise.errors import ConfigurationError
from balise.formatting import MISSING, THIN, fr_date, fr_datetime
from balise.models import Snapshot, SourceCheck
from balise.services import sources
from ingest.sources import remote
from ingest.worker import Runtime, run_loop
from tests.support.extracts import finess_line, write_finess
from tests.support.https import HttpsServer, Reply
from tests.test_ingest import EJ_X, A, first_extract, second_extract

STABLE = "/api/1/datasets/r/afe01105-d9a1-41fe-921f-e40ea48b2ba6"
DATA_NAME = "extraction-correspondance-mssante.txt"
STAMP_1, STAMP_2 = "20261125-031500", "20261126-030500"
MODIFIED_1 = "Wed, 25 Nov 2026 03:15:00 GMT"
UNCHANGED_304 = (
    "Annuaire MSSanté : inchangé (le serveur répond 304 à la requête conditionnelle) ; "
    "rien n'est importé.\n"
)


def publish(
    server: HttpsServer, body: bytes, stamp: str, etag: str | None = '"v1"', modified=MODIFIED_1
) -> str:
    """data.gouv.fr's layout: the stable address redirects (302) to the dated static file."""
    static = f"/resources/annuaire-sante-extraction-des-bal-mssante/{stamp}/{DATA_NAME}"
    server.files[STABLE] = Reply(status=302, headers={"Location": server.url(static)})
    headers = {k: v for k, v in (("ETag", etag), ("Last-Modified", modified)) if v}
    server.files[static] = Reply(body, headers=headers)
    return static


@pytest.fixture
def env(database_url, https_server, tmp_path) -> dict[str, str]:
    """The command line's environment: the default directory source is the test server."""
    return {
        "BALISE_DATABASE_URL": database_url,
        "BALISE_ANNUAIRE_URL": https_server.url(STABLE),
        "BALISE_CA_BUNDLE": https_server.ca_bundle,
        "BALISE_ARCHIVE_DIR": str(tmp_path / "archive"),
        "BALISE_DEPARTMENTS": "01,38",
    }


def run(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def check_row(engine, source: str = "annuaire"):
    with engine.connect() as conn:
        table = SourceCheck.__table__
        return conn.execute(select(table).where(table.c.source == source)).one()


def snapshots(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(Snapshot.id, Snapshot.file_name, Snapshot.generated_at).order_by(Snapshot.id)
        ).all()


# --- the defaults ------------------------------------------------------------------------------


def test_sources_default_to_the_stable_data_gouv_addresses(monkeypatch, tmp_path):
    for name in ("BALISE_ANNUAIRE_URL", "BALISE_FINESS_URL", "BALISE_ARCHIVE_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=str(tmp_path))
    assert (
        settings.annuaire_url
        == DEFAULT_ANNUAIRE_URL
        == ("https://www.data.gouv.fr/api/1/datasets/r/afe01105-d9a1-41fe-921f-e40ea48b2ba6")
    )
    assert settings.finess_url == DEFAULT_FINESS_URL
    assert settings.source_stale_days == 3
    assert settings.resolved_archive_dir() == tmp_path / "archive"
    monkeypatch.setenv("BALISE_ARCHIVE_DIR", "")
    monkeypatch.setenv("BALISE_ANNUAIRE_URL", "")
    settings = load_settings()
    assert settings.resolved_archive_dir() is None and settings.source_url("annuaire") == ""


@pytest.mark.parametrize("value", ["0", "trois", "-2", ""])
def test_a_malformed_stale_threshold_is_refused(monkeypatch, value):
    monkeypatch.setenv("BALISE_SOURCE_STALE_DAYS", value)
    with pytest.raises(ConfigurationError, match="BALISE_SOURCE_STALE_DAYS doit être"):
        load_settings()


def test_without_source_nor_url_the_command_says_what_to_do(env):
    result = run({**env, "BALISE_ANNUAIRE_URL": ""}, "ingest", "annuaire")
    assert result.exit_code == 1
    assert result.stderr == (
        "Erreur : Aucune adresse configurée pour Annuaire MSSanté (réglage BALISE_ANNUAIRE_URL) : "
        "donnez un fichier ou une URL (balise ingest annuaire SOURCE).\n"
    )


# --- 200 with an ETag, then 304, then a changed file ------------------------------------------


def test_the_default_source_is_fetched_once_then_asked_conditionally(
    env, empty_db, https_server, tmp_path
):
    static = publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    first = run(env, "ingest", "annuaire")
    assert first.exit_code == 0, first.output
    assert re.fullmatch(
        rf"Annuaire MSSanté « {DATA_NAME} » : 8 lignes lues, .* 5 créées, .* instantané n° 1 en [0-9,]+\u202fs\.\n",
        first.stdout,
    )
    assert https_server.requests == [("GET", STABLE), ("GET", static)]
    # The file carries no date: the one in its address (the upload time) is the snapshot's.
    assert snapshots(empty_db) == [(1, DATA_NAME, datetime(2026, 11, 25, 3, 15))]
    row = check_row(empty_db)
    assert (row.outcome, row.etag, row.last_modified, row.file_name, row.snapshot_id) == (
        "imported",
        '"v1"',
        MODIFIED_1,
        DATA_NAME,
        1,
    )
    assert row.file_date == datetime(2026, 11, 25, 3, 15) and row.changed_at == row.checked_at

    again = run(env, "ingest", "annuaire")
    assert (again.exit_code, again.stdout) == (0, UNCHANGED_304)
    asked = https_server.headers[-1]  # the static file, after the redirect
    assert (asked["If-None-Match"], asked["If-Modified-Since"]) == ('"v1"', MODIFIED_1)
    assert len(snapshots(empty_db)) == 1
    row = check_row(empty_db)
    assert (row.outcome, row.message) == ("unchanged", remote.HOW_NOT_MODIFIED)
    assert row.changed_at < row.checked_at

    static_2 = publish(
        https_server, second_extract(tmp_path).read_bytes(), STAMP_2, etag='"v2"', modified=None
    )
    changed = run(env, "--json", "ingest", "annuaire")
    assert changed.exit_code == 0, changed.output
    payload = json.loads(changed.stdout)
    assert (payload["outcome"], payload["ingest"]["snapshot_id"]) == ("imported", 2)
    assert (payload["ingest"]["created"], payload["ingest"]["removed"]) == (1, 1)
    assert https_server.requests[-1] == ("GET", static_2)
    assert snapshots(empty_db)[-1] == (2, DATA_NAME, datetime(2026, 11, 26, 3, 5))
    row = check_row(empty_db)
    assert (row.outcome, row.etag, row.last_modified, row.changed_at) == (
        "imported",
        '"v2"',
        None,
        row.checked_at,
    )
    archived = sorted(p.name for p in (tmp_path / "archive" / "annuaire").iterdir())
    assert [re.sub("-[0-9a-f]{8}[.]", "-SHA8.", n) for n in archived] == [
        "annuaire-2026-11-25-SHA8.txt.gz", "annuaire-2026-11-26-SHA8.txt.gz"
    ]  # fmt: skip


def test_a_department_the_last_import_left_out_is_not_told_unchanged(
    env, empty_db, https_server, tmp_path
):
    """The server's 304 says the file did not change, not that its rows for a department the
    last import left out are in the store: those are downloaded and imported."""
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    assert run(env, "ingest", "annuaire", "--departments", "01").exit_code == 0
    other = run(env, "ingest", "annuaire", "--departments", "38")
    assert other.exit_code == 0, other.output
    assert re.search(r" : 8 lignes lues, .* instantané n° 2 en ", other.stdout), other.stdout
    assert https_server.headers[-1].get("If-None-Match") is None
    assert [s.id for s in snapshots(empty_db)] == [1, 2]
    assert run(env, "ingest", "annuaire", "--departments", "38").stdout == UNCHANGED_304
    # Back to 01: downloaded again (the last snapshot is 38's), already imported, and the same
    # file as the last check's: not a change of the source (staleness is not reset by it).
    changed_at = check_row(empty_db).changed_at
    back = run(env, "ingest", "annuaire", "--departments", "01")
    assert back.stdout == (
        f"Annuaire MSSanté « {DATA_NAME} » : déjà importé (instantané n° 1), rien à faire.\n"
    )
    assert (check_row(empty_db).changed_at, check_row(empty_db).snapshot_id) == (changed_at, 1)


def test_a_server_with_last_modified_only_is_asked_if_modified_since(
    env, empty_db, https_server, tmp_path
):
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1, etag=None)
    assert run(env, "ingest", "annuaire").exit_code == 0
    again = run(env, "ingest", "annuaire")
    assert (again.exit_code, again.stdout) == (0, UNCHANGED_304)
    assert "If-None-Match" not in https_server.headers[-1]
    assert https_server.headers[-1]["If-Modified-Since"] == MODIFIED_1


def test_the_same_bytes_republished_are_unchanged_without_an_import(
    env, empty_db, https_server, tmp_path
):
    body = first_extract(tmp_path).read_bytes()
    publish(https_server, body, STAMP_1)
    assert run(env, "ingest", "annuaire").exit_code == 0
    publish(https_server, body, STAMP_2, etag='"regenerated"', modified=None)
    again = run(env, "ingest", "annuaire")
    assert (again.exit_code, again.stdout) == (0, (
        "Annuaire MSSanté : inchangé (même empreinte SHA-256 que le dernier fichier) ; "
        "rien n'est importé.\n"
    ))  # fmt: skip
    assert len(snapshots(empty_db)) == 1
    row = check_row(empty_db)
    assert (row.outcome, row.etag) == ("unchanged", '"regenerated"')  # asked with it next time


def test_the_finess_source_by_default_carries_its_metadata_date(
    env, empty_db, https_server, tmp_path
):
    path = write_finess(tmp_path / "etalab-cs1100502-stock.csv", [finess_line(A, EJ_X, "500")],
                        date="2026-11-20")  # fmt: skip
    https_server.files["/finess"] = Reply(path.read_bytes(), headers={"ETag": '"f1"'})
    env = {**env, "BALISE_FINESS_URL": https_server.url("/finess")}
    result = run(env, "ingest", "finess")
    assert result.exit_code == 0, result.output
    row = check_row(empty_db, "finess")
    assert (row.outcome, row.file_date) == ("imported", datetime(2026, 11, 20))
    again = run(env, "ingest", "finess")
    assert again.stdout == (
        "FINESS : inchangé (le serveur répond 304 à la requête conditionnelle) ; "
        "rien n'est importé.\n"
    )


# --- failures: recorded, and the next check still conditional ---------------------------------


def test_a_failed_attempt_is_recorded_and_keeps_the_last_validators(
    env, empty_db, https_server, tmp_path
):
    static = publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    assert run(env, "ingest", "annuaire").exit_code == 0
    https_server.files[static] = Reply(b"maintenance", status=503)
    failed = run(env, "ingest", "annuaire")
    reason = "Le serveur 127.0.0.1 a refusé le téléchargement (code HTTP 503)."
    assert (failed.exit_code, failed.stderr) == (1, f"Erreur : {reason}\n")
    row = check_row(empty_db)
    assert (row.outcome, row.message, row.etag, row.snapshot_id) == ("failed", reason, '"v1"', 1)

    health = run(env, "sources")
    assert health.exit_code == 1
    assert health.stderr == (
        f"Annuaire MSSanté : la dernière vérification ({fr_datetime(row.checked_at)}) a échoué : "
        f"{reason}\n"
    )
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    assert run(env, "ingest", "annuaire").stdout == UNCHANGED_304
    assert run(env, "sources").exit_code == 0


def test_a_file_the_reader_refuses_is_a_failed_attempt(env, empty_db, https_server):
    publish(https_server, b"\x00\x01 pas un extrait", STAMP_1)
    result = run(env, "ingest", "annuaire")
    assert result.exit_code == 1
    row = check_row(empty_db)
    assert row.outcome == "failed" and result.stderr == f"Erreur : {row.message}\n"
    assert row.etag is None and row.sha256 is None  # the next check downloads it again
    assert snapshots(empty_db) == []


@pytest.mark.parametrize(
    ("final", "limit", "expected"),
    [
        (
            Reply(b"x" * 3000, cut_at=1000),
            64,
            "est incomplet : 1\u202f000 octets reçus sur 3\u202f000",
        ),
        (Reply(bytes(2 << 20)), 1, "dépasse la taille maximale de 1 Mo"),
        (Reply(b"x" * 50, trickle_s=0.05), 64, f"a dépassé le délai de 1{THIN}s"),
    ],
    ids=["short", "too big", "late"],
)
def test_the_download_rules_apply_to_the_redirected_response(
    env, https_server, final, limit, expected
):
    https_server.files[STABLE] = Reply(status=302, headers={"Location": https_server.url("/f")})
    https_server.files["/f"] = final
    env = {**env, "BALISE_MAX_DOWNLOAD_MB": str(limit)}
    started = time.monotonic()
    result = run(env, "ingest", "annuaire", "--timeout", "1")
    assert result.exit_code == 1 and expected in result.stderr, result.output
    assert time.monotonic() - started < 5


# --- source health: balise sources -------------------------------------------------------------


def test_balise_sources_lists_each_source(env, empty_db, https_server, tmp_path):
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    assert run(env, "ingest", "annuaire").exit_code == 0
    row = check_row(empty_db)
    result = run(env, "sources")
    assert result.exit_code == 0  # FINESS has no address here, and no data: nothing to say
    assert result.stdout == (
        f"Annuaire MSSanté : {https_server.url(STABLE)}\n"
        f"  dernière vérification : {fr_datetime(row.checked_at)} (nouveau fichier importé)\n"
        f"  dernier changement : {fr_datetime(row.checked_at)}\n"
        "  date du fichier : 25/11/2026 04:15\n"  # Last-Modified 03:15 GMT, in Paris
        "  dernier instantané : n° 1 du 25/11/2026\n"
        "FINESS : aucune adresse configurée\n"
        f"  dernière vérification : {MISSING}\n"
        f"  dernier changement : {MISSING}\n"
        f"  date du fichier : {MISSING}\n"
        "  dernier instantané : aucun\n"
    )
    assert result.stderr == ""


def test_balise_sources_exits_1_for_a_stale_source(env, empty_db, https_server, tmp_path):
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    assert run(env, "ingest", "annuaire").exit_code == 0
    assert run(env, "sources").exit_code == 0
    assert run(env, "ingest", "annuaire").stdout == UNCHANGED_304  # the server: still the same
    # Five days on: the same answer every day, nothing new since.
    long_ago = utc_now() - timedelta(days=5, hours=1)
    with empty_db.begin() as conn:
        conn.execute(update(SourceCheck).values(changed_at=long_ago))
        conn.execute(update(Snapshot).values(ingested_at=long_ago))
    result = run(env, "sources")
    problem = (
        f"Annuaire MSSanté : aucun changement depuis 5 jours (dernier le {fr_date(long_ago)} ; "
        "seuil de 3 jours, réglage BALISE_SOURCE_STALE_DAYS)."
    )
    assert (result.exit_code, result.stderr) == (1, problem + "\n")
    as_json = run(env, "--json", "sources")
    assert as_json.exit_code == 1 and as_json.stderr == ""
    payload = json.loads(as_json.stdout)
    assert payload["problems"] == [problem]
    assert [s["source"] for s in payload["sources"]] == ["annuaire", "finess"]
    assert payload["sources"][0]["changed_at"] == long_ago.isoformat()
    assert run({**env, "BALISE_SOURCE_STALE_DAYS": "6"}, "sources").exit_code == 0


def test_balise_sources_json_as_the_readme_writes_it(env, empty_db):
    """``balise sources --json`` (the README's spelling) is ``balise --json sources``."""
    after, before = run(env, "sources", "--json"), run(env, "--json", "sources")
    assert (after.exit_code, after.stderr) == (1, "")  # never imported: a problem
    assert after.stdout == before.stdout
    assert json.loads(after.stdout)["problems"][0].startswith("Annuaire MSSanté : jamais importé")


def test_staleness_is_counted_from_the_last_change(empty_db, https_server):
    settings = replace(load_settings(), annuaire_url=https_server.url(STABLE), finess_url="")
    changed = datetime(2026, 7, 29, 3, 0)  # the last file before the 10-day gap of 2026
    sources.record_check(empty_db, "annuaire", settings.annuaire_url, checked_at=changed,
                         outcome="imported", changed_at=changed)  # fmt: skip
    at = {days: sources.problems(empty_db, settings, changed + timedelta(days=days, hours=1))
          for days in (2, 3, 10)}  # fmt: skip
    assert at[2] == []
    assert at[3] == [
        "Annuaire MSSanté : aucun changement depuis 3 jours (dernier le 29/07/2026 ; seuil de "
        "3 jours, réglage BALISE_SOURCE_STALE_DAYS)."
    ]
    assert "depuis 10 jours" in at[10][0]


def test_a_configured_source_never_imported_is_a_problem(empty_db):
    settings = replace(load_settings(), annuaire_url=DEFAULT_ANNUAIRE_URL, finess_url="")
    assert sources.problems(empty_db, settings) == [
        f"Annuaire MSSanté : jamais importé ; lancez « balise ingest annuaire » (source : "
        f"{DEFAULT_ANNUAIRE_URL})."
    ]


def test_an_import_by_hand_counts_as_a_change(env, empty_db, tmp_path):
    env = {**env, "BALISE_ANNUAIRE_URL": ""}
    assert run(env, "ingest", "annuaire", str(first_extract(tmp_path))).exit_code == 0
    result = run(env, "sources")
    assert result.exit_code == 0, result.output
    assert "  dernier instantané : n° 1 du 01/10/2026\n" in result.stdout


def test_the_file_date_is_the_latest_snapshot_s(env, empty_db, https_server, tmp_path):
    """A file imported by hand after the last check: its date is the one shown, beside it."""
    publish(https_server, first_extract(tmp_path).read_bytes(), "20261020-031500")
    assert run(env, "ingest", "annuaire").exit_code == 0  # dated 20/10/2026 by its address
    assert run(env, "ingest", "annuaire", str(second_extract(tmp_path))).exit_code == 0
    result = run(env, "sources")
    shown = result.stdout.splitlines()[3:5]
    assert shown == [
        f"  date du fichier : {fr_datetime(datetime(2026, 11, 1, 3, 12))}",
        "  dernier instantané : n° 2 du 01/11/2026",
    ]


# --- the worker: a conditional request every day ----------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path):
    from balise.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'worker.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_worker_refreshes_with_a_conditional_request(sqlite_store, https_server, tmp_path):
    """The SQLite worker loop (its refresh period shortened from a day to 0.3 s): the file is
    downloaded once, then every check is a conditional GET answered 304."""
    static = publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    settings = replace(load_settings(departments="01,38"), annuaire_url=https_server.url(STABLE),
                       finess_url="", ca_bundle=https_server.ca_bundle)  # fmt: skip
    stop = threading.Event()
    loop = threading.Thread(
        target=run_loop, args=(Runtime(sqlite_store, settings), 3600.0, 0.3, stop, 0.05)
    )
    loop.start()
    try:
        deadline = time.monotonic() + 15
        while https_server.requests.count(("GET", static)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)
    statics = [h for r, h in zip(https_server.requests, https_server.headers, strict=True)
               if r == ("GET", static)]  # fmt: skip
    assert len(statics) >= 3
    assert "If-None-Match" not in statics[0]
    assert all(h["If-None-Match"] == '"v1"' for h in statics[1:])
    with sqlite_store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Snapshot)) == 1
    assert check_row(sqlite_store).outcome == "unchanged"


def test_the_worker_tries_a_failed_refresh_again_within_the_day(
    sqlite_store, https_server, tmp_path
):
    """A refresh that fails (503 this morning) comes back after the retry delay (shortened from
    an hour to 0.2 s), not the next day (the refresh period stays a day here)."""
    static = publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    https_server.files[static] = Reply(b"maintenance", status=503)
    settings = replace(load_settings(departments="01,38"), annuaire_url=https_server.url(STABLE),
                       finess_url="", ca_bundle=https_server.ca_bundle)  # fmt: skip
    stop = threading.Event()
    loop = threading.Thread(target=run_loop, args=(Runtime(sqlite_store, settings), 3600.0,
                            24 * 3600.0, stop, 0.05), kwargs={"refresh_retry_s": 0.2})  # fmt: skip
    loop.start()
    try:
        deadline = time.monotonic() + 15
        while https_server.requests.count(("GET", static)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert check_row(sqlite_store).outcome == "failed"
        publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)  # back up
        while check_row(sqlite_store).outcome == "failed" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)
    assert check_row(sqlite_store).outcome == "imported"
    with sqlite_store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Snapshot)) == 1


def test_the_ca_bundle_adds_to_the_system_store_and_vouches_for_no_one_else(
    env, https_server, tmp_path
):
    """BALISE_CA_BUNDLE serves the ANS (IGC-Santé) and the public mirror alike; a bundle of
    another authority still leaves the test server unrecognised."""
    from tests.support.https import make_pki

    (tmp_path / "autre").mkdir()
    other_ca, _, _ = make_pki(tmp_path / "autre")
    publish(https_server, first_extract(tmp_path).read_bytes(), STAMP_1)
    result = run({**env, "BALISE_CA_BUNDLE": str(other_ca)}, "ingest", "annuaire")
    assert result.exit_code == 1
    assert result.stderr.startswith("Erreur : Le certificat du serveur 127.0.0.1 n'est pas reconnu")
    assert https_server.requests == []


def test_the_finess_plus_flow_by_default_compressed_then_not_modified(
    env, empty_db, https_server, tmp_path, second_database_url
):
    """The « FINESS Structures » daily flow as data.gouv.fr serves it: a stable address, a
    redirect to the dated gzip file, whose point has latitude and longitude swapped; imported
    with the point put back (and said so), dated by its JSON, archived, replayed alike."""
    import gzip

    from balise.models import Establishment
    from tests.support.finess_plus import ege_file, flow

    name = "finess-structures-journalier-20260701.json.gz"
    static = f"/resources/finess-structures-1/20260701-021625/{name}"
    https_server.files["/r/finess"] = Reply(
        status=302, headers={"Location": https_server.url(static)}
    )
    swapped = dict(
        ege_file()["adresse"][0],
        coordonneesGeographique={"directionLatitude": "5.345", "directionLongitude": "46.383"},
    )
    body = gzip.compress(flow(ege_file(adresse=[swapped])))
    https_server.files[static] = Reply(body, headers={"ETag": '"j1"'})
    env = {**env, "BALISE_FINESS_URL": https_server.url("/r/finess")}
    result = run(env, "ingest", "finess")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"FINESS « {name} » : ")
    assert result.stdout.endswith(" Coordonnées inversées puis corrigées : 1.\n")
    with empty_db.connect() as conn:
        placed = conn.execute(select(Establishment.latitude, Establishment.longitude)).all()
    assert placed == [(46.383, 5.345)]  # in the Ain, not in the Gulf of Guinea
    generated = datetime(2026, 7, 1, 4, 0, 0, 123456)  # the flow's generatedAt
    assert snapshots(empty_db) == [(1, name, generated)]
    assert check_row(empty_db, "finess").file_date == generated
    assert run(env, "ingest", "finess").stdout.startswith(
        "FINESS : inchangé (le serveur répond 304"
    )

    (kept,) = (tmp_path / "archive" / "finess").iterdir()
    assert re.fullmatch(r"finess-2026-07-01-[0-9a-f]{8}\.json\.gz\.gz", kept.name)
    fresh = {**env, "BALISE_DATABASE_URL": second_database_url}
    assert run(fresh, "ingest", "finess", "--from-archive").exit_code == 0
    from balise.db import make_engine

    rebuilt = make_engine(second_database_url)
    assert snapshots(rebuilt) == [(1, name, generated)]
    rebuilt.dispose()
