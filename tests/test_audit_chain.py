"""The audit trail's hash chain (balise/services/audit_chain.py) on SQLite and PostgreSQL: each
line carries the SHA-256 of the previous line and of its own content; ``balise audit verify``
names the first broken link after tampering by raw SQL (guard triggers dropped, as a database
owner could), passes after a retention purge (the anchor), and two writers appending at once
never fork the chain."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from balise.cli import cli
from balise.errors import PermissionDenied
from balise.models import AuditChain, AuditEntry
from balise.services import audit, audit_chain, audit_log, users
from balise.services.access import SYSTEM, Actor

ANNE = Actor("anne", "animator", ("38",))
PASSWORD = "cheval-batterie-agrafe-correct"


def _seed(engine, count: int = 4) -> None:
    for i in range(1, count + 1):
        with engine.begin() as conn:
            audit.record(conn, ANNE, "bal.provision", f"b{i}@x.test", "ok", "38", {"n": i})


def _unguard(engine) -> None:
    """Drop the append-only triggers: what someone with the database owner's rights can do."""
    on = "" if engine.dialect.name == "sqlite" else " ON audit_log"
    with engine.begin() as conn:
        for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on}")


def _rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry).order_by(AuditEntry.id)).all()


def _problem(engine) -> tuple[str | None, int | None]:
    report = audit_log.verify(engine, SYSTEM)
    return report.problem, report.broken_id


# ----- what a line carries ------------------------------------------------------------------


def test_a_line_hash_is_the_sha256_of_the_documented_serialisation(empty_db):
    at = datetime(2026, 1, 2, 3, 4, 5, 600000)
    with empty_db.begin() as conn:
        line = audit_chain.Line("anne", "bal.test", "a@x.test", "38", "failed", '{"étape": null}')
        audit_chain.append(conn, line, at=at)
    canonical = (
        '["' + "0" * 64 + '","2026-01-02 03:04:05.600000","anne","bal.test","a@x.test","38",'
        '"failed","{\\"étape\\": null}"]'
    )
    (row,) = _rows(empty_db)
    assert row.prev_hash == audit_chain.GENESIS
    assert row.row_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_each_line_links_to_the_previous_one_and_the_head_follows(empty_db):
    _seed(empty_db, 3)
    rows = _rows(empty_db)
    assert [r.prev_hash for r in rows] == [audit_chain.GENESIS, rows[0].row_hash, rows[1].row_hash]
    with empty_db.connect() as conn:
        state = conn.execute(select(AuditChain)).one()
    assert (state.head_id, state.head_hash) == (rows[2].id, rows[2].row_hash)
    assert audit_log.verify(empty_db, SYSTEM) == audit_chain.ChainReport(
        3, rows[0].id, rows[2].id, rows[2].row_hash
    )


def test_a_rolled_back_action_leaves_no_link_behind(empty_db):
    _seed(empty_db, 1)
    with pytest.raises(RuntimeError), empty_db.begin() as conn:
        audit.record(conn, ANNE, "bal.provision", "perdu@x.test")
        raise RuntimeError("the action fails after its audit line")
    _seed(empty_db, 1)
    assert len(_rows(empty_db)) == 2
    assert _problem(empty_db) == (None, None)


# ----- tampering: verify names the first broken link ------------------------------------------


def _rehash(engine, line_id: int) -> None:
    """Change line ``line_id`` and give it a hash matching its new content: the next link breaks."""
    row = next(r for r in _rows(engine) if r.id == line_id)
    line = audit_chain.Line("quelqu'un", row.action, row.object, row.department, row.outcome)
    forged = audit_chain.line_hash(row.prev_hash, row.at, line)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = :a, detail = NULL, row_hash = :h WHERE id = :i"),
            {"a": "quelqu'un", "h": forged, "i": line_id},
        )


