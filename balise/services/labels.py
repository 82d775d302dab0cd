"""French labels for the query frames: what users read instead of raw column names and codes.
Shared by the dashboard tables and the xlsx/csv exports so both say the same thing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from balise.referentials.bal_types import BAL_TYPES, TYPES
from balise.referentials.categories import load_categories
from balise.referentials.categories_r397 import category_label_r397
from balise.referentials.departments import department_name
from balise.referentials.lifecycles import LINK_KINDS

if TYPE_CHECKING:
    import pandas as pd

COLUMNS: dict[str, str] = {
    "department": "Département",
    "department_label": "Département",
    "category_code": "Catégorie",
    "category_label": "Catégorie",
    "structures": "ESMS",
    "equipped": "ESMS équipés",
    "share": "Part équipée (%)",
    "mailboxes": "BAL (total)",
    **{t.column: t.plural for t in TYPES},
    "finess_et": "FINESS",
    "name": "Nom",
    "city": "Commune",
    "status": "Statut",
    "date": "Date des données",
    "snapshot_id": "Extraction n°",
    "created": "BAL créées",
    "removed": "BAL supprimées",
    "address": "Adresse",
    "bal_type": "Type de BAL",
    "service": "Service",
    "link_kind": "Rattachement",
    "first_seen": "Vue pour la première fois",
}

NO_CATEGORY_LABEL = "Non rattachée à un établissement"


def department_label(code: str) -> str:
    """« 38 – Isère »."""
    return f"{code} – {department_name(code)}"


def category_label(code: str) -> str:
    """« EHPAD » (a followed category's short name), else the label of the FINESS nomenclature
    TRE-R397 (« Résidences autonomie », a partner's « Centre Hospitalier (C.H.) »), else the code
    (one the nomenclature does not know: the import reported it)."""
    if not code:
        return NO_CATEGORY_LABEL
    cat = load_categories().get(code)
    if cat is not None:
        return cat.short
    return category_label_r397(code) or code


def bal_type_label(code: str) -> str:
    return BAL_TYPES.get(code, code)


def readable(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy with codes turned into labels and columns renamed in French (``columns`` picks
    and orders the technical columns to keep)."""
    out = df[columns].copy() if columns else df.copy()
    if "department" in out:
        out["department"] = out["department"].map(department_label)
    if "category_code" in out:
        out["category_code"] = out["category_code"].map(category_label)
    if "bal_type" in out:
        out["bal_type"] = out["bal_type"].map(bal_type_label)
    if "service" in out:
        out["service"] = out["service"].fillna("—")
    if "link_kind" in out:
        out["link_kind"] = out["link_kind"].map(lambda k: LINK_KINDS.get(k, "—"))
    if "equipped" in out and out["equipped"].dtype == bool:
        out["equipped"] = out["equipped"].map({True: "Équipé", False: "Non équipé"})
        out = out.rename(columns={"equipped": "status"})
    return out.rename(columns=COLUMNS)
