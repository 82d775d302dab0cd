"""Round-trip test actions on provisioned BALs (one, or a whole department with bounded
concurrency), their recorded history, and the queries of the Tester page.

A test result moves the BAL's status: passed (INBOX) or junk (arrived, with a warning) ->
``test_passed``; timeout or a refused step -> ``test_failed``. An ``active`` BAL that passes
stays active. Every test is kept in ``bal_tests`` (timings, outcome, folder; never the message)
and audited.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib.metadata import entry_points

import pandas as pd
from sqlalchemy import Engine, func, insert, select, update

from balise.clock import utc_now
from balise.config import Settings
from balise.errors import BaliseError, ConfigurationError, PermissionDenied, ValidationError
from balise.mail.connection import MailAccount
from balise.mail.endpoints import submission_endpoint
from balise.mail.probe_message import use_case
from balise.mail.roundtrip import RoundTripResult, StepCallback, run_round_trip
from balise.models import BalTest, ProvisionedBal, WatchedMailbox
from balise.referentials.lifecycles import BalStatus, RoundTripOutcome
from balise.services import audit, keyring
from balise.services.access import Actor, check_can_act, readable_departments
from balise.services.provisioning import (
    STATUSES,
    ProvisionReport,
    authorise_bal,
    get_bal,
    retry_provision,
)
from balise.services.refusals import refusals_audited

log = logging.getLogger(__name__)

TESTABLE = (BalStatus.PROVISIONED, BalStatus.TEST_PASSED, BalStatus.TEST_FAILED, BalStatus.ACTIVE)


def _plugged_accounts(
    settings: Settings, bal: ProvisionedBal, token: str | None
) -> tuple[MailAccount, MailAccount] | None:
    """(submission, IMAP) accounts of ``bal`` from the first server plugged in through the
    ``balise.mail_servers`` entry points that holds it; None when none does.

    A package that runs a Dovecot the ``dovecot`` backend provisions on (the sandbox operator)
    plugs in a function ``(settings, bal, token) -> (smtp, imap) | None``: it knows where its
    server listens and hands the credentials a holder would get elsewhere (a client
    certificate, a Pro Santé Connect token). The core never imports such a package."""
    for plugged in entry_points(group="balise.mail_servers"):
        found = plugged.load()(settings, bal, token)
        if found is not None:
            return found
    return None


def _watched_accounts(bal: ProvisionedBal, settings: Settings, token: str | None, engine: Engine):
    """A BAL at a real operator: the servers registered with ``balise mailbox add`` (or the
    pages), as the operator publishes them: IMAP, submission (host, port, TLS mode; derived
    from IMAP when not given) and the login, which may differ from the address. Mail is always
    addressed to and from the BAL's address."""
    with engine.connect() as conn:
        row = conn.execute(
            select(WatchedMailbox).where(WatchedMailbox.address == bal.address)
        ).first()
    if row is None:
        raise ConfigurationError(
            f"Aucun serveur connu pour {bal.address} : enregistrez la boîte avec "
            "« balise mailbox add » (serveur, TLS, authentification) pour la tester."
        )
    key_path = (row.client_key_ref or "").removeprefix("file:") or None
    imap = MailAccount(row.imap_host, row.imap_port, row.username or bal.address, row.tls_mode,
                       row.auth_mode, row.secret_ref, row.ca_bundle, client_cert=row.client_cert,
                       client_key=key_path, secret_key=settings.secret_key,
                       address=bal.address)  # fmt: skip
    if token:
        imap = imap.with_token(token)
    host, port, tls_mode = submission_endpoint(
        row.imap_host, row.tls_mode, row.smtp_host, row.smtp_port, row.smtp_tls_mode
    )
    return replace(imap, host=host, port=port, tls_mode=tls_mode), imap


def accounts_for(
    engine: Engine, settings: Settings, bal: ProvisionedBal, token: str | None = None
) -> tuple[MailAccount, MailAccount]:
    """(SMTP submission account, IMAP account) of ``bal`` in its own TLS and auth mode: on the
    plugged-in server that holds it (a BAL provisioned on the sandbox operator), else on the
    servers registered for it."""
    if bal.backend == "dovecot" and (plugged := _plugged_accounts(settings, bal, token)):
        return plugged
    return _watched_accounts(bal, settings, token, engine)


