"""The groupings of the FiNESS+ flow: ``gcc`` (conventional groupings: GHT) and ``gco``
(cooperation groupings, themselves legal entities), with their members (legal entities by their
``pmSmsseId``, establishments by their ``egeId``). An array in the file, one object in the
schema; both spellings of the ids. Pure: decoded JSON in, tuples out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ingest.sources.finess_plus_gather import code_of as _code
from ingest.sources.finess_plus_gather import text_of as _text

# What a grouping and a member are, as tuples.
GROUP_FIELDS = ("group_id", "kind", "group_type", "name", "pm_id")
MEMBER_FIELDS = ("group_id", "pm_id", "ege_id", "role")


def code_of(value: Any) -> str:
    return _code(value).replace("\x00", "\ufffd")  # no store keeps NUL in text


def text_of(value: Any) -> str:
    return _text(value).replace("\x00", "\ufffd")


@dataclass
class Groupings:
    """The groupings read so far and their members; ``given``: the kinds the file carries (a
    kind it does not carry at all says nothing of the groupings of that kind: they are kept)."""

    groups: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    given: set[str] = field(default_factory=set)

    def add(self, kind: str, decoded: Any) -> None:
        """Member ``kind`` ("gcc" or "gco") of the root object, decoded."""
        self.given.add(kind)
        for group in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(group, dict):
                self._group(kind, group)

    def _group(self, kind: str, group: dict) -> None:
        own_pm = code_of(group.get("pmSmsseId")) or code_of(group.get("pm_smsseId"))
        key = code_of(group.get("gccId")) if kind == "gcc" else own_pm
        if not key:
            return
        group_id = f"{kind}:{key}"
        name = text_of(group.get("nomGcc")) or text_of(group.get("nomGco")) or None
        group_type = code_of(group.get("typeGcc")) or code_of(group.get("typeGCO")) or None
        self.groups.append((group_id, kind, group_type, name, own_pm or None))
        for member in _listed(group, "pmejDuGcc", "pmejDuGco"):
            pm = code_of(member.get("pmSmsseId")) or code_of(member.get("pm_smsseId"))
            if pm:
                role = code_of(member.get("typeRoleEntiteGroupe")) or None
                self.members.append((group_id, pm, None, role))
        for member in _listed(group, "egeDuGCC", "egeDuGcc", "egeDuGco"):
            if ege_id := code_of(member.get("egeId")):
                role = code_of(member.get("typeRoleEntiteGroupe")) or None
                self.members.append((group_id, None, ege_id, role))


def _listed(group: dict, *keys: str) -> Iterable[dict]:
    for key in keys:
        items = group.get(key)
        if isinstance(items, dict):
            items = [items]
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                yield item
