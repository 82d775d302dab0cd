"""Pure reader for mailbox activity: one IMAP FETCH response -> one message's metadata.

What is kept is only what counting needs: the day and time of arrival (INTERNALDATE), the size,
and the *domains* of the counterparts. The From/To/Cc header bytes are reduced to domains here,
at once, and dropped; subjects, bodies and full addresses never leave this function. Balise's own
test messages (header ``X-Balise-Test-Id``, ``balise.mail.probe_message``) are marked skipped:
they are never traffic, whether their round trip saw them or timed out.
"""

from __future__ import annotations

from datetime import date, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import NamedTuple
from zoneinfo import ZoneInfo

from balise.mail.probe_message import TEST_ID_HEADER

# Days are counted in French local time: that is the day the users talk about.
ACTIVITY_TZ = ZoneInfo("Europe/Paris")
_TEST_ID = TEST_ID_HEADER.lower().encode()
_HEADERS = (b"from", b"to", b"cc", _TEST_ID)


class MessageMeta(NamedTuple):
    """The metadata of one message that the poll counts."""

    uid: int
    at: datetime  # INTERNALDATE, naive UTC
    day: date  # INTERNALDATE's day in Europe/Paris
    size: int
    senders: tuple[str, ...]  # From domains, lower case, in header order
    recipients: tuple[str, ...]  # To then Cc domains
    skipped: bool  # \\Draft, \\Deleted or a Balise test: not a message that was exchanged
    balise_test: bool = False  # carries X-Balise-Test-Id (so ``skipped`` too)


def _fields(header_bytes: bytes) -> dict[bytes, list[str]]:
    """Header name -> raw values, for From/To/Cc only (folded lines joined)."""
    found: dict[bytes, list[str]] = {}
    name = b""
    for line in header_bytes.splitlines():
        if line[:1] in (b" ", b"\t") and name:
            found[name][-1] += " " + line.strip().decode("utf-8", "replace")
            continue
        key, sep, value = line.partition(b":")
        name = key.strip().lower() if sep else b""
        if name in _HEADERS:
            found.setdefault(name, []).append(value.strip().decode("utf-8", "replace"))
        else:
            name = b""
    return found


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError):
        return value


def domains(values: list[str]) -> tuple[str, ...]:
    """Distinct domains of the addresses in header ``values``, in order of appearance."""
    seen: dict[str, None] = {}
    for _name, address in getaddresses([_decoded(v) for v in values]):
        domain = address.rpartition("@")[2].strip().strip(">").lower()
        if "@" in address and domain:
            seen.setdefault(domain, None)
    return tuple(seen)


def to_meta(uid: int, fetched: dict[bytes, object]) -> MessageMeta:
    """Reduce one imapclient FETCH result to :class:`MessageMeta`."""
    at = fetched[b"INTERNALDATE"]
    if not isinstance(at, datetime):
        raise TypeError("INTERNALDATE missing from the FETCH response")
    if at.tzinfo is None:  # imapclient normalised it to local time
        at = at.astimezone()
    header = next((v for k, v in fetched.items() if k.startswith(b"BODY[HEADER")), b"") or b""
    fields = _fields(header)  # type: ignore[arg-type]
    flags = {f.lower() for f in fetched.get(b"FLAGS", ())}  # type: ignore[union-attr]
    return MessageMeta(
        uid=uid,
        at=at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None),
        day=at.astimezone(ACTIVITY_TZ).date(),
        size=int(fetched.get(b"RFC822.SIZE") or 0),  # type: ignore[call-overload]
        senders=domains(fields.get(b"from", [])),
        recipients=domains(fields.get(b"to", []) + fields.get(b"cc", [])),
        skipped=bool(flags & {b"\\draft", b"\\deleted"}) or _TEST_ID in fields,
        balise_test=_TEST_ID in fields,
    )