TAMPERING = {
    "changed": (
        "UPDATE audit_log SET outcome = 'failed' WHERE id = 3",
        "la ligne n°3 a été modifiée : son contenu ne correspond plus à son empreinte.",
        3,
    ),
    "removed in the middle": (
        "DELETE FROM audit_log WHERE id = 2",
        "la ligne n°3 ne suit pas la ligne n°1 : une ligne a été supprimée ou insérée entre elles.",
        3,
    ),
    "first removed": (
        "DELETE FROM audit_log WHERE id = 1",
        "la ligne n°2 ne suit pas le début du journal : des lignes ont été supprimées ou insérées "
        "avant elle.",
        2,
    ),
    "last removed": (
        "DELETE FROM audit_log WHERE id = 4",
        "la dernière ligne est la n°3 alors que la chaîne a enregistré la n°4 : des lignes ont "
        "été supprimées ou ajoutées à la fin hors de Balise.",
        4,
    ),
    "changed and rehashed": (
        None,
        "la ligne n°3 ne suit pas la ligne n°2 : une ligne a été supprimée ou insérée entre elles.",
        3,
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_names_the_first_broken_link(empty_db, case):
    _seed(empty_db)
    _unguard(empty_db)
    sql, problem, line = TAMPERING[case]
    if sql:
        with empty_db.begin() as conn:
            conn.execute(text(sql))
    else:
        _rehash(empty_db, 2)
    assert _problem(empty_db) == (problem, line)
    with empty_db.connect() as conn:  # the failed check is itself in the trail
        outcomes = conn.execute(
            select(AuditEntry.outcome).where(AuditEntry.action == "audit.verify")
        ).all()
    assert [o for (o,) in outcomes] == ["failed"]


def test_a_line_slipped_in_at_the_end_is_found(empty_db):
    # A line with a valid link and hash, added by raw SQL: the chain's head does not know it.
    _seed(empty_db, 2)
    head = _rows(empty_db)[-1]
    line = audit_chain.Line("faussaire", "user.add", "intrus")
    at = datetime(2026, 1, 1)
    with empty_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, object, outcome, prev_hash, row_hash) "
                "VALUES (:at, 'faussaire', 'user.add', 'intrus', 'ok', :p, :h)"
            ),
            {"at": at, "p": head.row_hash, "h": audit_chain.line_hash(head.row_hash, at, line)},
        )
    assert _problem(empty_db) == (
        "la dernière ligne est la n°3 alors que la chaîne a enregistré la n°2 : des lignes ont "
        "été supprimées ou ajoutées à la fin hors de Balise.",
        2,
    )


# ----- the retention purge leaves an anchor -----------------------------------------------------


def _purge_all_but_last(engine) -> None:
    # Backdate nothing: purge with a "now" far ahead, so that every line but the purge's is old.
    audit_log.purge(engine, SYSTEM, 30, now=datetime(2100, 1, 1))


def test_after_a_purge_the_chain_verifies_from_its_anchor(empty_db):
    _seed(empty_db, 3)
    last_deleted = _rows(empty_db)[-1]
    _purge_all_but_last(empty_db)
    _seed(empty_db, 1)
    rows = _rows(empty_db)
    assert [r.action for r in rows] == ["audit.purge", "bal.provision"]
    assert rows[0].prev_hash == last_deleted.row_hash
    with empty_db.connect() as conn:
        state = conn.execute(select(AuditChain)).one()
    assert (state.anchor_id, state.anchor_hash) == (last_deleted.id, last_deleted.row_hash)
    assert _problem(empty_db) == (None, None)
    _purge_all_but_last(empty_db)  # a second purge moves the anchor on
    assert _problem(empty_db) == (None, None)


def test_after_a_purge_removing_the_oldest_kept_line_is_found(empty_db):
    _seed(empty_db, 3)
    _purge_all_but_last(empty_db)
    _seed(empty_db, 2)
    first, second = _rows(empty_db)[:2]
    _unguard(empty_db)
    with empty_db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": first.id})
    assert _problem(empty_db) == (
        f"la ligne n°{second.id} ne suit pas l'ancre de la dernière purge : des lignes ont été "
        "supprimées ou insérées avant elle.",
        second.id,
    )