def _require_store_key(engine: Engine, settings: Settings, *accounts: MailAccount) -> None:
    """A missing or wrong BALISE_SECRET_KEY is a configuration error, not the BAL's failure:
    refused before the round trip, so that nothing is recorded and the status stays."""
    if any(
        (a.secret_ref or "").startswith("enc:") and a.secret_key == settings.secret_key
        for a in accounts
    ):
        keyring.require_key(engine, settings.secret_key)


def _require_key_for(engine: Engine, settings: Settings, addresses: list[str]) -> None:
    """A department run stops before any test when the key the BALs' sealed secrets need is
    missing or another: one configuration error, not every BAL recorded as failed."""
    sealed = 0
    with engine.connect() as conn:
        for model in (ProvisionedBal, WatchedMailbox):
            sealed += conn.scalar(
                select(func.count())
                .select_from(model)
                .where(model.address.in_(addresses), model.secret_ref.like("enc:%"))
            )
    if sealed:
        keyring.require_key(engine, settings.secret_key)


def _new_status(current: str, outcome: str) -> BalStatus:
    if RoundTripOutcome(outcome).arrived:
        return BalStatus.ACTIVE if current == BalStatus.ACTIVE else BalStatus.TEST_PASSED
    return BalStatus.TEST_FAILED


def _record(engine: Engine, actor: Actor, bal: ProvisionedBal, result: RoundTripResult) -> None:
    status = _new_status(bal.status, result.outcome)
    with engine.begin() as conn:
        conn.execute(
            insert(BalTest).values(
                test_id=result.test_id, sender=result.sender, recipient=result.recipient,
                use_case=result.use_case, started_at=result.started_at, outcome=result.outcome,
                failed_step=result.failed_step, message=result.message,
                connect_s=result.steps.get("connect"), auth_s=result.steps.get("auth"),
                submit_s=result.steps.get("submit"), visible_s=result.steps.get("visible"),
                folder=result.folder, seen_by=result.seen_by,
            )
        )  # fmt: skip
        conn.execute(
            update(ProvisionedBal)
            .where(ProvisionedBal.id == bal.id)
            .values(status=status, updated_at=utc_now())
        )
        detail = {"résultat": result.outcome, "étape": result.failed_step, "test": result.test_id}
        outcome = "ok" if RoundTripOutcome(result.outcome).arrived else "failed"
        audit.record(conn, actor, "bal.test", bal.address, outcome, bal.department, detail)


def run_bal_test(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    address: str,
    recipient: str | None = None,
    case_id: str | None = None,
    with_xdm: bool = False,
    token: str | None = None,
    timeout: float = 30.0,
    on_step: StepCallback | None = None,
    extra_headers: dict[str, str] | None = None,
) -> RoundTripResult:
    """Run one round trip from the BAL at ``address`` to itself, or to ``recipient`` (another
    provisioned BAL, whose mailbox is then watched); record it and move the sender's status.
    A timeout or a refused step is a recorded outcome, not an error."""
    bal = get_bal(engine, address)
    authorise_bal(engine, actor, bal, "bal.test")
    target = None
    if recipient and recipient.strip().lower() != bal.address:
        # Arrival is checked by signing in to the recipient's own mailbox: the actor must be
        # allowed to act on it too, not only on the sender.
        target = get_bal(engine, recipient)
        authorise_bal(engine, actor, target, "bal.test")
    if bal.status not in TESTABLE:
        state = STATUSES[bal.status].lower()
        raise ValidationError(f"Le champ « statut » ne permet pas de tester : la BAL est {state}.")
    case = use_case(case_id)
    smtp, imap = accounts_for(engine, settings, bal, token)
    if target is not None:
        imap = accounts_for(engine, settings, target)[1]
    _require_store_key(engine, settings, smtp, imap)
    result = run_round_trip(smtp, imap, imap.email, case, timeout, with_xdm, extra_headers,
                            on_step)  # fmt: skip
    _record(engine, actor, bal, result)
    return result


