"""The seed's use cases as exchange flows: which categories of structures write to which
(``data/use_cases.csv``, the same file that gives the round-trip test messages their text).

``sender_category`` and ``recipient_category`` hold one or more FINESS category codes separated
by spaces (a hospital is a CH, CHR or former local hospital). A flow seen in mailbox activity
(sender category -> recipient category) is labelled with the use cases it belongs to, in either
direction: the answer of the SSIAD to the DAC is part of the DAC's request.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR

DEFAULT_FILE = DEFAULT_DATA_DIR / "use_cases.csv"


@dataclass(frozen=True)
class UseCaseFlow:
    id: str
    title: str
    senders: frozenset[str]
    recipients: frozenset[str]

    def covers(self, sender: str, recipient: str) -> bool:
        forward = sender in self.senders and recipient in self.recipients
        return forward or (recipient in self.senders and sender in self.recipients)


@cache
def use_case_flows(path: Path = DEFAULT_FILE) -> tuple[UseCaseFlow, ...]:
    with open(path, encoding="utf-8", newline="") as fh:
        return tuple(
            UseCaseFlow(
                row["id"],
                row["title"],
                frozenset(row["sender_category"].split()),
                frozenset(row["recipient_category"].split()),
            )
            for row in csv.DictReader(fh)
        )


def flow_use_cases(sender: str, recipient: str, path: Path = DEFAULT_FILE) -> list[str]:
    """Titles of the use cases an exchange between these two categories belongs to."""
    return [case.title for case in use_case_flows(path) if case.covers(sender, recipient)]
