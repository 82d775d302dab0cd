"""The coded values the models store, as enums with their French labels: the steps BALs and
structures go through, and the vocabularies of the rows that move them (which file a snapshot
came from, how a mailbox is linked to its structure, how a round-trip test ended). Plain values
(no database, no pandas): the models type their columns with them (``balise.models.schema.coded``), and
the services, the command line's choices and the pages compare and label with them. A ``StrEnum``
member equals its code, so stored strings compare as they are."""

from __future__ import annotations

from enum import StrEnum


class BalStatus(StrEnum):
    """Where a provisioned BAL is in its life (``provisioned_bals.status``)."""

    REQUESTED = "requested"
    PROVISIONED = "provisioned"
    TEST_PASSED = "test_passed"
    TEST_FAILED = "test_failed"
    ACTIVE = "active"
    DISABLED = "disabled"

    @property
    def label(self) -> str:
        return _BAL_LABELS[self]


_BAL_LABELS = {
    BalStatus.REQUESTED: "Demandée",
    BalStatus.PROVISIONED: "Créée",
    BalStatus.TEST_PASSED: "Test réussi",
    BalStatus.TEST_FAILED: "Test échoué",
    BalStatus.ACTIVE: "Active",
    BalStatus.DISABLED: "Désactivée",
}


class OnboardingStage(StrEnum):
    """Where a structure is in its onboarding (``onboarding.stage``), in order."""

    A_CONTACTER = "a_contacter"
    CONTACTE = "contacte"
    SENSIBILISE = "sensibilise"
    BAL_DEMANDEE = "bal_demandee"
    BAL_CREEE = "bal_creee"
    BAL_TESTEE = "bal_testee"
    USAGE_REGULIER = "usage_regulier"

    @property
    def label(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    OnboardingStage.A_CONTACTER: "À contacter",
    OnboardingStage.CONTACTE: "Contacté",
    OnboardingStage.SENSIBILISE: "Sensibilisé",
    OnboardingStage.BAL_DEMANDEE: "BAL demandée",
    OnboardingStage.BAL_CREEE: "BAL créée",
    OnboardingStage.BAL_TESTEE: "BAL testée",
    OnboardingStage.USAGE_REGULIER: "Usage régulier",
}


class DataSource(StrEnum):
    """The national file a snapshot was imported from (``snapshots.source``); also the name of
    its ``balise ingest`` command."""

    ANNUAIRE = "annuaire"
    FINESS = "finess"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


_SOURCE_LABELS = {DataSource.ANNUAIRE: "Annuaire MSSanté", DataSource.FINESS: "FINESS"}


class LinkKind(StrEnum):
    """Which FINESS number a directory line's structure id matched (``mailboxes.link_kind``): an
    establishment, or a legal entity (whose mailbox then equips each of its establishments)."""

    ET = "ET"
    EJ = "EJ"

    @property
    def label(self) -> str:
        return _LINK_LABELS[self]


_LINK_LABELS = {
    LinkKind.ET: "Établissement (FINESS ET)",
    LinkKind.EJ: "Entité juridique (FINESS EJ)",
}


class RoundTripOutcome(StrEnum):
    """How a round-trip test ended (``bal_tests.outcome``)."""

    PASSED = "passed"  # arrived in the inbox
    JUNK = "junk"  # arrived, in the junk folder
    TIMEOUT = "timeout"  # sent, not seen in time
    FAILED = "failed"  # a step failed (connection, sign-in, submission)

    @property
    def label(self) -> str:
        return _OUTCOME_LABELS[self]

    @property
    def arrived(self) -> bool:
        """The message reached the mailbox: the BAL works."""
        return self in (RoundTripOutcome.PASSED, RoundTripOutcome.JUNK)


_OUTCOME_LABELS = {
    RoundTripOutcome.PASSED: "Réussi",
    RoundTripOutcome.JUNK: "Réussi (indésirables)",
    RoundTripOutcome.TIMEOUT: "Délai dépassé",
    RoundTripOutcome.FAILED: "Échec",
}

# Code -> French label, in order: what selects and tables show.
BAL_STATUSES: dict[str, str] = {s.value: s.label for s in BalStatus}
ONBOARDING_STAGES: dict[str, str] = {s.value: s.label for s in OnboardingStage}
DATA_SOURCES: dict[str, str] = {s.value: s.label for s in DataSource}
LINK_KINDS: dict[str, str] = {k.value: k.label for k in LinkKind}
ROUND_TRIP_OUTCOMES: dict[str, str] = {o.value: o.label for o in RoundTripOutcome}
# The tables of the webinar pack, by the names the command line and the pages use, in sheet order.
PACK_TABLES = ("departements", "categories", "types", "evolution", "changements", "structures")
