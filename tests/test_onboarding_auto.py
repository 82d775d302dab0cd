"""Automatic onboarding advances after the scheduled jobs (SQLite and PostgreSQL, real Dovecot):
a poll that counts messages of a structure's mailbox moves it to « Usage régulier », from
``balise poll`` and from the worker's poll job; a quiet poll moves nothing."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from balise.cli import cli
from balise.config import load_settings
from balise.models import Onboarding, OnboardingHistory
from ingest.worker import Runtime, poll_department
from tests.support.activity import raw_message, watch
from tests.support.adoption_seed import seed_small_adoption
from tests.support.dovecot import TEST_SECRET_KEY

pytestmark = pytest.mark.mail

TILLEULS = "380000001"  # EHPAD Les Tilleuls, 38
ADDRESS = "accueil@tilleuls.mssante.fr"  # its mailbox in the seeded directory
# One password for the session's sandbox account: Dovecot may keep a changed passwd-file's old
# content for up to a second, so each test must not change it.
PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture
def db_with_watched_structure(empty_db, dovecot):
    """The small adoption store; the EHPAD's directory mailbox watched on the sandbox and one
    message delivered to it today (LMTP)."""
    seed_small_adoption(empty_db)
    dovecot.add_user(ADDRESS, PASSWORD)
    watch(empty_db, dovecot, ADDRESS, department="38", password=PASSWORD)
    dovecot.deliver(ADDRESS, raw_message("officine@pharmacie-rhone.mssante.fr", [ADDRESS]))
    return empty_db


def _stage(engine, finess: str) -> tuple[str | None, tuple | None]:
    h = OnboardingHistory
    with engine.connect() as conn:
        stage = conn.scalar(select(Onboarding.stage).where(Onboarding.finess_et == finess))
        last = conn.execute(
            select(h.to_stage, h.source, h.reason)
            .where(h.finess_et == finess)
            .order_by(h.id.desc())
        ).first()
    return stage, tuple(last) if last else None


def test_balise_poll_advances_the_structure_it_saw_active(db_with_watched_structure, database_url):
    engine = db_with_watched_structure
    assert _stage(engine, TILLEULS) == (None, None)
    env = {"BALISE_SECRET_KEY": TEST_SECRET_KEY}
    runner = CliRunner()
    polled = runner.invoke(cli, ["--database-url", database_url, "poll", "--department", "38"],
                           env=env)  # fmt: skip
    assert polled.exit_code == 0, polled.output
    lines = polled.stdout.splitlines()
    assert lines[0].startswith("1 boîte relevée, 0 en échec, ")
    # 38: the Tilleuls (activity) and the second EHPAD of 38 (its EJ's mailbox in the directory).
    assert lines[1:] == ["2 structures avancées dans l'accompagnement d'après les faits."]
    assert _stage(engine, TILLEULS) == (
        "usage_regulier",
        ("usage_regulier", "auto", "Messages échangés dans les 30 derniers jours"),
    )
    # Nothing new on the server: no advance, no second line.
    again = runner.invoke(cli, ["--database-url", database_url, "poll"], env=env)
    assert again.exit_code == 0 and len(again.stdout.splitlines()) == 1, again.output


def test_the_worker_poll_job_advances_the_structure(db_with_watched_structure):
    engine = db_with_watched_structure
    rt = Runtime(engine, load_settings(secret_key=TEST_SECRET_KEY), timeout=10.0, workers=2)
    try:
        report = poll_department(rt, "38")
    finally:
        rt.sessions.close()
    assert [(o.ok, o.message) for o in report.outcomes] == [(True, None)]
    assert _stage(engine, TILLEULS)[0] == "usage_regulier"
