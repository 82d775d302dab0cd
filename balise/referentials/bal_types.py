"""MSSanté mailbox types (ANS code list TRE_R257): the one table of their codes, French labels,
count columns and chart colours. The services, the exports, the pages and the charts read them
from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BalType:
    code: str  # TRE_R257 code, as the directory and ``mailboxes.bal_type`` hold it
    label: str  # « Personnelle »: the type of one BAL
    plural: str  # « BAL personnelles »: a count of them (headings, metrics)
    column: str  # the count column of the adoption frames and ``adoption_stats``
    colour: str  # in every chart (Okabe-Ito, colour-blind safe)


TYPES: tuple[BalType, ...] = (
    BalType("PER", "Personnelle", "BAL personnelles", "mailboxes_per", "#0072B2"),
    BalType("ORG", "Organisationnelle", "BAL organisationnelles", "mailboxes_org", "#E69F00"),
    BalType("APP", "Applicative", "BAL applicatives", "mailboxes_app", "#009E73"),
    BalType("CAB", "Cabinet", "BAL de cabinet", "mailboxes_cab", "#CC79A7"),
)
BY_CODE: dict[str, BalType] = {t.code: t for t in TYPES}
# Code -> label, in table order (selects, validation lists, the BAL import sheet's help).
BAL_TYPES: dict[str, str] = {t.code: t.label for t in TYPES}
TYPE_COLUMNS: list[str] = [t.column for t in TYPES]


def normalise_bal_type(value: str) -> str | None:
    """The canonical code for a directory ``Type de BAL`` cell, or None if unknown."""
    code = (value or "").strip().upper()
    if code in BY_CODE:
        return code
    for t in TYPES:
        if code == t.label.upper():
            return t.code
    return None
