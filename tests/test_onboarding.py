"""The onboarding pipeline on the small adoption dataset (tests/support/adoption_seed.py), on
SQLite and PostgreSQL: automatic advances from each fact, manual moves, never backwards, the
« à relancer » list, the funnel and permissions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from balise.errors import NotFoundError, PermissionDenied, ValidationError
from balise.models import (
    AuditEntry,
    BalTest,
    DailyActivity,
    Onboarding,
    OnboardingHistory,
    ProvisionedBal,
    WatchedMailbox,
)
from balise.services import onboarding as ob
from balise.services import onboarding_actions as ob_actions
from balise.services import onboarding_reads as ob_reads
from balise.services.access import SYSTEM, Actor
from tests.support.adoption_seed import seed_small_adoption

TODAY = date.today()
ISERE = Actor("animateur.isere", "animator", ("38",))
E1, E2, E3, E4, E5, E6 = [
    "380000001",
    "380000002",
    "380000003",
    "690000001",
    "690000002",
    "750000001",
]


@pytest.fixture
def small_db(empty_db) -> Engine:
    seed_small_adoption(empty_db)
    return empty_db


def stages(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Onboarding.finess_et, Onboarding.stage)).all())


def last_reason(engine: Engine, finess: str) -> tuple[str, str, str]:
    h = OnboardingHistory
    with engine.connect() as conn:
        row = conn.execute(
            select(h.to_stage, h.source, h.reason)
            .where(h.finess_et == finess)
            .order_by(h.id.desc())
        ).first()
    return tuple(row)


def provision(engine: Engine, address: str, finess: str, status: str) -> None:
    now = datetime.now()
    with engine.begin() as conn:
        conn.execute(delete(ProvisionedBal).where(ProvisionedBal.address == address))
        conn.execute(
            insert(ProvisionedBal).values(
                address=address, bal_type="ORG", department=finess[:2], finess=finess,
                backend="request", status=status, created_at=now, updated_at=now,
            )
        )  # fmt: skip


def test_a_mailbox_in_the_directory_makes_the_bal_created(small_db):
    assert ob.advance_from_facts(small_db) == 4
    # E1 and E2 (by their EJ), E5 and E6 are in the current directory; E3 never, E4 lost its box.
    assert stages(small_db) == {E1: "bal_creee", E2: "bal_creee", E5: "bal_creee", E6: "bal_creee"}
    assert last_reason(small_db, E2) == ("bal_creee", "auto", "BAL dans l'annuaire MSSanté")
    # Idempotent: the same facts move nothing the second time.
    assert ob.advance_from_facts(small_db) == 0
    with small_db.connect() as conn:
        audit = conn.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.detail)).all()
    assert audit == [("onboarding_auto", "système", '{"structures": 4}')]


def test_department_selection_limits_the_advance(small_db):
    assert ob.advance_from_facts(small_db, departments=["69"]) == 1
    assert stages(small_db) == {E5: "bal_creee"}


def test_a_requested_then_provisioned_bal(small_db):
    provision(small_db, "accueil@ehpad-chene.mssante.fr", E3, "requested")
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E3] == "bal_demandee"
    assert last_reason(small_db, E3) == ("bal_demandee", "auto", "BAL demandée à l'opérateur")
    provision(small_db, "accueil@ehpad-chene.mssante.fr", E3, "provisioned")
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E3] == "bal_creee"
    assert last_reason(small_db, E3) == ("bal_creee", "auto", "BAL provisionnée")


def test_a_passed_round_trip_makes_the_bal_tested(small_db):
    provision(small_db, "accueil@ehpad-chene.mssante.fr", E3, "test_failed")
    with small_db.begin() as conn:
        for n, outcome in enumerate(("failed", "passed", "timeout")):
            conn.execute(
                insert(BalTest).values(
                    test_id=f"t{n}", sender="sonde@balise.mssante.fr",
                    recipient="accueil@ehpad-chene.mssante.fr", started_at=datetime.now(),
                    outcome=outcome,
                )
            )  # fmt: skip
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E3] == "bal_testee"
    assert last_reason(small_db, E3) == (
        "bal_testee",
        "auto",
        "Test d'envoi et de réception réussi",
    )


def _watch_with_activity(engine: Engine, address: str, day: date, messages: int) -> None:
    with engine.begin() as conn:
        mailbox_id = conn.execute(
            insert(WatchedMailbox).values(
                address=address, department="38", imap_host="127.0.0.1", imap_port=143,
                tls_mode="starttls", auth_mode="password",
            ).returning(WatchedMailbox.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(DailyActivity).values(
                mailbox_id=mailbox_id, day=day, direction="in", counterpart_category="620",
                messages=messages, bytes=1000,
            )
        )  # fmt: skip


def test_recent_activity_means_regular_use_and_stages_never_go_back(small_db):
    _watch_with_activity(small_db, "accueil@tilleuls.mssante.fr", TODAY - timedelta(days=3), 5)
    # Activity older than the window is not regular use.
    _watch_with_activity(small_db, "soins@montmartre.mssante.fr", TODAY - timedelta(days=90), 5)
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E1] == "usage_regulier"
    assert stages(small_db)[E6] == "bal_creee"
    # The activity ages out and the mailbox leaves the directory: E1 stays where it got.
    with small_db.begin() as conn:
        conn.execute(delete(DailyActivity))
        conn.execute(delete(WatchedMailbox))
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E1] == "usage_regulier"
    # A manual stage above the facts is kept too.
    ob_actions.move(small_db, SYSTEM, E5, "bal_testee", "Test fait avec la structure")
    ob.advance_from_facts(small_db)
    assert stages(small_db)[E5] == "bal_testee"


def test_manual_moves_both_ways_with_history_and_audit(small_db):
    ob_actions.move(small_db, ISERE, E3, "contacte", "Appel à la directrice")
    ob_actions.move(small_db, ISERE, E3, "sensibilise")
    ob_actions.move(small_db, ISERE, E3, "contacte", "Erreur de saisie")  # the animator corrects
    assert stages(small_db)[E3] == "contacte"
    history = ob_reads.history(small_db, ISERE, E3)
    assert list(
        zip(history["from_stage"], history["to_stage"], history["source"], strict=True)
    ) == [
        ("sensibilise", "contacte", "manuel"),
        ("contacte", "sensibilise", "manuel"),
        ("a_contacter", "contacte", "manuel"),
    ]
    assert set(history["actor"]) == {"animateur.isere"}
    with small_db.connect() as conn:
        audit = conn.execute(
            select(AuditEntry.action, AuditEntry.object, AuditEntry.outcome, AuditEntry.detail)
        ).all()
    assert audit[0] == ("onboarding_move", E3, "ok", '{"de": "À contacter", "vers": "Contacté"}')
    assert len(audit) == 3
    with pytest.raises(ValidationError, match="Étape inconnue : signee"):
        ob_actions.move(small_db, ISERE, E3, "signee")
    with pytest.raises(NotFoundError, match="La structure FINESS 389999999 n'existe pas"):
        ob_actions.move(small_db, ISERE, "389999999", "contacte")


def test_another_department_is_refused_and_the_refusal_audited(small_db):
    with pytest.raises(PermissionDenied) as err:
        ob_actions.move(small_db, ISERE, E4, "contacte")
    assert str(err.value) == "Vous n'avez pas accès au département 69."
    with pytest.raises(PermissionDenied):
        ob_actions.plan_follow_up(small_db, ISERE, E4, ob_actions.FollowUp(next_action="Relancer"))
    manager = Actor("ars", "manager")
    with pytest.raises(PermissionDenied, match="Un chargé de programme consulte"):
        ob_actions.move(small_db, manager, E1, "contacte")
    with pytest.raises(PermissionDenied):
        ob_reads.board(small_db, ISERE, "69")
    assert stages(small_db) == {}
    with small_db.connect() as conn:
        audit = conn.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.department)
        ).all()
    assert audit == [
        ("onboarding_move", "refused", "69"),
        ("onboarding_plan", "refused", "69"),
        ("onboarding_move", "refused", "38"),
    ]


def test_overdue_next_actions_and_equipped_but_silent_structures(small_db):
    ob.advance_from_facts(small_db)
    ob_actions.plan_follow_up(small_db, SYSTEM, E4, ob_actions.FollowUp(
        next_action="Rappeler la direction", next_action_on=TODAY - timedelta(days=2),
        notes="Intéressée par la BAL organisationnelle", assigned_to="Camille Exemple",
    ))  # fmt: skip
    ob_actions.plan_follow_up(
        small_db, SYSTEM, E3, ob_actions.FollowUp("Envoyer la plaquette", TODAY)
    )  # not late
    long_ago = datetime.combine(TODAY - timedelta(days=45), datetime.min.time())
    with small_db.begin() as conn:
        conn.execute(
            update(Onboarding).where(Onboarding.finess_et == E2).values(stage_since=long_ago)
        )
    late = ob_reads.overdue(small_db, SYSTEM, ["38", "69", "75"], today=TODAY)
    assert list(late["finess_et"]) == [E2, E4]  # oldest due date first
    assert late.loc[1, "reason"] == (
        f"Action prévue le {TODAY - timedelta(days=2):%d/%m/%Y} : Rappeler la direction"
    )
    assert late.loc[0, "reason"] == f"Équipée depuis le {long_ago:%d/%m/%Y}, sans usage régulier"
    assert late.loc[1, "assigned_to"] == "Camille Exemple"
    # An animator of Isère sees only Isère; regular use clears the silent structure.
    assert list(ob_reads.overdue(small_db, ISERE, None, today=TODAY)["finess_et"]) == [E2]
    ob_actions.move(small_db, ISERE, E2, "usage_regulier")
    assert ob_reads.overdue(small_db, ISERE, None, today=TODAY).empty


def test_funnel_counts_every_stage_per_department(small_db):
    ob.advance_from_facts(small_db)
    ob_actions.move(small_db, SYSTEM, E3, "sensibilise")
    funnel = ob_reads.funnel(small_db, SYSTEM, ["38", "69"])
    counts = {(r.department, r.stage): r.structures for r in funnel.itertuples()}
    assert len(funnel) == 14  # 2 departments x 7 stages, zeros included
    assert counts[("38", "bal_creee")] == 2
    assert counts[("38", "sensibilise")] == 1
    assert counts[("69", "a_contacter")] == 1  # E4, no row yet
    assert counts[("69", "bal_creee")] == 1
    assert sum(counts.values()) == 5  # the 5 ESMS of 38 and 69; the pharmacy is not one
    assert list(funnel["label"][:7]) == list(ob.STAGES.values())
    board = ob_reads.board(small_db, ISERE, "38")
    assert list(zip(board["finess_et"], board["stage"], strict=True)) == [
        (E3, "sensibilise"), (E1, "bal_creee"), (E2, "bal_creee"),
    ]  # fmt: skip


def test_cli_advance_move_and_late(small_db, database_url):
    from click.testing import CliRunner

    from balise.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, ["--database-url", database_url, "onboarding", *args])

    advanced = run("advance", "--department", "38")
    assert (advanced.exit_code, advanced.stdout) == (
        0,
        "2 structure(s) avancée(s) d'après les faits.\n",
    )
    assert run("advance").stdout == "2 structure(s) avancée(s) d'après les faits.\n"  # 69 and 75
    moved = run("move", E3, "contacte", "--motif", "Appel")
    assert (moved.exit_code, moved.stdout) == (0, "Structure 380000003 : Contacté.\n")
    ob_actions.plan_follow_up(
        small_db, SYSTEM, E3, ob_actions.FollowUp("Envoyer la plaquette", date(2026, 1, 5))
    )
    late = run("late", "--department", "38")
    assert late.stdout == (
        '05/01/2026  380000003  =HYPERLINK("http://x") EHPAD Le Chêne — '
        "Action prévue le 05/01/2026 : Envoyer la plaquette\n1 structure(s) à relancer.\n"
    )
    missing = run("move", "389999999", "contacte")
    assert missing.exit_code == 1
    assert missing.stderr == (
        "Erreur : La structure FINESS 389999999 n'existe pas dans le FINESS importé.\n"
    )