def test_moving_the_anchor_by_hand_is_found(empty_db):
    # Delete the oldest kept line and move the anchor onto it: the links all match, but the
    # purge's own (chained) audit line recorded another anchor.
    _seed(empty_db, 3)
    _purge_all_but_last(empty_db)
    _seed(empty_db, 2)
    first = _rows(empty_db)[0]
    _unguard(empty_db)
    with empty_db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": first.id})
        conn.execute(
            text("UPDATE audit_chain SET anchor_id = :i, anchor_hash = :h"),
            {"i": first.id, "h": first.row_hash},
        )
    problem, line = _problem(empty_db)
    assert (problem, line) == (
        f"l'ancre de la chaîne (ligne n°{first.id}) n'est pas celle que la dernière purge a "
        "enregistrée : elle a été modifiée.",
        first.id,
    )


# ----- two writers at once ----------------------------------------------------------------------


def test_two_writers_appending_at_once_do_not_fork_the_chain(empty_db):
    per_writer = 40
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with empty_db.begin() as conn:
                    audit.record(conn, Actor(name, "admin"), "bal.test", f"{name}{i}@x.test")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("anne", "paul")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with empty_db.connect() as conn:
        links = conn.execute(select(func.count(func.distinct(AuditEntry.prev_hash)))).scalar()
    assert links == 2 * per_writer  # a fork would be two lines with the same previous line
    assert audit_log.verify(empty_db, SYSTEM).lines == 2 * per_writer


# ----- who verifies; the command ----------------------------------------------------------------


def test_only_administrators_and_managers_verify(empty_db):
    assert audit_log.verify(empty_db, Actor("chef", "manager")).problem is None
    with pytest.raises(PermissionDenied, match="Seuls un administrateur et un chargé de programme"):
        audit_log.verify(empty_db, ANNE)
    with empty_db.connect() as conn:
        lines = conn.execute(select(AuditEntry.actor, AuditEntry.outcome)).all()
    assert lines == [("chef", "ok"), ("anne", "refused")]
    # Through the command line: the edge lets any account read, the service refuses, once.
    users.add_user(empty_db, SYSTEM, users.NewUser("anim38", "animator", ("38",), PASSWORD))
    url = empty_db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        cli, ["--database-url", url, "audit", "verify"], env={"BALISE_USER": "anim38"}
    )
    assert (res.exit_code, res.stderr) == (
        1,
        "Erreur : Seuls un administrateur et un chargé de programme vérifient le journal "
        "d'audit.\n",
    )
    with empty_db.connect() as conn:
        refused = conn.execute(
            select(AuditEntry.actor).where(AuditEntry.outcome == "refused")
        ).all()
    assert refused == [("anne",), ("anim38",)]


def test_cli_audit_verify_whole_then_broken(database_url):
    run = CliRunner().invoke
    args = ["--database-url", database_url, "audit", "verify"]
    res = run(cli, args, env={"BALISE_USER": ""})
    assert (res.exit_code, res.output) == (
        0,
        f"Journal d'audit intact : 0 ligne(s) chaînée(s) ; empreinte de la dernière : "
        f"{audit_chain.GENESIS}.\n",
    )
    from balise.db import make_engine

    engine = make_engine(database_url)
    head = _rows(engine)[-1]  # the first check's own line
    res = run(cli, args, env={"BALISE_USER": ""})
    assert res.output == (
        f"Journal d'audit intact : 1 ligne(s) chaînée(s) (n°1 à n°1) ; empreinte de la "
        f"dernière : {head.row_hash}.\n"
    )
    _unguard(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE id = 1"))
    res = run(cli, args, env={"BALISE_USER": ""})
    assert (res.exit_code, res.stderr) == (
        1,
        "Erreur : Journal d'audit altéré : la ligne n°1 a été modifiée : son contenu ne "
        "correspond plus à son empreinte.\n",
    )
    engine.dispose()
