"""Provisioning actions and the queries of the Provisionner / Tester pages.

Every action checks the actor's permission (``access.check_can_act``) and writes one audit line
per BAL. Lifecycle of a BAL (``provisioned_bals.status``)::

    requested -> provisioned -> test_passed | test_failed -> active | disabled

A batch is all-or-nothing: rows are written in one transaction, and when the backend fails the
transaction is rolled back and what the backend already created is undone. Provisioning the
same BAL twice creates nothing twice (the second run reports ``created=False``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.orm import Session

from balise.config import Settings
from balise.errors import ConfigurationError, NotFoundError, PermissionDenied, ValidationError
from balise.mail.provision import Backend, backend_for
from balise.models import BalTest, Establishment, Mailbox, ProvisionedBal, WatchedMailbox
from balise.referentials.bal_rules import (
    BalRequest,
    address_taken_problem,
    domain_allowed,
    normalised,
    validate,
)
from balise.referentials.lifecycles import BAL_STATUSES, BalStatus
from balise.secrets import seal
from balise.services import audit, keyring
from balise.services.access import Actor, check_can_act, readable_departments
from balise.services.refusals import refusals_audited
from balise.services.structures import establishment_mailboxes

log = logging.getLogger(__name__)

STATUSES = BAL_STATUSES  # code -> French label
# Which BAL types sign in with a client certificate by default (ANS: applicative mailboxes).
DEFAULT_AUTH = {"APP": "external"}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ProvisionReport:
    """The outcome for one BAL. ``secret`` is the password handed once (dovecot backend)."""

    address: str
    status: str
    created: bool
    secret: str | None = field(default=None, repr=False)
    files: list[Path] = field(default_factory=list)


# ----- checks -------------------------------------------------------------------------------


def _known(conn: Connection, addresses: list[str]) -> tuple[set[str], dict[str, tuple]]:
    """Addresses in the current directory, and provisioned ones with (type, department)."""
    in_directory = set(
        conn.scalars(
            select(Mailbox.address).where(
                Mailbox.valid_to.is_(None), Mailbox.address.in_(addresses)
            )
        )
    )
    rows = conn.execute(
        select(ProvisionedBal.address, ProvisionedBal.bal_type, ProvisionedBal.department).where(
            ProvisionedBal.address.in_(addresses)
        )
    )
    return in_directory, {r.address: (r.bal_type, r.department) for r in rows}


@dataclass(frozen=True)
class FinessOwner:
    """Whose FINESS number it is: an establishment (ET), or a legal entity (EJ) known through
    its establishments (``departments``: theirs)."""

    finess: str
    name: str
    city: str
    departments: tuple[str, ...]
    legal_entity: bool = False


def _finess_owners(conn: Connection, numbers: list[str]) -> dict[str, FinessOwner]:
    """The owners of ``numbers`` in the imported FINESS (ET first, else EJ)."""
    e = Establishment
    owners: dict[str, FinessOwner] = {}
    by_ej: dict[str, list] = {}
    rows = conn.execute(
        select(e.finess_et, e.finess_ej, e.name, e.city, e.department)
        .where(e.finess_et.in_(numbers) | e.finess_ej.in_(numbers))
        .order_by(e.finess_et)
    ).all()
    for row in rows:
        if row.finess_et in numbers:
            owners[row.finess_et] = FinessOwner(row.finess_et, row.name, row.city or "",
                                                (row.department,))  # fmt: skip
        if row.finess_ej in numbers:
            by_ej.setdefault(row.finess_ej, []).append(row)
    for ej, members in by_ej.items():
        departments = tuple(sorted({m.department for m in members}))
        owners.setdefault(
            ej, FinessOwner(ej, members[0].name, members[0].city or "", departments, True)
        )
    return owners


def _finess_problem(request: BalRequest, owner: FinessOwner | None) -> tuple[str, str] | None:
    """A BAL's FINESS must exist and belong to the BAL's department."""
    label = "Le champ « FINESS de la structure »"
    if owner is None:
        return ("finess", f"{label} ne correspond à aucun établissement du FINESS importé : "
                          f"{request.finess} (importez-le avec « balise ingest finess »).")  # fmt: skip
    if request.department in owner.departments:
        return None
    where = ", ".join(owner.departments)
    kind = "une entité juridique" if owner.legal_entity else "un établissement"
    return ("finess", f"{label} désigne {kind} du département {where}, "
                      f"pas du département {request.department}.")  # fmt: skip


def plan(
    engine: Engine, settings: Settings, requests: list[BalRequest]
) -> list[tuple[BalRequest, list[tuple[str, str]], bool]]:
    """For each request: the normalised request, its problems, and whether it already exists
    identically (then provisioning it again is a no-op, not a problem)."""
    clean = [normalised(r) for r in requests]
    with engine.connect() as conn:
        in_directory, provisioned = _known(conn, [r.address for r in clean if r.address])
        owners = _finess_owners(conn, [r.finess for r in clean if r.finess])
    seen: set[str] = set()
    out = []
    for request in clean:
        problems = validate(request, settings.allowed_domains)
        checkable = request.finess and not any(field == "finess" for field, _ in problems)
        if checkable and (problem := _finess_problem(request, owners.get(request.finess))):
            problems.append(problem)
        same = provisioned.get(request.address) == (request.bal_type, request.department)
        if request.address in in_directory:
            problems.append(address_taken_problem(request.address, "dans l'annuaire MSSanté"))
        elif request.address in provisioned and not same:
            problems.append(address_taken_problem(request.address, "parmi les BAL provisionnées"))
        elif request.address and request.address in seen:
            problems.append(address_taken_problem(request.address, "plus haut dans ce fichier"))
        seen.add(request.address)
        out.append((request, problems, same and not problems))
    return out


def check_request(
    engine: Engine, actor: Actor, settings: Settings, request: BalRequest
) -> list[tuple[str, str]]:
    """Every problem of one request, including "already provisioned" (for live validation).
    A department the actor may not act on is the only problem told: nothing of the store."""
    department = normalised(request).department
    if department:
        try:
            check_can_act(actor, department, "bal.provision")
        except PermissionDenied as exc:  # a preview: the action itself is refused and audited
            return [("department", str(exc))]
    request, problems, same = plan(engine, settings, [request])[0]
    if same:
        return [address_taken_problem(request.address, "parmi les BAL provisionnées")]
    return problems


# ----- provisioning -------------------------------------------------------------------------


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
    now = _now()
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


# ----- lifecycle ----------------------------------------------------------------------------


def get_bal(engine: Engine, address: str) -> ProvisionedBal:
    """The provisioned BAL at ``address`` (a detached object, every column loaded)."""
    with Session(engine) as session:
        bal = session.scalar(
            select(ProvisionedBal).where(ProvisionedBal.address == address.strip().lower())
        )
    if bal is None:
        raise NotFoundError(f"Aucune BAL provisionnée n'a l'adresse {address}.")
    return bal


_TRANSITIONS = {
    "bal.confirm": ({BalStatus.REQUESTED}, BalStatus.PROVISIONED),
    "bal.disable": (set(BalStatus) - {BalStatus.DISABLED}, BalStatus.DISABLED),
    "bal.activate": ({BalStatus.TEST_PASSED, BalStatus.PROVISIONED}, BalStatus.ACTIVE),
}


def _transition(engine: Engine, actor: Actor, address: str, action: str) -> str:
    bal = get_bal(engine, address)
    authorise_bal(engine, actor, bal, action)
    allowed, target = _TRANSITIONS[action]
    if bal.status == target:
        return target  # idempotent: confirming twice is not an error
    if bal.status not in allowed:
        current = STATUSES[bal.status].lower()
        raise ValidationError(f"Le champ « statut » ne le permet pas : la BAL est {current}.")
    with engine.begin() as conn:
        conn.execute(
            update(ProvisionedBal)
            .where(ProvisionedBal.id == bal.id)
            .values(status=target, updated_at=_now())
        )
        audit.record(conn, actor, action, bal.address, "ok", bal.department,
                     {"avant": bal.status, "après": target})  # fmt: skip
    return target


def confirm(engine: Engine, actor: Actor, address: str) -> str:
    """The operator created a requested BAL: requested -> provisioned."""
    return _transition(engine, actor, address, "bal.confirm")


def disable(engine: Engine, actor: Actor, address: str) -> str:
    return _transition(engine, actor, address, "bal.disable")


def activate(engine: Engine, actor: Actor, address: str) -> str:
    """First real traffic seen: test_passed -> active."""
    return _transition(engine, actor, address, "bal.activate")


def activate_from_traffic(engine: Engine, actor: Actor) -> list[str]:
    """BALs whose test passed and whose polled activity shows real traffic become *active*
    (``watched_mailboxes.last_activity_at``, filled by ``balise poll``). Returns them."""
    query = (
        select(ProvisionedBal.address)
        .join(WatchedMailbox, WatchedMailbox.address == ProvisionedBal.address)
        .where(ProvisionedBal.status == BalStatus.TEST_PASSED)
        .where(WatchedMailbox.last_activity_at.is_not(None))
    )
    allowed = readable_departments(actor, None)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    with engine.connect() as conn:
        addresses = list(conn.scalars(query))
    return [a for a in addresses if activate(engine, actor, a) == BalStatus.ACTIVE]


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
    values: dict = {"status": outcomes[0].status, "updated_at": _now()}
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


# ----- queries ------------------------------------------------------------------------------


def bals_frame(
    engine: Engine, actor: Actor, departments: list[str] | None = None, status: str | None = None
) -> pd.DataFrame:
    """Provisioned BALs the actor may read (no secret column)."""
    allowed = readable_departments(actor, departments)
    query = select(
        ProvisionedBal.address.label("adresse"),
        ProvisionedBal.bal_type.label("type"),
        ProvisionedBal.department.label("departement"),
        ProvisionedBal.finess,
        ProvisionedBal.status.label("statut"),
        ProvisionedBal.backend.label("moteur"),
        ProvisionedBal.auth_mode.label("authentification"),
        ProvisionedBal.updated_at.label("mis_a_jour"),
    ).order_by(ProvisionedBal.department, ProvisionedBal.address)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    if status:
        query = query.where(ProvisionedBal.status == status)
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys())
        )


def status_counts(
    engine: Engine, actor: Actor, departments: list[str] | None = None
) -> pd.DataFrame:
    """BALs per department and status (SQL GROUP BY)."""
    allowed = readable_departments(actor, departments)
    query = select(
        ProvisionedBal.department.label("departement"),
        ProvisionedBal.status.label("statut"),
        func.count().label("bal"),
    ).group_by(ProvisionedBal.department, ProvisionedBal.status)
    if allowed is not None:
        query = query.where(ProvisionedBal.department.in_(allowed))
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys())
        )
    return frame.sort_values(["departement", "statut"]).reset_index(drop=True)


STRUCTURE_BAL_COLUMNS = ["adresse", "type", "annuaire", "statut"]


def structure_bals(engine: Engine, actor: Actor, finess_et: str) -> pd.DataFrame:
    """One structure's BALs, one line per address: those the current directory links to it
    (``annuaire`` True) and those provisioned with its FINESS (``statut``: their status, None
    for a directory-only BAL). NotFoundError / PermissionDenied as for its identity."""
    directory = establishment_mailboxes(engine, actor, finess_et)
    query = select(ProvisionedBal.address, ProvisionedBal.bal_type, ProvisionedBal.status).where(
        ProvisionedBal.finess == finess_et
    )
    with engine.connect() as conn:
        provisioned = conn.execute(query).all()
    lines = {r.address: [r.address, r.bal_type, True, None] for r in directory.itertuples()}
    for address, bal_type, status in provisioned:
        lines.setdefault(address, [address, bal_type, False, None])[3] = status
    out = pd.DataFrame(list(lines.values()), columns=STRUCTURE_BAL_COLUMNS)
    return out.sort_values(["type", "adresse"]).reset_index(drop=True)


def structure_domain(addresses: list[str], allowed: tuple[str, ...]) -> str | None:
    """The allowed domain a structure's BALs already use, first in ``addresses``: the domain
    proposed for its next BAL (operators give one domain per structure)."""
    for address in addresses:
        domain = address.rpartition("@")[2].strip().lower()
        if domain and domain_allowed(domain, allowed):
            return domain
    return None


def change_marker(engine: Engine) -> str:
    """Changes whenever a BAL or a test is added or moves (cache key for the pages)."""
    with engine.connect() as conn:
        bals = conn.execute(select(func.count(), func.max(ProvisionedBal.updated_at))).one()
        tests = conn.scalar(select(func.count()).select_from(BalTest))
    return f"{bals[0]}:{bals[1]}:{tests}"


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
