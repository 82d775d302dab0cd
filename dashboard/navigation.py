"""The dashboard's pages, in menu order: adding a page is adding one line to ``PAGES``.

``path`` is relative to dashboard/app.py; ``section`` groups pages in the sidebar menu."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    section: str
    url_path: str


PAGES: list[PageSpec] = [
    PageSpec("pages/regional.py", "Vue régionale", ":material/map:", "Adoption", "regionale"),
    PageSpec(
        "pages/department.py", "Département", ":material/apartment:", "Adoption", "departement"
    ),
    PageSpec("pages/bal_types.py", "Types de BAL", ":material/mail:", "Adoption", "types-de-bal"),
    PageSpec("pages/structure.py", "Structure", ":material/home_work:", "Adoption", "structure"),
    PageSpec("pages/changes.py", "Évolutions", ":material/timeline:", "Adoption", "evolutions"),
    PageSpec("pages/activite.py", "Activité", ":material/monitoring:", "Adoption", "activite"),
    PageSpec("pages/exports.py", "Exports", ":material/download:", "Partager", "exports"),
    PageSpec(
        "pages/provisionner.py", "Provisionner", ":material/person_add:", "BAL", "provisionner"
    ),
    PageSpec("pages/tester.py", "Tester", ":material/fact_check:", "BAL", "tester"),
    PageSpec("pages/audit.py", "Journal d'audit", ":material/policy:", "Contrôle", "audit"),
    PageSpec("pages/comptes.py", "Comptes", ":material/group:", "Contrôle", "comptes"),
    PageSpec("pages/patient.py", "Écrire au patient", ":material/person:", "BAL", "patient"),
    PageSpec(
        "pages/accompagnement.py",
        "Accompagnement",
        ":material/route:",
        "Animation",
        "accompagnement",
    ),
    PageSpec("pages/evenements.py", "Événements", ":material/event:", "Animation", "evenements"),
]


def page_path(url_path: str) -> str:
    """The script path of a page, for ``st.switch_page`` (e.g. ``page_path("structure")``)."""
    return next(p.path for p in PAGES if p.url_path == url_path)
