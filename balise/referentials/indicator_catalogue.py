"""The programme's indicator catalogue: one TOML file per campaign year in ``data/indicateurs/``
(``2026.toml``...), written and edited by a programme manager, never by code.

Pure: text in, :class:`Catalogue` out. Every problem is a French sentence naming the file, the
line and the field (``CatalogueError``), so a bad threshold is a clear refusal, not a crash. The
meaning of each field is written at the top of the shipped file; in short, each indicator names
a *fact* Balise measures for every ESMS, the *level* whose value is compared with the
*threshold* (an ESMS, an organisme gestionnaire, a department) and the *period* it covers.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from balise.errors import BaliseError


class CatalogueError(BaliseError):
    """The catalogue file cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class Fact:
    label: str
    kind: str  # "oui/non" | "pourcentage" | "nombre"


FACTS: dict[str, Fact] = {
    "bal_org_app": Fact("BAL organisationnelle ou applicative publiée (ESMS ou EJ)", "oui/non"),
    "dematerialisation": Fact("part des BAL avec « Dématérialisation » = O", "pourcentage"),
    "bal_testee": Fact("BAL provisionnée et testée avec succès dans la période", "oui/non"),
    "messages": Fact("messages envoyés et reçus par mois sur les BAL suivies", "nombre"),
    "etape": Fact("étape d'accompagnement atteinte", "oui/non"),
}
LEVELS = {"esms": "ESMS", "organisme": "organisme gestionnaire", "departement": "département"}
PERIODS = {
    "mois": "le mois choisi",
    "trimestre": "les 3 mois finissant par le mois choisi",
    "campagne": "de janvier au mois choisi",
}
STATUSES = {"exemple": "exemple, seuils à fixer par l'ARS", "arrete": "seuils fixés par l'ARS"}
FIELDS = ("id", "libelle", "niveau", "fait", "seuil", "periode", "etape")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    level: str  # key of LEVELS
    fact: str  # key of FACTS
    threshold: float | None  # None: an oui/non fact at the ESMS level (met when « oui »)
    period: str  # key of PERIODS
    stage: str | None = None  # the onboarding stage, for fact "etape"
    line: int | None = None  # where the indicator starts in its file

    @property
    def kind(self) -> str:
        return FACTS[self.fact].kind

    @property
    def unit_value_is_share(self) -> bool:
        """Above the ESMS level an oui/non fact becomes the share of the unit's ESMS with it."""
        return self.kind == "pourcentage" or (self.kind == "oui/non" and self.level != "esms")


@dataclass(frozen=True)
class Catalogue:
    year: int
    status: str  # key of STATUSES
    note: str
    indicators: tuple[Indicator, ...]
    file_name: str

    @property
    def is_example(self) -> bool:
        return self.status == "exemple"


def catalogue_years(directory: Path) -> list[int]:
    """The campaign years that have a catalogue file (``AAAA.toml``) in ``directory``."""
    if not directory.is_dir():
        return []
    return sorted(int(p.stem) for p in directory.glob("*.toml") if re.fullmatch(r"\d{4}", p.stem))


def load_catalogue(directory: Path, year: int, stages: Collection[str]) -> Catalogue:
    """The catalogue of campaign ``year``; CatalogueError when missing or invalid."""
    path = directory / f"{year}.toml"
    if not path.is_file():
        years = ", ".join(map(str, catalogue_years(directory))) or "aucun"
        raise CatalogueError(
            f"Aucun catalogue d'indicateurs pour la campagne {year} ({path}). "
            f"Catalogues disponibles : {years}."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"Le catalogue {path} est illisible : {exc}.") from exc
    catalogue = parse_catalogue(text, path.name, stages)
    if catalogue.year != year:
        raise CatalogueError(
            f"Catalogue {path.name} : la section [campagne] déclare l'année {catalogue.year}, "
            f"le nom du fichier {year}."
        )
    return catalogue


def parse_catalogue(text: str, file_name: str, stages: Collection[str]) -> Catalogue:
    """Read and check a catalogue's text (``file_name`` only names it in messages)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_AT.search(str(exc))
        at = f" (ligne {where.group(1)}, colonne {where.group(2)})" if where else ""
        raise CatalogueError(
            f"Catalogue {file_name} : ce n'est pas un fichier TOML valide{at}. Vérifiez les "
            "guillemets autour des textes, le signe = et les crochets [[indicateur]]."
        ) from None
    lines = _Lines(text, file_name)
    year, status, note = _campaign(doc, lines)
    raw = doc.get("indicateur", [])
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        raise CatalogueError(
            f"Catalogue {file_name} : aucun indicateur ; chacun commence par une ligne "
            "[[indicateur]]."
        )
    indicators = tuple(_indicator(r, i, lines, stages) for i, r in enumerate(raw))
    _check_unique(indicators, lines)
    return Catalogue(year, status, note, indicators, file_name)


class _Lines:
    """Where things are in the file's text, for messages (tomllib gives no positions)."""

    def __init__(self, text: str, file_name: str):
        self.lines = text.splitlines()
        self.file_name = file_name
        header = re.compile(r"^\s*\[\[\s*indicateur\s*\]\]")
        self.starts = [n for n, line in enumerate(self.lines, start=1) if header.match(line)]

    def of(self, index: int | None, key: str | None = None) -> int | None:
        """Line of indicator ``index`` (its ``key = ...`` line when found); None if unknown."""
        if index is None or index >= len(self.starts):
            return self._top_level(key)
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines) + 1
        if key:
            pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
            for n in range(start, end):
                if pattern.match(self.lines[n - 1]):
                    return n
        return start

    def _top_level(self, key: str | None) -> int | None:
        """The line of ``key = ...`` outside indicators, else of the [campagne] header."""
        patterns = [rf"^\s*{re.escape(key)}\s*="] if key else []
        for pattern in [*patterns, r"^\s*\[\s*campagne\s*\]"]:
            for n, line in enumerate(self.lines, start=1):
                if re.match(pattern, line):
                    return n
        return None

    def error(self, message: str, index: int | None = None, key: str | None = None) -> None:
        line = self.of(index, key)
        where = f", ligne {line}" if line else ""
        raise CatalogueError(f"Catalogue {self.file_name}{where} : {message}")


