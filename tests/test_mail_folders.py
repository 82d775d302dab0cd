"""The one folder rule (balise/mail/folders.py) on LIST answers as servers give them: flags
first, else the last component of the name under any prefix and separator, without case or
accents. The same rule is exercised on a real server in test_roundtrip and test_poll."""

from __future__ import annotations

import pytest

from balise.mail.folders import KINDS, fold, leaf, special_folder

NONE: tuple[bytes, ...] = (b"\\HasNoChildren",)


@pytest.mark.parametrize(
    ("listed", "kind", "expected"),
    [
        # Cyrus / Courier: everything under "INBOX." with "." as separator, no flags.
        ([((b"\\HasChildren",), b".", "INBOX"), (NONE, b".", "INBOX.Junk"),
          (NONE, b".", "INBOX.Sent")], "junk", "INBOX.Junk"),
        ([((b"\\HasChildren",), b".", "INBOX"), (NONE, b".", "INBOX.Sent")], "sent", "INBOX.Sent"),
        # French names, accents and case as users type them, "/" separator.
        ([(NONE, b"/", "INBOX"), (NONE, b"/", "Éléments envoyés")], "sent", "Éléments envoyés"),
        ([(NONE, b"/", "INBOX/Courrier indésirable")], "junk", "INBOX/Courrier indésirable"),
        ([(NONE, b".", "INBOX.INDÉSIRABLES")], "junk", "INBOX.INDÉSIRABLES"),
        ([(NONE, b"/", "Sent Items")], "sent", "Sent Items"),
        ([(NONE, b"/", "Spam")], "junk", "Spam"),
        ([(NONE, b".", "INBOX.Brouillons")], "drafts", "INBOX.Brouillons"),
        ([(NONE, b"/", "Drafts")], "drafts", "Drafts"),
        # The special-use flag wins over any name.
        ([(NONE, b"/", "Sent"), ((b"\\Sent",), b"/", "Envoi")], "sent", "Envoi"),
        ([(NONE, b"/", "Junk"), ((b"\\Junk", b"\\HasNoChildren"), b"/", "Pourriels")], "junk",
         "Pourriels"),
        # A parent that merely contains the name is not the folder; nor is a non-selectable one.
        ([(NONE, b".", "Sent.Archives")], "sent", None),
        ([((b"\\Noselect",), b"/", "Junk")], "junk", None),
        ([(NONE, None, "Junk")], "junk", "Junk"),  # a flat server (no separator)
        ([(NONE, b"/", "INBOX")], "sent", None),
    ],
)  # fmt: skip
def test_special_folder(listed, kind, expected):
    assert special_folder(listed, kind) == expected


def test_fold_and_leaf():
    assert fold("  Éléments   ENVOYÉS ") == "elements envoyes"
    assert leaf("INBOX.Sent", b".") == "Sent" and leaf("INBOX/a.b", "/") == "a.b"
    assert leaf("Junk", None) == "Junk"
    assert KINDS == ("sent", "junk", "drafts")
    with pytest.raises(ValueError):
        special_folder([], "trash")
