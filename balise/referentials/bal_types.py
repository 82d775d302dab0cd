"""MSSanté mailbox types (ANS code list TRE_R257)."""

BAL_TYPES: dict[str, str] = {
    "PER": "Personnelle",
    "ORG": "Organisationnelle",
    "APP": "Applicative",
    "CAB": "Cabinet",
}


def normalise_bal_type(value: str) -> str | None:
    """The canonical code for a directory ``Type de BAL`` cell, or None if unknown."""
    code = (value or "").strip().upper()
    if code in BAL_TYPES:
        return code
    for key, label in BAL_TYPES.items():
        if code == label.upper():
            return key
    return None
