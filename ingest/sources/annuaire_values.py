"""How one value of the directory extract is normalised. The line reader calls these per row; the
column reader (``annuaire_columns``) calls them for the values it does not handle in bulk, so both
paths give the same result by construction."""

from __future__ import annotations

# The only reasons a row is rejected: the writer counts rows per reason, so keep them fixed.
REASON_FIELDS = "nombre de colonnes incorrect"
REASON_TYPE = "type de BAL inconnu"
REASON_ADDRESS = "adresse BAL invalide"
REASON_DEPARTMENT = "département introuvable"
REASON_ENCODING = "ligne non UTF-8"
REASONS = (REASON_FIELDS, REASON_TYPE, REASON_ADDRESS, REASON_DEPARTMENT, REASON_ENCODING)

# Length of each national structure id without its type prefix ("1" + FINESS, "3" + SIRET...).
ID_LENGTHS = {"0": 9, "1": 9, "2": 9, "3": 14, "4": 11}


def normalise_structure_id(value: str) -> str | None:
    """Structure id without spaces, upper-cased, its leading type digit stripped when the length
    says it is one ("1" + 9-char FINESS, "3" + 14-digit SIRET...). Ids without a prefix have
    exactly the lengths in ``ID_LENGTHS``, so a one-longer id can only be a prefixed one."""
    sid = value.replace(" ", "").upper()
    if not sid:
        return None
    if len(sid) == ID_LENGTHS.get(sid[0], -2) + 1:
        return sid[1:]
    return sid


def normalise_dematerialisation(value: str) -> str | None:
    """Column « Dématérialisation »: "O" or "N" (any case, spaces around); anything else None
    (the line is kept: the column is informative, not a key)."""
    flag = value.strip().upper()
    return flag if flag in ("O", "N") else None


def is_valid_address(address: str) -> bool:
    """``local@domain`` with one ``@``, a dotted domain, no spaces nor control characters
    (address already stripped)."""
    local, _, domain = address.partition("@")
    return bool(
        local
        and "." in domain
        and "@" not in domain
        and " " not in address
        and domain[0] != "."
        and domain[-1] != "."
        and address.isprintable()
    )
