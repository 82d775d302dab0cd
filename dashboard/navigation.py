"""The dashboard's pages, in menu order: adding a page is adding one line to ``PAGES``.

``path`` is relative to dashboard/app.py; ``section`` groups pages in the sidebar menu; ``roles``
lists the roles the page is shown to (None: everyone). Hiding is for the menu only: the page and
the services still refuse whoever may not use them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    section: str
    url_path: str
    roles: tuple[str, ...] | None = None


PAGES: list[PageSpec] = [
    PageSpec("views/regional.py", "Vue régionale", ":material/map:", "Adoption", "regionale"),
    PageSpec(
        "views/department.py", "Département", ":material/apartment:", "Adoption", "departement"
    ),
    PageSpec("views/bal_types.py", "Types de BAL", ":material/mail:", "Adoption", "types-de-bal"),
    PageSpec("views/structure.py", "Structure", ":material/home_work:", "Adoption", "structure"),
    PageSpec("views/changes.py", "Évolutions", ":material/timeline:", "Adoption", "evolutions"),
    PageSpec("views/activite.py", "Activité", ":material/monitoring:", "Adoption", "activite"),
    PageSpec("views/exports.py", "Exports", ":material/download:", "Partager", "exports"),
    PageSpec(
        "views/provisionner.py", "Provisionner", ":material/person_add:", "BAL", "provisionner"
    ),
    PageSpec("views/tester.py", "Tester", ":material/fact_check:", "BAL", "tester"),
    PageSpec("views/audit.py", "Journal d'audit", ":material/policy:", "Contrôle", "audit"),
    PageSpec(
        "views/comptes.py", "Comptes", ":material/group:", "Contrôle", "comptes", roles=("admin",)
    ),
    PageSpec("views/patient.py", "Écrire au patient", ":material/person:", "BAL", "patient"),
    PageSpec(
        "views/accompagnement.py",
        "Accompagnement",
        ":material/route:",
        "Animation",
        "accompagnement",
    ),
    PageSpec("views/evenements.py", "Événements", ":material/event:", "Animation", "evenements"),
    PageSpec("views/programme.py", "Programme", ":material/flag:", "Partager", "programme"),
]


def pages_for(role: str) -> list[PageSpec]:
    """The pages of the menu of someone with ``role``."""
    return [p for p in PAGES if p.roles is None or role in p.roles]


def page_path(url_path: str) -> str:
    """The script path of a page, for ``st.switch_page`` (e.g. ``page_path("structure")``)."""
    return next(p.path for p in PAGES if p.url_path == url_path)
