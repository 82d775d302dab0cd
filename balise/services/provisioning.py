"""Provisioning BALs: authorising a batch, creating its BALs through the configured backend,
running a failed provisioning again, and what the backend lacks to work.

Every action checks the actor's permission (``access.check_can_act``) and writes one audit line
per BAL. A batch is all-or-nothing: rows are written in one transaction, and when the backend
fails the transaction is rolled back and what the backend already created is undone.
Provisioning the same BAL twice creates nothing twice (the second run reports
``created=False``). Requests are checked by ``balise.services.bal_requests``; a BAL's later
statuses move in ``balise.services.bal_lifecycle``; the pages' reads are
``balise.services.provisioned_bals``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from balise.clock import utc_now
from balise.config import Settings
from balise.errors import ConfigurationError, NotFoundError, ValidationError
from balise.mail.provision import Backend, backend_for
from balise.models import ProvisionedBal
from balise.referentials.bal_rules import BalRequest, normalised
from balise.referentials.lifecycles import BAL_STATUSES, BalStatus
from balise.secrets import seal
from balise.services import audit, keyring
from balise.services.access import Actor, check_can_act
from balise.services.bal_requests import plan
from balise.services.refusals import refusals_audited

STATUSES = BAL_STATUSES  # code -> French label
# Which BAL types sign in with a client certificate by default (ANS: applicative mailboxes).
DEFAULT_AUTH = {"APP": "external"}


@dataclass
class ProvisionReport:
    """The outcome for one BAL. ``secret`` is the password handed once (dovecot backend)."""

    address: str
    status: str
    created: bool
    secret: str | None = field(default=None, repr=False)
    files: list[Path] = field(default_factory=list)


def authorise(
    engine: Engine, actor: Actor, requests: list[BalRequest], action: str = "bal.provision"
) -> None:
    """Refuse (audited) unless ``actor`` may act in the department of every request. Run it
    before any other check: what the store holds elsewhere is none of the actor's business."""
    for request in (normalised(r) for r in requests):
        if request.department:  # no department: a validation problem, reported as such
            with refusals_audited(engine, actor, action, request.address, request.department):
                check_can_act(actor, request.department, action)


def authorise_bal(engine: Engine, actor: Actor, bal: ProvisionedBal, action: str) -> None:
    with refusals_audited(engine, actor, action, bal.address, bal.department):
        check_can_act(actor, bal.department, action)


def _row(request: BalRequest, backend: str, now: datetime) -> dict:
    holder = f"{request.first_name} {request.last_name}".strip()
    return {
        "address": request.address,
        "bal_type": request.bal_type,
        "department": request.department,
        "finess": request.finess or None,
        "service": request.service or None,
        "holder_name": holder or None,
        "holder_id": request.holder_id or None,
        "responsible": request.responsible or None,
        "structure_head": request.structure_head or None,
        "software": request.software or None,
        "practice": request.practice or None,
        "auth_mode": DEFAULT_AUTH.get(request.bal_type, "password"),
        "backend": backend,
        "status": BalStatus.REQUESTED,
        "created_at": now,
        "updated_at": now,
    }


def provision_many(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    requests: list[BalRequest],
    backend: Backend | None = None,
) -> list[ProvisionReport]:
    """Provision every request or none. Raises ValidationError listing every problem."""
    authorise(engine, actor, requests)
    planned = plan(engine, settings, requests)
    problems = [(i, p) for i, (_, ps, _) in enumerate(planned) for p in ps]
    if problems:
        raise ValidationError(problems[0][1][1], [p for _, p in problems])
    backend = backend or backend_for(settings)
    fresh = [r for r, _, same in planned if not same]
    if backend.name == "dovecot" and fresh:
        # Fail before creating anything without the store's key (missing, invalid or another).
        keyring.require_key(engine, settings.secret_key)
    reports = {r.address: ProvisionReport(r.address, "", False) for r, _, _ in planned}
    if fresh:
        _apply(engine, actor, settings, backend, fresh, reports)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(ProvisionedBal.address, ProvisionedBal.status).where(
                    ProvisionedBal.address.in_(list(reports))
                )
            ).all()
        )
    for report in reports.values():
        report.status = statuses[report.address]
    return list(reports.values())


