"""``balise sandbox activity`` on a real sandbox Dovecot, SQLite and PostgreSQL: every department of
the region gets watched mailboxes with activity, the Activité figures equal what was delivered
through the server, a second run (``make run`` twice) neither watches, delivers nor counts
anything twice, and a box the poll cannot read makes the command fail."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from balise.cli import cli
from balise.models import WatchedMailbox
from balise.referentials.departments import region_departments
from balise.secrets import seal
from balise.services import activity
from balise.services.access import SYSTEM
from balise.services.labels import category_label
from sandbox.activity import PLAN, plan_for
from sandbox.harness import running_sandbox
from sandbox.ports import free_port

pytestmark = pytest.mark.mail

REGION = region_departments("84")  # the default region (Settings.region)
REGION_PLAN = plan_for(REGION)


@pytest.fixture
def db_with_ara_demo(empty_db, database_url, tmp_path):
    result = CliRunner().invoke(
        cli, ["--database-url", database_url, "demo", "--out", str(tmp_path / "demo")]
    )
    assert result.exit_code == 0, result.output
    return empty_db


def _run(database_url: str, sandbox_dir) -> object:
    return CliRunner().invoke(
        cli,
        ["--database-url", database_url, "sandbox", "activity"],
        env={"BALISE_SANDBOX_DIR": str(sandbox_dir), "BALISE_SECRET_KEY": None},
    )


def _planned() -> tuple[int, Counter, Counter]:
    """What the plan delivers: total, messages per (department, direction), per flow."""
    per_dep: Counter = Counter()
    flows: Counter = Counter()
    for box in REGION_PLAN:
        for direction, other, n in box.exchanges:
            per_dep[(box.department, direction)] += n
            ends = (other, box.category) if direction == "in" else (box.category, other)
            flows[(category_label(ends[0]), category_label(ends[1]))] += n
    return sum(per_dep.values()), per_dep, flows


def _figures(engine) -> tuple[dict, Counter, Counter, list]:
    head = activity.headline(engine, SYSTEM, None)
    weekly = activity.weekly_messages(engine, SYSTEM, None)
    per_dep = Counter()
    for r in weekly.itertuples():
        per_dep[(r.department, r.direction)] += r.messages
    flows = activity.category_flows(engine, SYSTEM, None)
    by_flow = Counter({(r.source, r.target): r.messages for r in flows.itertuples()})
    return head, per_dep, by_flow, flows.to_dict("records")


def test_the_plan_covers_every_department_of_the_region():
    assert sorted({b.department for b in REGION_PLAN}) == sorted(REGION) and len(REGION) == 12
    assert set(PLAN) <= set(REGION_PLAN)  # the particular flows are kept
    assert plan_for(reversed(REGION)) == REGION_PLAN  # deterministic


def test_demo_activity_fills_the_activite_figures_once(db_with_ara_demo, database_url):
    total, per_dep, flows = _planned()
    with running_sandbox() as sandbox:
        first = _run(database_url, sandbox.directory)
        assert first.exit_code == 0, first.output
        assert first.stdout == (
            f"Activité de démonstration : 12 boîtes suivies (12 nouvelles), {total} messages "
            f"déposés, {total} nouveaux messages comptés, 0 en échec.\n"
        )
        head, seen_per_dep, seen_flows, records = _figures(db_with_ara_demo)
        assert head["watched"] == head["active_mailboxes"] == len(REGION_PLAN)
        assert head["active_structures"] >= len(REGION_PLAN)
        # Whichever department an animator looks at, its Activité page has figures.
        for department in REGION:
            mine = activity.headline(db_with_ara_demo, SYSTEM, [department])
            assert mine["watched"] >= 1 and mine["active_mailboxes"] == mine["watched"], department
            assert per_dep[(department, "in")] > 0 and per_dep[(department, "out")] > 0
        assert seen_per_dep == per_dep and seen_flows == flows
        # The seed's use cases label the flows: the DAC asks the SSIAD.
        dac = next(r for r in records if (r["source"], r["target"]) == ("DAC", "SSIAD"))
        assert dac["use_cases"] == "Demande d'intervention du SSIAD par le DAC"

        # As after a restart of the sandbox on other ports: the watches follow the server.
        with db_with_ara_demo.begin() as conn:
            conn.execute(update(WatchedMailbox).values(imap_port=free_port()))
        again = _run(database_url, sandbox.directory)
        assert again.exit_code == 0, again.output
        assert again.stdout == (
            "Activité de démonstration : 12 boîtes suivies (0 nouvelle), 0 message déposé, "
            "0 nouveau message compté, 0 en échec.\n"
        )
        assert _figures(db_with_ara_demo) == (head, seen_per_dep, seen_flows, records)


def test_demo_activity_needs_the_running_sandbox(db_with_ara_demo, database_url, tmp_path):
    result = _run(database_url, tmp_path / "no-sandbox")
    assert result.exit_code == 1
    assert result.stderr == (
        "Erreur : L'opérateur bac à sable ne tourne pas : lancez « balise sandbox --background ».\n"
    )


def test_demo_activity_exits_1_when_a_box_fails(db_with_ara_demo, database_url):
    with running_sandbox() as sandbox:
        assert _run(database_url, sandbox.directory).exit_code == 0
        # One watch now holds a password the server does not know: that box fails its poll.
        address = (
            db_with_ara_demo.connect().execute(select(WatchedMailbox.address)).scalars().first()
        )
        key = (sandbox.directory / "secret.key").read_text().strip()
        with db_with_ara_demo.begin() as conn:
            conn.execute(update(WatchedMailbox).where(WatchedMailbox.address == address)
                         .values(secret_ref=seal("pas-le-bon", key)))  # fmt: skip
        res = _run(database_url, sandbox.directory)
    assert res.exit_code == 1, res.output
    assert res.stderr == (
        f"Échec {address} : Authentification refusée pour {address} sur "
        f"127.0.0.1:{sandbox.imap_port} (mode password).\n"
        f"Journal du Dovecot du bac à sable : {sandbox.log_path}\n"
    )
    assert res.stdout.endswith(", 1 en échec.\n")


def test_demo_activity_says_what_failed_when_the_sandbox_breaks(db_with_ara_demo, database_url):
    with running_sandbox() as sandbox:
        assert _run(database_url, sandbox.directory).exit_code == 0
        # The sandbox breaks by itself: its Dovecot can no longer read its accounts (it re-reads
        # a passwd-file at most once a second).
        time.sleep(1.2)
        sandbox.users_dir.chmod(0)
        try:
            time.sleep(1.2)
            res = _run(database_url, sandbox.directory)
        finally:
            sandbox.users_dir.chmod(0o755)
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("Erreur : Le Dovecot du bac à sable a échoué : doveadm("), (
        res.stderr
    )
    assert res.stderr.endswith(
        "Error: User lookup failed: Internal error occurred. Refer to server log for more "
        f"information. Journal : {sandbox.log_path}.\n"
    ), res.stderr
    assert "Authentification refusée" not in res.output