def _campaign(doc: dict, lines: _Lines) -> tuple[int, str, str]:
    campaign = doc.get("campagne")
    if not isinstance(campaign, dict):
        lines.error("la section [campagne] (annee, statut) manque.")
    year = campaign.get("annee")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        lines.error(f"le champ « annee » de [campagne] doit être une année (2026), pas {year!r}.",
                    key="annee")  # fmt: skip
    status = campaign.get("statut")
    if status not in STATUSES:
        said = "manque" if status is None else f"vaut « {status} »"
        lines.error(
            f"le champ « statut » de [campagne] {said} : valeurs possibles {_choices(STATUSES)}.",
            key="statut",
        )
    note = campaign.get("note", "")
    return year, status, note if isinstance(note, str) else ""


def _indicator(raw: dict, i: int, lines: _Lines, stages: Collection[str]) -> Indicator:
    def fail(message: str, key: str | None = None) -> None:
        name = raw.get("id") if isinstance(raw.get("id"), str) else f"n° {i + 1}"
        lines.error(f"indicateur « {name} » : {message}", i, key)

    unknown = [k for k in raw if k not in FIELDS]
    if unknown:
        fail(f"champ inconnu « {unknown[0]} » (champs possibles : {', '.join(FIELDS)}).",
             unknown[0])  # fmt: skip
    for key in ("id", "libelle", "niveau", "fait", "periode"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            fail(f"le champ « {key} » manque ou n'est pas un texte entre guillemets.", key)
    if not _ID.match(raw["id"]):
        fail("l'identifiant s'écrit en minuscules, chiffres et tirets (« bal-org-esms »).", "id")
    for key, allowed in (("niveau", LEVELS), ("fait", FACTS), ("periode", PERIODS)):
        if raw[key] not in allowed:
            fail(f"le champ « {key} » vaut « {raw[key]} » : valeurs possibles {_choices(allowed)}.",
                 key)  # fmt: skip
    stage = _stage(raw, stages, fail)
    threshold = _threshold(raw, fail)
    return Indicator(raw["id"], raw["libelle"].strip(), raw["niveau"], raw["fait"], threshold,
                     raw["periode"], stage, lines.of(i))  # fmt: skip


def _stage(raw: dict, stages: Collection[str], fail) -> str | None:
    if raw["fait"] != "etape":
        if "etape" in raw:
            fail('le champ « etape » ne sert qu\'avec fait = "etape".', "etape")
        return None
    if raw.get("etape") not in stages:
        fail(f"le champ « etape » vaut « {raw.get('etape', '')} » : étapes possibles "
             f"{', '.join(stages)}.", "etape")  # fmt: skip
    return raw["etape"]


def _threshold(raw: dict, fail) -> float | None:
    kind, value = FACTS[raw["fait"]].kind, raw.get("seuil")
    if kind == "oui/non" and raw["niveau"] == "esms":
        if value is not None:
            fail("au niveau « esms », un fait oui/non est atteint ou non : retirez le seuil "
                 "(ou choisissez le niveau organisme ou departement).", "seuil")  # fmt: skip
        return None
    if value is None:
        fail("le champ « seuil » manque.", "seuil")
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (point décimal : 12.5)" if isinstance(value, str) and "," in value else ""
        fail(f"le champ « seuil » doit être un nombre sans guillemets{hint}, pas « {value} ».",
             "seuil")  # fmt: skip
    if value < 0:
        fail(f"le champ « seuil » ne peut pas être négatif ({value}).", "seuil")
    if (kind == "pourcentage" or kind == "oui/non") and value > 100:
        fail(f"le champ « seuil » est un pourcentage : entre 0 et 100, pas {value}.", "seuil")
    return float(value)


def _check_unique(indicators: tuple[Indicator, ...], lines: _Lines) -> None:
    seen: dict[str, int | None] = {}
    for i, ind in enumerate(indicators):
        if ind.id in seen:
            lines.error(f"indicateur « {ind.id} » : l'identifiant « {ind.id} » est déjà "
                        f"utilisé (ligne {seen[ind.id]}).", i, "id")  # fmt: skip
        seen[ind.id] = ind.line


def _choices(allowed: Collection[str]) -> str:
    return ", ".join(f"« {a} »" for a in allowed)
