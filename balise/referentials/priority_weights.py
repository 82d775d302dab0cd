"""The weights of the outreach score and the « fort levier » rule (``data/priorites.toml``),
edited by a programme manager. Pure: text in, :class:`PriorityWeights` out; every problem is a
French sentence naming the file and the field (``CatalogueError``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR
from balise.referentials.indicator_catalogue import CatalogueError

DEFAULT_FILE = DEFAULT_DATA_DIR / "priorites.toml"
WEIGHTS = ("organisme_equipe", "bal_personnelles", "categorie_equipee", "evenement",
           "contact_recent", "etape")  # fmt: skip
SETTINGS = ("plafond_organisme", "plafond_bal_personnelles", "evenement_jours", "contact_jours")
LEVER = ("esms_min", "part_equipee_max")


@dataclass(frozen=True)
class PriorityWeights:
    weights: dict[str, float]  # by name in WEIGHTS
    siblings_cap: int
    personal_cap: int
    event_days: int
    contact_days: int
    lever_min_esms: int
    lever_max_share: float  # percent
    file_name: str = ""

    @property
    def maximum(self) -> float:
        """The highest score possible: every signal at 1."""
        return sum(self.weights.values())


def load_weights(path: Path = DEFAULT_FILE) -> PriorityWeights:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"Le fichier des poids {path} est illisible : {exc}.") from exc
    return parse_weights(text, path.name)


def parse_weights(text: str, file_name: str) -> PriorityWeights:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(
            f"{file_name} : ce n'est pas un fichier TOML valide ({exc})."
        ) from None
    weights = {k: _number(doc, "poids", k, file_name) for k in WEIGHTS}
    settings = {k: _number(doc, "reglages", k, file_name, whole=True) for k in SETTINGS}
    lever = {k: _number(doc, "levier", k, file_name, whole=k == "esms_min") for k in LEVER}
    if lever["part_equipee_max"] > 100:
        raise CatalogueError(
            f"{file_name} : [levier] part_equipee_max est un pourcentage (0 à 100), "
            f"pas {lever['part_equipee_max']}."
        )
    return PriorityWeights(
        weights, int(settings["plafond_organisme"]) or 1,
        int(settings["plafond_bal_personnelles"]) or 1, int(settings["evenement_jours"]),
        int(settings["contact_jours"]), int(lever["esms_min"]), float(lever["part_equipee_max"]),
        file_name,
    )  # fmt: skip


def _number(doc: dict, section: str, key: str, file_name: str, whole: bool = False) -> float:
    table = doc.get(section)
    if not isinstance(table, dict) or key not in table:
        raise CatalogueError(f"{file_name} : le champ « {key} » de la section [{section}] manque.")
    value = table[key]
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if not ok or (whole and not float(value).is_integer()):
        what = "un nombre entier positif ou nul" if whole else "un nombre positif ou nul"
        raise CatalogueError(
            f"{file_name} : [{section}] {key} doit être {what} sans guillemets, pas « {value} »."
        )
    return float(value)
