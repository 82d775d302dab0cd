"""The deletion gate: a cut-off or partial file must not close a department's mailboxes (or
FINESS establishments) silently.

Rule: an import is refused when, in some department it covers, it would close more than
``max_drop_pct`` % (``BALISE_MAX_DROP``, 5 % by default) of the current mailboxes or
establishments **and** at least ``MIN_DROP`` of them. The absolute floor keeps a small department
(a few dozen mailboxes, where three departures already make 5 %) from firing on ordinary churn;
the monthly churn of a whole department stays near 1 %. ``--accept-drop`` lets a refused import
through once someone has checked it, and its audit line records the counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from balise.errors import DropRefused
from balise.formatting import THIN, fr_decimal, fr_int, fr_percent
from ingest.load.snapshots import Drop

MIN_DROP = 20
_WHAT = {"annuaire": ("BAL", "BAL"), "finess": ("établissement", "établissements")}


def over_threshold(drops: Iterable[Drop], max_drop_pct: float) -> list[Drop]:
    """The departments where the import closes too much (see the module's rule)."""
    return [
        d
        for d in drops
        if d.closing >= MIN_DROP and 100.0 * d.closing > max_drop_pct * max(d.current, 1)
    ]


def check(
    kind: str, file_name: str, drops: Iterable[Drop], max_drop_pct: float, accept: bool
) -> list[Drop]:
    """The drops over the threshold; raise :class:`DropRefused` for them unless ``accept``."""
    heavy = over_threshold(drops, max_drop_pct)
    if heavy and not accept:
        raise DropRefused(refusal(kind, heavy, max_drop_pct), kind, heavy, file_name)
    return heavy


def describe(kind: str, drops: Iterable[Drop]) -> str:
    """« 1 200 BAL sur 1 400 dans le 38 (85,7 %) et 40 sur 40 dans le 73 (100,0 %) »."""
    one, many = _WHAT[kind]
    parts = [
        f"{fr_int(d.closing)} {one if d.closing < 2 else many} sur {fr_int(d.current)} "
        f"dans le {d.department} ({fr_percent(d.closing / max(d.current, 1))})"
        for d in drops
    ]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} et {parts[-1]}"


def refusal(kind: str, drops: list[Drop], max_drop_pct: float) -> str:
    return (
        f"Import refusé : il fermerait {describe(kind, drops)}, au-delà du seuil de "
        f"{fr_decimal(max_drop_pct, None)}{THIN}% (BALISE_MAX_DROP, et {MIN_DROP} au moins). Fichier tronqué ou "
        "partiel ? Rien n'a été modifié ; si ces suppressions sont réelles, relancez avec "
        "--accept-drop."
    )
