"""Checking a patient's INS (matricule NIR or NIA, 15 characters) and building the patient's
MSSanté address, as MonSisra's « Écrire au patient » screen does in the seed webinar.

The key check is python-stdnum's (``stdnum.fr.nir``, Corsica 2A/2B included); this module only
decodes what stdnum does not: sex, birth month and year, and a label for the place of birth.

Privacy: this is a pure, stateless tool. It stores nothing, logs nothing (no logger here on
purpose) and its error messages never repeat the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir

from balise.errors import ValidationError
from balise.referentials.departments import load_departments

PATIENT_DOMAIN = "patient.mssante.fr"

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip

# Sex digit: 1/2 for a NIR; 7/8 for a temporary number (NIA provisoire) given while the civil
# record is being checked.
_SEX = {"1": "M", "2": "F", "7": "M", "8": "F"}

# INSEE country codes (COG, "99" + 3 digits) of the most frequent countries of birth; any other
# code is still accepted and shown as « à l'étranger ».
COUNTRIES = {
    "109": "Allemagne",
    "127": "Italie",
    "131": "Belgique",
    "132": "Royaume-Uni",
    "134": "Espagne",
    "139": "Portugal",
    "140": "Suisse",
    "208": "Turquie",
    "350": "Maroc",
    "351": "Tunisie",
    "352": "Algérie",
    "401": "Canada",
    "404": "États-Unis",
}


@dataclass(frozen=True)
class Birthplace:
    kind: str  # "department" | "overseas" | "abroad"
    code: str  # department code (77, 2A, 971...) or INSEE country code (99xxx)
    label: str  # department or country name; "" when unknown


@dataclass(frozen=True)
class InsCheck:
    """What a valid INS tells: never stored, only shown."""

    ins: str
    sex: str  # "M" | "F"
    birth_year: int
    birth_month: int | None  # None when the civil record has no (or an incomplete) month
    place: Birthplace
    warnings: tuple[str, ...] = field(default=())

    @property
    def address(self) -> str:
        return f"{self.ins}@{PATIENT_DOMAIN}"

    def sentence(self) -> str:
        """« Une femme, née en mars 1985, née dans le département 77 (Seine-et-Marne) »."""
        woman = self.sex == "F"
        born = "née" if woman else "né"
        who = "Une femme" if woman else "Un homme"
        when = (
            f"{MONTHS[self.birth_month - 1]} {self.birth_year}"
            if self.birth_month
            else f"{self.birth_year} (mois inconnu)"
        )
        return f"{who}, {born} en {when}, {born} {_where(self.place)}"


def _where(place: Birthplace) -> str:
    named = f" ({place.label})" if place.label else ""
    if place.kind == "abroad":
        return f"à l'étranger{named}"
    if place.kind == "overseas" and place.code >= "975":
        return f"dans la collectivité d'outre-mer {place.code}{named}"
    return f"dans le département {place.code}{named}"


def _clean(number: str) -> str:
    """Spaces, dots and a pasted ``@patient.mssante.fr`` suffix are tolerated."""
    text = (number or "").strip()
    if text.lower().endswith("@" + PATIENT_DOMAIN):
        text = text[: -len(PATIENT_DOMAIN) - 1]
    return nir.compact(text)


def _validate(number: str) -> str:
    try:
        return nir.validate(number)
    except stdnum_errors.InvalidLength as exc:
        raise ValidationError(
            f"Un INS compte 15 caractères ; celui saisi en compte {len(number)}."
        ) from exc
    except stdnum_errors.InvalidFormat as exc:
        raise ValidationError(
            "Un INS ne contient que des chiffres (et 2A ou 2B pour un lieu de naissance en Corse)."
        ) from exc
    except stdnum_errors.InvalidChecksum as exc:
        raise ValidationError(
            "La clé de contrôle ne correspond pas : l'INS saisi contient une erreur de frappe."
        ) from exc


def _birth_year(yy: int, today: date) -> int:
    # The INS carries two digits: the latest year not in the future is the only reading that
    # does not require someone over a hundred years old.
    year = 2000 + yy
    return year if year <= today.year else year - 100


def _place(code5: str) -> tuple[Birthplace, list[str]]:
    names = {c: d.name for c, d in load_departments().items()}
    head = code5[:2]
    if head == "99":
        return Birthplace("abroad", code5, COUNTRIES.get(code5[2:], "")), []
    if head in ("97", "98"):
        dep = code5[:3]
        if dep not in names:
            return Birthplace("overseas", dep, ""), [f"Code d'outre-mer {dep} inconnu."]
        return Birthplace("overseas", dep, names[dep]), []
    if head == "20":
        # Before 1976 Corsica was one department, « 20 ».
        return Birthplace("department", head, "Corse"), []
    if head not in names:
        return Birthplace("department", head, ""), [f"Département de naissance {head} inconnu."]
    return Birthplace("department", head, names[head]), []


def check_ins(number: str, today: date | None = None) -> InsCheck:
    """Check a 15-character INS and decode it; raise ValidationError (French) when invalid."""
    ins = _validate(_clean(number))
    sex = _SEX.get(ins[0])
    if sex is None:
        raise ValidationError("Le premier chiffre d'un INS (le sexe) vaut 1, 2, 7 ou 8.")
    warnings: list[str] = []
    if ins[0] in "78":
        warnings.append("Numéro provisoire (NIA) : vérifiez l'identité avant d'écrire.")
    month = int(ins[3:5])
    if not 1 <= month <= 12:
        # Incomplete civil records get a conventional month (20, 30-42, 50-99): never guess.
        warnings.append("Mois de naissance inconnu à l'état civil.")
        month = None
    place, place_warnings = _place(ins[5:10])
    warnings.extend(place_warnings)
    return InsCheck(
        ins=ins,
        sex=sex,
        birth_year=_birth_year(int(ins[1:3]), today or date.today()),
        birth_month=month,
        place=place,
        warnings=tuple(warnings),
    )
