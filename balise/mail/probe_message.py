"""The test message of a round trip: a seed use case as text, a unique ``X-Balise-Test-Id``,
the MSSanté ``X-MSS-*`` headers and, optionally, an ``IHE_XDM.ZIP`` holding a dummy document.

Nothing here is health data: the templates (``data/use_cases.csv``) name a use case, never a
patient, and the dummy document says it is one.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR
from balise.errors import NotFoundError

TEST_ID_HEADER = "X-Balise-Test-Id"
# X-MSS-NIL names the sending software (ANS client requirements).
SOFTWARE_NAME = "Balise"


@dataclass(frozen=True)
class UseCase:
    id: str
    title: str
    sender_category: str
    recipient_category: str
    template: str


@cache
def load_use_cases(path: Path = DEFAULT_DATA_DIR / "use_cases.csv") -> dict[str, UseCase]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {row["id"]: UseCase(**row) for row in csv.DictReader(fh)}


def use_case(case_id: str | None) -> UseCase:
    """The named use case, or the first one when none is named."""
    cases = load_use_cases()
    if not case_id:
        return next(iter(cases.values()))
    if case_id not in cases:
        known = ", ".join(cases)
        raise NotFoundError(f"Cas d'usage inconnu : {case_id} (cas connus : {known}).")
    return cases[case_id]


_INDEX = """<html><head><meta charset="utf-8"><title>Test Balise</title></head>
<body><p>Archive IHE XDM de test Balise : un document factice, sans donnée de patient.</p>
<p><a href="IHE_XDM/SUBSET01/DOC0001.TXT">DOC0001.TXT</a></p></body></html>
"""
_README = "Archive de test Balise (IHE XDM). Aucun contenu médical ni donnée de patient.\r\n"
_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
  <rim:RegistryObjectList>
    <rim:ExtrinsicObject id="DOC0001" mimeType="text/plain"
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
      <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.TXT</rim:Value></rim:ValueList></rim:Slot>
      <rim:Name><rim:LocalizedString value="Document factice de test Balise"/></rim:Name>
    </rim:ExtrinsicObject>
  </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""


def xdm_archive(test_id: str) -> bytes:
    """``IHE_XDM.ZIP``: INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/METADATA.XML and the document."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INDEX.HTM", _INDEX)
        archive.writestr("README.TXT", _README)
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", _METADATA)
        archive.writestr(
            "IHE_XDM/SUBSET01/DOC0001.TXT",
            f"Document factice du test Balise {test_id}. Aucune donnée de patient.\r\n",
        )
    return buffer.getvalue()


def build_message(
    sender: str,
    recipient: str,
    test_id: str,
    case: UseCase,
    with_xdm: bool = False,
    extra_headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The round-trip message, UTF-8 text; ``extra_headers`` lets a check add its own."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Test Balise – {case.title}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=test_id[:16], domain=sender.rpartition("@")[2])
    message[TEST_ID_HEADER] = test_id
    message["X-MSS-NIL"] = SOFTWARE_NAME
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(case.template + f"\n\nIdentifiant du test : {test_id}\n", charset="utf-8")
    if with_xdm:
        # A dummy plain-text document, so no CDA code applies; no INS travels.
        message["X-MSS-CODECDA"] = "NA"
        message["X-MSS-INS"] = "N"
        message.add_attachment(
            xdm_archive(test_id), maintype="application", subtype="zip", filename="IHE_XDM.ZIP"
        )
    return message