def run_department_tests(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    department: str,
    concurrency: int = 4,
    timeout: float = 30.0,
) -> list[RoundTripResult]:
    """Test every testable BAL of ``department``, at most ``concurrency`` at a time. Every BAL
    gets a result: one that cannot be tested (refused, no server known...) is a failed result,
    recorded like the others; one BAL never hides the next."""
    with refusals_audited(engine, actor, "bal.test", None, department):
        check_can_act(actor, department, "bal.test")
    with engine.connect() as conn:
        addresses = list(
            conn.scalars(
                select(ProvisionedBal.address)
                .where(ProvisionedBal.department == department)
                .where(ProvisionedBal.status.in_(TESTABLE))
                .order_by(ProvisionedBal.address)
            )
        )
    if not addresses:
        return []
    _require_key_for(engine, settings, addresses)

    def one(address: str) -> RoundTripResult:
        try:
            return run_bal_test(engine, actor, settings, address, timeout=timeout)
        except BaliseError as exc:
            return _untestable(engine, actor, address, exc)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(addresses)))) as pool:
        return list(pool.map(one, addresses))


def _untestable(engine: Engine, actor: Actor, address: str, exc: BaliseError) -> RoundTripResult:
    """The failed result of a BAL whose test could not start. A refusal is already audited and
    is no test; any other cause is recorded as a test that failed at the connection step."""
    result = RoundTripResult(uuid.uuid4().hex, address, address, "", utc_now(),
                             RoundTripOutcome.FAILED, "connect", str(exc))  # fmt: skip
    if not isinstance(exc, PermissionDenied):
        _record(engine, actor, get_bal(engine, address), result)
    return result


def retry(
    engine: Engine, actor: Actor, settings: Settings, address: str
) -> ProvisionReport | RoundTripResult:
    """Retry the step that failed: a provisioning still *requested*, or a failed test."""
    bal = get_bal(engine, address)
    authorise_bal(engine, actor, bal, "bal.retry")  # before its status tells anything
    if bal.status == BalStatus.REQUESTED:
        return retry_provision(engine, actor, settings, address)
    if bal.status == BalStatus.TEST_FAILED:
        return run_bal_test(engine, actor, settings, address)
    state = STATUSES[bal.status]
    raise ValidationError(
        f"Le champ « statut » ne demande pas de relance : la BAL est au statut « {state} »."
    )


# ----- queries ------------------------------------------------------------------------------


def _scoped(query, actor: Actor, departments: list[str] | None):
    allowed = readable_departments(actor, departments)
    query = query.join(ProvisionedBal, ProvisionedBal.address == BalTest.sender)
    return query if allowed is None else query.where(ProvisionedBal.department.in_(allowed))


def history(
    engine: Engine,
    actor: Actor,
    departments: list[str] | None = None,
    addresses: list[str] | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """The latest tests (newest first): timings per step, outcome, folder, how it was seen."""
    query = _scoped(
        select(
            BalTest.started_at.label("debut"),
            BalTest.sender.label("adresse"),
            ProvisionedBal.department.label("departement"),
            BalTest.outcome.label("resultat"),
            BalTest.failed_step.label("etape_en_echec"),
            BalTest.connect_s.label("connexion_s"),
            BalTest.auth_s.label("authentification_s"),
            BalTest.submit_s.label("envoi_s"),
            BalTest.visible_s.label("reception_s"),
            BalTest.folder.label("dossier"),
            BalTest.seen_by.label("vu_par"),
            BalTest.message,
        ),
        actor,
        departments,
    )
    if addresses:
        query = query.where(BalTest.sender.in_(addresses))
    query = query.order_by(BalTest.started_at.desc(), BalTest.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def outcome_counts(
    engine: Engine, actor: Actor, departments: list[str] | None = None
) -> pd.DataFrame:
    """Tests per day and outcome (SQL GROUP BY), for the history chart."""
    day = func.date(BalTest.started_at)
    query = _scoped(
        select(day.label("jour"), BalTest.outcome.label("resultat"), func.count().label("tests")),
        actor,
        departments,
    ).group_by(day, BalTest.outcome)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame(rows, columns=["jour", "resultat", "tests"])
    frame["jour"] = pd.to_datetime(frame["jour"])
    return frame.sort_values(["jour", "resultat"]).reset_index(drop=True)