def _apply(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    backend: Backend,
    fresh: list[BalRequest],
    reports: dict[str, ProvisionReport],
) -> None:
    """Rows, backend and audit in one transaction; on any failure the backend rolls back."""
    now = utc_now()
    try:
        with engine.begin() as conn:
            conn.execute(insert(ProvisionedBal), [_row(r, backend.name, now) for r in fresh])
            done, files = backend.provision(fresh)
            for outcome in done:
                values: dict = {"status": outcome.status, "updated_at": now}
                if outcome.secret:
                    values["secret_ref"] = seal(outcome.secret, settings.secret_key)
                conn.execute(
                    update(ProvisionedBal)
                    .where(ProvisionedBal.address == outcome.address)
                    .values(**values)
                )
            for request in fresh:
                detail = {"type": request.bal_type, "moteur": backend.name}
                audit.record(conn, actor, "bal.provision", request.address, "ok",
                             request.department, detail)  # fmt: skip
    except BaseException as exc:
        backend.rollback()
        with engine.begin() as conn:
            for request in fresh:
                audit.record(conn, actor, "bal.provision", request.address, "failed",
                             request.department, {"erreur": type(exc).__name__})  # fmt: skip
        raise
    for outcome in done:
        report = reports[outcome.address]
        report.created, report.secret, report.files = True, outcome.secret, files


def provision(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    request: BalRequest,
    backend: Backend | None = None,
) -> ProvisionReport:
    """Provision one BAL (see :func:`provision_many`)."""
    return provision_many(engine, actor, settings, [request], backend)[0]


def get_bal(engine: Engine, address: str) -> ProvisionedBal:
    """The provisioned BAL at ``address`` (a detached object, every column loaded)."""
    with Session(engine) as session:
        bal = session.scalar(
            select(ProvisionedBal).where(ProvisionedBal.address == address.strip().lower())
        )
    if bal is None:
        raise NotFoundError(f"Aucune BAL provisionnée n'a l'adresse {address}.")
    return bal


def retry_provision(
    engine: Engine, actor: Actor, settings: Settings, address: str, backend: Backend | None = None
) -> ProvisionReport:
    """Run a failed provisioning again. A BAL still *requested* by the ``request`` backend
    is re-sent to the operator as a new request file."""
    bal = get_bal(engine, address)
    authorise_bal(engine, actor, bal, "bal.retry")
    if bal.status != BalStatus.REQUESTED:
        raise ValidationError("Le champ « statut » ne le permet pas : la BAL est déjà créée.")
    backend = backend or backend_for(settings, bal.backend)
    request = _request_of(bal)
    if backend.name == "dovecot":
        keyring.require_key(engine, settings.secret_key)
    outcomes, files = backend.provision([request])
    values: dict = {"status": outcomes[0].status, "updated_at": utc_now()}
    if outcomes[0].secret:
        values["secret_ref"] = seal(outcomes[0].secret, settings.secret_key)
    with engine.begin() as conn:
        conn.execute(update(ProvisionedBal).where(ProvisionedBal.id == bal.id).values(**values))
        audit.record(conn, actor, "bal.retry", bal.address, "ok", bal.department,
                     {"moteur": backend.name})  # fmt: skip
    return ProvisionReport(bal.address, values["status"], True, outcomes[0].secret, files)


def _request_of(bal: ProvisionedBal) -> BalRequest:
    first, _, last = (bal.holder_name or "").partition(" ")
    return BalRequest(
        bal.bal_type, bal.department, bal.address, first, last, bal.holder_id or "",
        bal.finess or "", bal.service or "", bal.responsible or "", bal.structure_head or "",
        bal.software or "", bal.practice or "",
    )  # fmt: skip


def operator_problem(settings: Settings) -> str | None:
    """What the configured backend lacks, as a French sentence; None when it can work."""
    if settings.provision_backend == "request":
        return None
    if settings.provision_backend != "dovecot":
        return f"Moteur de provisionnement inconnu : {settings.provision_backend}."
    if not settings.secret_key:
        return (
            "BALISE_SECRET_KEY n'est pas définie : les mots de passe des BAL créées ne "
            "pourraient pas être gardés chiffrés."
        )
    try:
        backend_for(settings).check_server()
    except ConfigurationError as exc:
        return str(exc)
    return None
