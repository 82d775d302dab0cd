"""The archive of imported files, so that any import can be replayed: each one kept compressed under BALISE_ARCHIVE_DIR,
named by source, date and fingerprint, idempotent; restored with its name and date (``gzip -dN``
does it too); refused when altered, truncated or too big; ``balise ingest … --from-archive``
rebuilds the same history in an empty store (SQLite and PostgreSQL), skips what is already there
and never rewrites history with an older file."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from balise.db import make_engine, upgrade
from balise.errors import SourceError
from balise.models import Mailbox, Snapshot
from ingest import archive, jobs
from ingest.sources.files import fetch_source
from tests.test_ingest import (
    ARA,
    NAME_1,
    NAME_2,
    finess_file,
    first_extract,
    second_extract,
)

GENERATED_1 = datetime(2026, 10, 1, 3, 12)  # NAME_1's stamp
FINESS_NAME = "etalab-cs1100502-stock-20261101-0400.csv"


def run(env: dict, *args: str):
    from balise.cli import cli

    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def env(database_url, tmp_path) -> dict[str, str]:
    return {"BALISE_DATABASE_URL": database_url, "BALISE_ARCHIVE_DIR": str(tmp_path / "archive"),
            "BALISE_DEPARTMENTS": ",".join(ARA)}  # fmt: skip


def history(engine) -> list[tuple]:
    """What a rebuilt store must hold like the original: each snapshot's file, fingerprint, date
    and differences, and every mailbox version."""
    with engine.connect() as conn:
        snaps = conn.execute(
            select(Snapshot.source, Snapshot.file_name, Snapshot.sha256, Snapshot.generated_at,
                   Snapshot.rows_kept, Snapshot.created, Snapshot.removed, Snapshot.changed)
            .order_by(Snapshot.id)
        ).all()  # fmt: skip
        boxes = conn.execute(
            select(Mailbox.address, Mailbox.bal_type, Mailbox.valid_from, Mailbox.valid_to)
            .order_by(Mailbox.address, Mailbox.valid_from)
        ).all()  # fmt: skip
    return [*snaps, *boxes]


# --- keep, list, restore -----------------------------------------------------------------------


def test_an_archived_file_keeps_its_name_and_date_and_is_written_once(tmp_path):
    source = first_extract(tmp_path)
    sha = fetch_source(str(source), tmp_path / "w").sha256
    kept = archive.keep(tmp_path / "archive", "annuaire", source, sha, GENERATED_1)
    assert kept == tmp_path / "archive" / "annuaire" / f"annuaire-2026-10-01-{sha[:8]}.txt.gz"
    assert archive.read_header(kept) == (NAME_1, GENERATED_1)
    assert gzip.decompress(kept.read_bytes()) == source.read_bytes()
    written = kept.stat().st_mtime_ns
    assert archive.keep(tmp_path / "archive", "annuaire", source, sha, GENERATED_1) == kept
    assert kept.stat().st_mtime_ns == written  # idempotent: not written again
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no .part left

    # The standard tool gives the file back under its own name and date.
    copy = tmp_path / "gz" / kept.name
    copy.parent.mkdir()
    shutil.copy(kept, copy)
    subprocess.run(["gzip", "-dN", str(copy)], check=True)
    restored = tmp_path / "gz" / NAME_1
    assert restored.read_bytes() == source.read_bytes()
    assert datetime.fromtimestamp(restored.stat().st_mtime, UTC).replace(tzinfo=None) == GENERATED_1


def test_an_already_compressed_file_is_wrapped_not_compressed_again(tmp_path):
    """The FiNESS+ flow comes as .json.gz: its archive stores the gzip bytes as they are (a
    header plus stored blocks, a few bytes per 64 KiB), gives them back exactly, and costs a
    copy rather than a second deflate pass."""
    body = json.dumps([{"n": i, "x": "é" * (i % 50)} for i in range(40_000)]).encode()
    source = tmp_path / "finess-structures-journalier-20261129.json.gz"
    source.write_bytes(gzip.compress(body, compresslevel=6))
    kept = archive.keep(tmp_path / "a", "finess", source, "cd" * 32, GENERATED_1)
    assert kept.name == "finess-2026-10-01-cdcdcdcd.json.gz.gz"
    assert gzip.decompress(kept.read_bytes()) == source.read_bytes()
    overhead = kept.stat().st_size - source.stat().st_size
    assert 0 < overhead <= 128 + source.stat().st_size // 10_000
    with open(source, "rb") as fh:  # the decision itself: deflate would only spend time
        assert (archive._level_for(fh), fh.tell()) == (archive.STORED, 0)
    # A plain file still shrinks.
    plain = tmp_path / "plain.json"
    plain.write_bytes(body)
    with open(plain, "rb") as fh:
        assert archive._level_for(fh) == archive.LEVEL
    assert (
        archive.keep(tmp_path / "a", "finess", plain, "ef" * 32, None).stat().st_size
        < len(body) / 3
    )


def test_a_file_without_a_date_is_archived_under_the_import_day(tmp_path):
    source = tmp_path / "extrait sans date é.txt"
    source.write_bytes(first_extract(tmp_path).read_bytes())
    kept = archive.keep(tmp_path / "a", "annuaire", source, "ab" * 32, None)
    assert kept.name == f"annuaire-{datetime.now(UTC).date().isoformat()}-abababab.txt.gz"
    assert archive.read_header(kept) == ("extrait_sans_date_e.txt", None)


def test_listing_is_in_date_order_within_the_asked_period(tmp_path):
    folder = tmp_path / "archive"
    for day, body in (
        (date(2026, 8, 9), b"b"),
        (date(2026, 7, 29), b"a"),
        (date(2026, 8, 10), b"c"),
    ):
        path = tmp_path / f"f{body.decode()}.txt"
        path.write_bytes(body)
        archive.keep(folder, "annuaire", path, body.hex() * 32, datetime.combine(day, datetime.min.time()))  # fmt: skip
    (folder / "annuaire" / "notes.txt").write_text("pas une archive")
    assert [a.day for a in archive.listing(folder, "annuaire")] == [
        date(2026, 7, 29), date(2026, 8, 9), date(2026, 8, 10)
    ]  # fmt: skip
    picked = archive.listing(folder, "annuaire", since=date(2026, 8, 1), until=date(2026, 8, 9))
    assert [a.original_name for a in picked] == ["fb.txt"]
    assert archive.listing(folder, "finess") == []


def _archived(tmp_path, body: bytes, name: str = "annuaire-2026-10-01-{sha8}.txt.gz"):
    import hashlib

    sha8 = hashlib.sha256(body).hexdigest()[:8]
    path = tmp_path / "archive" / "annuaire" / name.format(sha8=sha8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(body))
    return archive.listing(tmp_path / "archive", "annuaire")[0]


def test_an_altered_archive_is_refused(tmp_path):
    one = _archived(tmp_path, b"original")
    one.path.write_bytes(gzip.compress(b"falsifie"))
    with pytest.raises(SourceError) as err:
        archive.restore(one, tmp_path / "w", 1 << 20)
    assert str(err.value) == (
        f"L'archive {one.path.name} ne correspond pas à son empreinte (fichier altéré) ; "
        "rien n'est importé."
    )
    assert list((tmp_path / "w").iterdir()) == []


def test_a_truncated_archive_is_refused(tmp_path):
    one = _archived(tmp_path, bytes(range(256)) * 400)
    one.path.write_bytes(one.path.read_bytes()[:-100])
    with pytest.raises(SourceError, match="est illisible ou tronquée ; rien n'est importé"):
        archive.restore(one, tmp_path / "w", 1 << 20)
    assert list((tmp_path / "w").iterdir()) == []


def test_an_archive_inflating_past_the_cap_is_stopped(tmp_path):
    one = _archived(tmp_path, bytes(3 << 20))
    with pytest.raises(
        SourceError, match="dépasse une fois décompressée la taille maximale de 2 Mo"
    ):
        archive.restore(one, tmp_path / "w", 2 << 20)
    assert list((tmp_path / "w").iterdir()) == []


# --- balise ingest: archive on import, rebuild from the archive --------------------------------


def test_each_import_is_archived_by_source_and_date(env, tmp_path):
    assert run(env, "ingest", "finess", str(finess_file(tmp_path))).exit_code == 0
    assert run(env, "ingest", "annuaire", str(first_extract(tmp_path))).exit_code == 0
    again = run(env, "ingest", "annuaire", str(first_extract(tmp_path)))
    assert "déjà importé" in again.stdout
    names = sorted(p.name[:-16] for p in (tmp_path / "archive").rglob("*.gz"))  # less -sha8.ext.gz
    assert names == ["annuaire-2026-10-01", "finess-2026-11-01"]


def test_an_archive_that_cannot_be_written_leaves_the_import_standing(env, empty_db, tmp_path):
    blocked = tmp_path / "fichier"
    blocked.write_text("un fichier, pas un dossier")
    result = run({**env, "BALISE_ARCHIVE_DIR": str(blocked)}, "ingest", "annuaire",
                 str(first_extract(tmp_path)))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "instantané n° 1" in result.stdout
    assert result.stderr == (
        f"Attention : Fichier importé, mais non archivé dans {blocked} : Not a directory.\n"
    )
    with empty_db.connect() as conn:
        assert conn.scalar(select(Snapshot.id)) == 1


def test_the_history_is_rebuilt_from_the_archive(env, empty_db, tmp_path, second_database_url):
    assert run(env, "ingest", "finess", str(finess_file(tmp_path))).exit_code == 0
    for extract in (first_extract, second_extract):
        assert run(env, "ingest", "annuaire", str(extract(tmp_path))).exit_code == 0
    original = history(empty_db)

    fresh = {**env, "BALISE_DATABASE_URL": second_database_url}
    assert run(fresh, "ingest", "finess", "--from-archive").exit_code == 0
    rebuilt = run(fresh, "ingest", "annuaire", "--from-archive")
    assert rebuilt.exit_code == 0, rebuilt.output
    lines = rebuilt.stdout.splitlines()
    assert [line.split(" : ")[0] for line in lines[:2]] == [
        f"Annuaire MSSanté « {NAME_1} »", f"Annuaire MSSanté « {NAME_2} »"
    ]  # fmt: skip
    assert lines[2] == (
        "Archive Annuaire MSSanté : 2 fichiers importés, 0 déjà présent(s), "
        "0 antérieur(s) au dernier instantané, 0 en échec."
    )
    engine = make_engine(second_database_url)
    assert history(engine) == original

    twice = run(fresh, "--json", "ingest", "annuaire", "--from-archive")
    payload = json.loads(twice.stdout)
    assert (payload["imported"], payload["already"]) == (0, 2)
    assert payload["files"][0]["message"].endswith("déjà importé (instantané n° 2), rien à faire.")
    assert history(engine) == original
    engine.dispose()


def test_an_older_file_never_rewrites_history(env, empty_db, tmp_path):
    """Another region's archive holds a file older than this store's latest snapshot."""
    assert run(env, "ingest", "annuaire", str(second_extract(tmp_path))).exit_code == 0
    before = history(empty_db)
    archive.keep(tmp_path / "archive", "annuaire", first_extract(tmp_path),
                 fetch_source(str(first_extract(tmp_path)), tmp_path / "w").sha256,
                 GENERATED_1)  # fmt: skip
    result = run(env, "ingest", "annuaire", "--from-archive", "--until", "2026-10-31")
    assert result.exit_code == 0, result.output
    name = next((tmp_path / "archive" / "annuaire").glob("annuaire-2026-10-01-*")).name
    assert result.stdout.splitlines() == [
        f"{name} : antérieur au dernier instantané (01/11/2026), ignoré : l'historique ne se "
        "réécrit pas (pour le reconstruire, partez d'une base vide).",
        "Archive Annuaire MSSanté : 0 fichier importé, 0 déjà présent(s), "
        "1 antérieur(s) au dernier instantané, 0 en échec.",
    ]
    assert history(empty_db) == before


def test_a_broken_archive_is_reported_and_the_others_still_run(
    env, empty_db, tmp_path, second_database_url
):
    for extract in (first_extract, second_extract):
        assert run(env, "ingest", "annuaire", str(extract(tmp_path))).exit_code == 0
    first = sorted((tmp_path / "archive" / "annuaire").iterdir())[0]
    first.write_bytes(first.read_bytes()[:200])
    fresh = {**env, "BALISE_DATABASE_URL": second_database_url}
    result = run(fresh, "ingest", "annuaire", "--from-archive")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{first.name} : L'archive {first.name} est illisible ou tronquée ; rien n'est importé.\n"
    )
    assert result.stdout.splitlines()[-1] == (
        "Archive Annuaire MSSanté : 1 fichier importé, 0 déjà présent(s), "
        "0 antérieur(s) au dernier instantané, 1 en échec."
    )


def test_replay_options_are_checked(env, tmp_path):
    result = run(env, "ingest", "annuaire", "--since", "2026-08-01")
    assert result.exit_code == 2 and "--since et --until vont avec --from-archive." in result.output
    result = run(env, "ingest", "annuaire", "x.txt", "--from-archive")
    assert result.exit_code == 2 and "ne donnez pas de SOURCE" in result.output
    result = run({**env, "BALISE_ARCHIVE_DIR": ""}, "ingest", "annuaire", "--from-archive")
    assert result.stderr == (
        "Erreur : L'archive est désactivée (réglage BALISE_ARCHIVE_DIR vide) : rien à réimporter.\n"
    )
    result = run(env, "ingest", "annuaire", "--from-archive", "--since", "2026-08-01")
    assert result.stderr == (
        f"Erreur : Aucun fichier archivé pour Annuaire MSSanté dans {tmp_path / 'archive' / 'annuaire'}"
        " depuis le 01/08/2026.\n"
    )


def test_demo_files_are_not_archived(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    report = jobs.ingest(engine, "annuaire", str(first_extract(tmp_path)), ARA, is_demo=True,
                         archive_dir=tmp_path / "archive")  # fmt: skip
    assert report.archived is None and not (tmp_path / "archive").exists()
    engine.dispose()


def test_undated_files_replay_under_their_archive_day(env, second_database_url, tmp_path):
    """Files that carry no date (a name without a stamp, no date inside) were archived under
    their import day; replayed, each snapshot takes that day, so none looks older than another."""
    for day, extract in (("2026-09-01", first_extract), ("2026-09-02", second_extract)):
        undated = tmp_path / f"extrait-{day}.txt"
        undated.write_bytes(extract(tmp_path).read_bytes())
        sha = fetch_source(str(undated), tmp_path / "w").sha256
        kept = archive.keep(tmp_path / "archive", "annuaire", undated, sha, None)
        kept.rename(kept.with_name(kept.name.replace(kept.name[9:19], day)))  # imported that day
    result = run({**env, "BALISE_DATABASE_URL": second_database_url}, "ingest", "annuaire",
                 "--from-archive")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 fichiers importés" in result.stdout.splitlines()[-1]
    engine = make_engine(second_database_url)
    with engine.connect() as conn:
        dates = conn.scalars(select(Snapshot.generated_at).order_by(Snapshot.id)).all()
    assert dates == [datetime(2026, 9, 1), datetime(2026, 9, 2)]
    engine.dispose()
