"""The one rule that finds a mailbox's Sent, Junk and Drafts folders on any IMAP server.

The special-use flag (RFC 6154: ``\\Sent``, ``\\Junk``, ``\\Drafts``) wins. Servers that do not
flag their folders (older Cyrus, Courier, many operator set-ups) are read by name: the last
component of the folder name, whatever the namespace prefix (``INBOX.``) and the hierarchy
separator ("." or "/"), compared without case or accents with the usual French and English names.
So ``INBOX.Junk``, ``Junk``, ``INBOX/Courrier indésirable`` and ``Éléments envoyés`` are all found.

    special_folder(client.list_folders(), "junk") -> "INBOX.Junk" | None
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

KINDS = ("sent", "junk", "drafts")
_FLAGS = {"sent": b"\\sent", "junk": b"\\junk", "drafts": b"\\drafts"}
# Compared after folding (lower case, no accents, spaces squeezed).
_NAMES = {
    "sent": {"sent", "sent items", "sent messages", "sent mail", "envoyes", "elements envoyes",
             "messages envoyes"},
    "junk": {"junk", "junk e-mail", "junk email", "junk mail", "spam", "indesirables",
             "courrier indesirable", "courriers indesirables", "pourriel", "pourriels"},
    "drafts": {"drafts", "draft", "brouillons", "brouillon"},
}  # fmt: skip

# One LIST answer line, as imapclient gives it: (flags, separator, name).
Listed = tuple[tuple[bytes, ...], bytes | None, str]


def fold(name: str) -> str:
    """Lower case, accents removed, inner spaces squeezed: "Éléments  envoyés" -> "elements envoyes"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


def leaf(name: str, separator: bytes | str | None) -> str:
    """The last component of ``name`` under its namespace prefix and separator."""
    sep = separator.decode() if isinstance(separator, bytes) else separator
    return name.rsplit(sep, 1)[-1] if sep else name


def special_folder(listed: Iterable[Listed], kind: str) -> str | None:
    """The folder of ``kind`` ("sent", "junk", "drafts"): flagged first, else by usual name."""
    if kind not in KINDS:
        raise ValueError(f"unknown special folder kind {kind!r}")
    listed = list(listed)
    for flags, _sep, name in listed:
        if any(f.lower() == _FLAGS[kind] for f in flags):
            return name
    for flags, sep, name in listed:
        if b"\\noselect" in {f.lower() for f in flags} or name.upper() == "INBOX":
            continue
        if fold(leaf(name, sep)) in _NAMES[kind]:
            return name
    return None
