"""Who is acting, and what they may read or do. Every service read and action takes an
``Actor`` and calls these checks, so the CLI and the pages obey the same rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from balise.errors import PermissionDenied

ROLES = {"admin": "Administrateur", "manager": "Chargé de programme", "animator": "Animateur"}


@dataclass(frozen=True)
class Actor:
    login: str
    role: str  # admin | manager | animator
    # Departments an animator works on; empty for roles that see every department.
    departments: tuple[str, ...] = ()

    @property
    def sees_all(self) -> bool:
        return self.role in ("admin", "manager")


# The local operator: the command line without BALISE_USER, the worker, the demo; every department.
SYSTEM = Actor(login="système", role="admin")


def readable_departments(actor: Actor, wanted: Iterable[str] | None) -> tuple[str, ...] | None:
    """The departments ``actor`` may read among ``wanted`` (None = all departments)."""
    if actor.sees_all:
        return tuple(wanted) if wanted is not None else None
    allowed = set(actor.departments)
    if wanted is None:
        return tuple(sorted(allowed))
    refused = [d for d in wanted if d not in allowed]
    if refused:
        raise PermissionDenied(f"Vous n'avez pas accès au département {', '.join(refused)}.")
    return tuple(wanted)


def check_can_act(actor: Actor, department: str, action: str) -> None:
    """Raise unless ``actor`` may perform ``action`` (provision, test, import...) there."""
    if actor.role == "admin":
        return
    if actor.role == "manager":
        if action in ("export", "read"):
            return
        on_bals = " sur les BAL" if action.startswith("bal") else ""
        raise PermissionDenied(
            f"Un chargé de programme consulte et exporte mais n'agit pas{on_bals}."
        )
    if department not in actor.departments:
        raise PermissionDenied(f"Vous n'avez pas accès au département {department}.")


def actable_departments(
    actor: Actor, wanted: Iterable[str] | None, action: str
) -> tuple[str, ...] | None:
    """The departments where ``actor`` may perform ``action`` among ``wanted``; ``wanted`` None
    means every department the actor acts on (None back: all of them, for an administrator)."""
    if actor.role == "admin":
        return tuple(wanted) if wanted is not None else None
    if actor.role == "manager":
        check_can_act(actor, "", action)  # raises: a manager never acts
    if wanted is None:
        return tuple(actor.departments)
    for department in wanted:
        check_can_act(actor, department, action)
    return tuple(wanted)
