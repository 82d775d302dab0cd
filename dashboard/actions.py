"""Everything a page *does*: each function calls one ``balise.services`` action, which checks
the actor's permission and writes its audit line. Never cached (a cached action would run once
per argument set, or not at all); the reads that show its effect are in ``dashboard.data``,
keyed by markers that an action moves, so the next rerun shows it.

Nothing here runs on page view: pages call these from a button, a form or an upload."""

from __future__ import annotations

from balise.services import ingest_alerts, pack
from balise.services.access import Actor
from dashboard.store import engine, settings

Departments = tuple[str, ...]


BAL_TEST_TIMEOUT_S = 30.0
POLL_TIMEOUT_S = 30.0


def dismiss_ingest_alert(actor: Actor, alert_id: int) -> None:
    ingest_alerts.dismiss(engine(), actor, alert_id, "ignorée depuis la Vue régionale")


def build_pack(actor: Actor, departments: Departments) -> bytes:
    return pack.build_pack(engine(), actor, departments, settings().indicators_dir)


def table_csv(actor: Actor, departments: Departments, table: str) -> bytes:
    return pack.table_csv(engine(), actor, departments, table)


def bal_check(actor: Actor, request) -> list[tuple[str, str]]:
    from balise.services import provisioning

    return provisioning.check_request(engine(), actor, settings(), request)


def audit_refusal(actor: Actor, action: str, exc) -> None:
    """One audit line for a refusal no service has audited yet (a refused read)."""
    from balise.services.refusals import audit_refusal as record

    record(engine(), actor, action, exc)


def bal_provision(actor: Actor, request):
    from balise.services import provisioning

    return provisioning.provision(engine(), actor, settings(), request)


def bal_confirm(actor: Actor, address: str) -> str:
    from balise.services import provisioning

    return provisioning.confirm(engine(), actor, address)


def bal_import_check(actor: Actor, data: bytes):
    from balise.services import bal_import

    return bal_import.dry_run(engine(), actor, settings(), data)


def bal_import_apply(actor: Actor, data: bytes):
    from balise.services import bal_import

    return bal_import.apply(engine(), actor, settings(), data)


def bal_run_test(actor: Actor, address: str, case_id: str, with_xdm: bool, on_step=None):
    from balise.services import bal_tests

    return bal_tests.run_bal_test(
        engine(), actor, settings(), address, case_id=case_id, with_xdm=with_xdm,
        timeout=BAL_TEST_TIMEOUT_S, on_step=on_step,
    )  # fmt: skip


def bal_run_department(actor: Actor, department: str):
    from balise.services import bal_tests

    return bal_tests.run_department_tests(
        engine(), actor, settings(), department, timeout=BAL_TEST_TIMEOUT_S
    )


def bal_save_endpoints(actor: Actor, request) -> bool:
    """Register or change a BAL's servers (``activity.WatchRequest``); True when added."""
    from balise.services import activity

    return activity.save_endpoints(engine(), actor, request, settings().secret_key)


def mailbox_watch(actor: Actor, request) -> int:
    """Start watching a mailbox (« Suivre une boîte », page Activité); its id."""
    from balise.services import activity

    return activity.add_watched(engine(), actor, request, settings().secret_key)


def mailbox_poll_now(actor: Actor, address: str, department: str) -> tuple[bool, str]:
    """Poll one watched mailbox now (« Relever maintenant »): whether it worked, and the French
    sentence saying what was counted or why it failed. ``ingest.poll`` checks the actor's
    rights (refusals audited) and records the outcome on the mailbox, as ``balise poll``."""
    from balise.formatting import fr_count
    from ingest.poll import run_poll
    from ingest.worker import advance_after_poll

    report = run_poll(engine(), actor, addresses=[address], workers=1,
                      timeout=POLL_TIMEOUT_S, secret_key=settings().secret_key)  # fmt: skip
    if not report.outcomes:
        return False, f"La boîte {address} n'est plus suivie."
    outcome = report.outcomes[0]
    if not outcome.ok:
        return False, outcome.message or f"Échec de la relève de {address}."
    advance_after_poll(engine(), report, [department])
    counted = fr_count(outcome.messages, "nouveau message compté", "nouveaux messages comptés")
    return True, f"Boîte {address} relevée : {counted}."


def local_login(login: str, password: str) -> Actor:
    from balise.services import users

    return users.authenticate(engine(), login, password)


def oidc_login(claims: dict) -> Actor:
    from balise.services import users

    s = settings()
    names = users.ClaimNames(s.oidc_role_claim, s.oidc_departments_claim)
    return users.oidc_actor(engine(), claims, names)


def audit_csv(actor: Actor, flt) -> bytes:
    from balise.services import audit_log

    return audit_log.export_csv(engine(), actor, flt)


def onboarding_move(actor: Actor, finess: str, stage: str, reason: str | None) -> None:
    from balise.services import onboarding

    onboarding.move(engine(), actor, finess, stage, reason)


def onboarding_plan(actor: Actor, finess: str, follow_up) -> None:
    from balise.services import onboarding

    onboarding.plan_follow_up(engine(), actor, finess, follow_up)


def event_create(actor: Actor, event) -> int:
    from balise.services import events

    return events.create_event(engine(), actor, event)


def event_delete(actor: Actor, event_id: int) -> None:
    from balise.services import events

    events.delete_event(engine(), actor, event_id)


def attendance_import(actor: Actor, event_id: int, data: bytes, filename: str):
    from balise.services import events

    return events.import_attendance(engine(), actor, event_id, data, filename)


def attendance_review(actor: Actor, line_id: int, accept: bool, finess: str = "") -> None:
    from balise.services import events

    events.review(engine(), actor, line_id, accept, finess)


def user_add(actor: Actor, new) -> Actor:
    from balise.services import users

    return users.add_user(engine(), actor, new)


def user_set_role(actor: Actor, login: str, role: str, departments: list[str]) -> None:
    from balise.services import users

    users.set_role(engine(), actor, login, role, departments)


def user_disable(actor: Actor, login: str) -> None:
    from balise.services import users

    users.disable_user(engine(), actor, login)


def user_set_password(actor: Actor, login: str, password: str) -> None:
    from balise.services import users

    users.set_password(engine(), actor, login, password)
