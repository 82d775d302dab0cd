"""Rules a BAL request must follow before anyone provisions it (pure functions, no store).

Required fields depend on the BAL type (ANS TRE_R257 and the seed webinar); the address follows
the operator's convention (``prenom.nom@domaine``, ``service@domaine``) on an allowed domain.
Every problem is a French sentence naming the field. The "already exists" check needs the store:
it lives in ``balise.services.bal_requests`` and reuses :func:`address_taken_problem`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields

from stdnum import luhn

from balise.referentials.bal_types import BAL_TYPES, normalise_bal_type

# Field name -> French label used in every message and in the import template header.
FIELD_LABELS: dict[str, str] = {
    "bal_type": "type de BAL",
    "department": "département",
    "address": "adresse",
    "first_name": "prénom du titulaire",
    "last_name": "nom du titulaire",
    "holder_id": "RPPS ou ADELI du titulaire",
    "finess": "FINESS de la structure",
    "service": "service",
    "responsible": "professionnel responsable",
    "structure_head": "responsable de la structure",
    "software": "logiciel émetteur",
    "practice": "cabinet",
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "PER": ("first_name", "last_name", "holder_id"),
    "ORG": ("finess", "service", "responsible", "structure_head"),
    "APP": ("finess", "responsible", "software"),
    "CAB": ("practice",),
}

_LOCAL = re.compile(r"^[a-z0-9](?:[a-z0-9_-]|\.(?!\.))*(?<!\.)$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
_DEPARTMENT = re.compile(r"^(0[1-9]|[1-8]\d|9[0-5]|2A|2B|97[1-6])$")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_FINESS = re.compile(r"^(\d{9}|2[AB]\d{7})$")


@dataclass
class BalRequest:
    """What an animator asks for. Empty strings mean "not given"."""

    bal_type: str = ""
    department: str = ""
    address: str = ""
    first_name: str = ""
    last_name: str = ""
    holder_id: str = ""
    finess: str = ""
    service: str = ""
    responsible: str = ""
    structure_head: str = ""
    software: str = ""
    practice: str = ""

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> BalRequest:
        """Build from a form or a spreadsheet row; unknown keys are ignored, cells stripped."""
        names = {f.name for f in fields(cls)}
        clean = {k: _cell(v) for k, v in values.items() if k in names}
        return cls(**clean)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets turn 010001234 into 10001234.0
    return str(value).strip()


def fold(text: str) -> str:
    """Lower case ASCII for an address part: accents dropped, spaces and apostrophes -> '-'."""
    # NFKD splits accents off but has no decomposition for the French ligatures.
    text = text.translate(_LIGATURES)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    ascii_text = re.sub(r"[^a-z0-9]+", "-", ascii_text)
    return ascii_text.strip("-")


def suggest_address(request: BalRequest, domain: str) -> str:
    """The operator's convention: ``prenom.nom@domaine`` for a person, ``service@domaine`` for
    a service (and the software or practice name for APP and CAB). Empty when too little is
    known yet."""
    kind = normalise_bal_type(request.bal_type)
    if kind == "PER":
        parts = [fold(request.first_name), fold(request.last_name)]
        local = ".".join(parts) if all(parts) else ""
    else:
        source = {"ORG": request.service, "APP": request.software, "CAB": request.practice}
        local = fold(source.get(kind or "", ""))
    domain = domain.strip().lower()
    return f"{local}@{domain}" if local and domain else ""


def domain_allowed(domain: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``domain`` is in ``allowed`` (``*.example.fr`` covers its sub-domains).
    An empty list allows every domain ending in ``.mssante.fr``."""
    domain = domain.lower()
    if not allowed:
        return domain.endswith(".mssante.fr")
    for entry in (a.strip().lower() for a in allowed):
        if entry.startswith("*.") and domain.endswith(entry[1:]):
            return True
        if domain == entry:
            return True
    return False


def address_problems(address: str, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """Syntax and domain of an address."""
    address = address.strip().lower()
    if not address:
        return [("address", "Le champ « adresse » est obligatoire.")]
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.match(local) or not _DOMAIN.match(domain) or len(local) > 64:
        return [("address", f"Le champ « adresse » n'est pas une adresse valide : {address}.")]
    if not domain_allowed(domain, allowed):
        listed = ", ".join(allowed) if allowed else "un domaine en .mssante.fr"
        return [
            (
                "address",
                f"Le champ « adresse » utilise le domaine {domain}, qui n'est pas autorisé "
                f"(domaines autorisés : {listed}).",
            )
        ]
    return []


def _holder_id_problem(value: str) -> str | None:
    digits = value.replace(" ", "")
    if len(digits) == 11 and digits.isdigit():
        if luhn.is_valid(digits):
            return None
        return "Le champ « RPPS ou ADELI du titulaire » a une clé de contrôle RPPS fausse."
    if len(digits) == 9 and re.fullmatch(r"(\d{9}|2[AB]\d{7})", digits.upper()):
        return None
    return (
        "Le champ « RPPS ou ADELI du titulaire » doit contenir un RPPS (11 chiffres) "
        "ou un ADELI (9 caractères)."
    )


def _finess_problem(value: str) -> str | None:
    value = value.upper()
    if not _FINESS.match(value):
        return "Le champ « FINESS de la structure » doit contenir 9 caractères (ex. 010001246)."
    # Corsican numbers (2A/2B) carry a key computed on a variant we do not verify.
    if value.isdigit() and not luhn.is_valid(value):
        return "Le champ « FINESS de la structure » a une clé de contrôle fausse."
    return None


def field_problems(request: BalRequest) -> list[tuple[str, str]]:
    """Type, department and required fields (with their format when they have one)."""
    kind = normalise_bal_type(request.bal_type)
    problems: list[tuple[str, str]] = []
    if kind is None:
        codes = ", ".join(BAL_TYPES)
        return [("bal_type", f"Le champ « type de BAL » doit valoir {codes}.")]
    if not _DEPARTMENT.match(request.department.upper()):
        problems.append(
            ("department", "Le champ « département » doit être un code INSEE (ex. 01, 2A, 974).")
        )
    for name in REQUIRED[kind]:
        if not getattr(request, name):
            label = FIELD_LABELS[name]
            problems.append((name, f"Le champ « {label} » est obligatoire pour une BAL {kind}."))
    if request.holder_id and (message := _holder_id_problem(request.holder_id)):
        problems.append(("holder_id", message))
    if request.finess and (message := _finess_problem(request.finess)):
        problems.append(("finess", message))
    return problems


def validate(request: BalRequest, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every problem of ``request`` except "already exists" (which needs the store)."""
    request = normalised(request)
    return field_problems(request) + address_problems(request.address, allowed)


def normalised(request: BalRequest) -> BalRequest:
    """The request as it will be stored: canonical type, upper-case ids, lower-case address."""
    values = request.as_dict()
    values["bal_type"] = normalise_bal_type(request.bal_type) or request.bal_type
    # Spreadsheets drop leading zeros: 1 -> 01, 10001246 -> 010001246.
    department = request.department.upper()
    values["department"] = department.zfill(2) if department.isdigit() else department
    finess = request.finess.upper()
    values["finess"] = finess.zfill(9) if finess.isdigit() and len(finess) == 8 else finess
    values["holder_id"] = request.holder_id.replace(" ", "").upper()
    values["address"] = request.address.strip().lower()
    return BalRequest(**values)


def address_taken_problem(address: str, where: str) -> tuple[str, str]:
    """The refusal for an address already in the directory or already provisioned."""
    return ("address", f"Le champ « adresse » : {address} existe déjà {where}.")
