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


# The local operator at the command line, before issue 6's accounts: every department.
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
        raise PermissionDenied(
            "Un chargé de programme consulte et exporte mais n'agit pas sur les BAL."
        )
    if department not in actor.departments:
        raise PermissionDenied(f"Vous n'avez pas accès au département {department}.")
