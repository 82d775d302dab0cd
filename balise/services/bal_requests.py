"""Checking BAL requests against the store before anything is provisioned: the FINESS must
exist in the BAL's department, the address must be free (directory, provisioned BALs, the same
file); and the domain proposed for a structure's next BAL. The rules a request obeys on its own
are ``balise.referentials.bal_rules``; provisioning is ``balise.services.provisioning``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from balise.config import Settings
from balise.errors import PermissionDenied
from balise.models import Establishment, Mailbox, ProvisionedBal
from balise.referentials.bal_rules import (
    BalRequest,
    address_taken_problem,
    domain_allowed,
    normalised,
    validate,
)
from balise.services.access import Actor, check_can_act


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


def structure_domain(addresses: list[str], allowed: tuple[str, ...]) -> str | None:
    """The allowed domain a structure's BALs already use, first in ``addresses``: the domain
    proposed for its next BAL (operators give one domain per structure)."""
    for address in addresses:
        domain = address.rpartition("@")[2].strip().lower()
        if domain and domain_allowed(domain, allowed):
            return domain
    return None
