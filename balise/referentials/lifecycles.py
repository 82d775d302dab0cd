"""The steps BALs and structures go through, as enums with their French labels. Plain values (no
database, no pandas): the models' users, the services, the command line's choices and the pages
share them. A ``StrEnum`` member equals its code, so stored strings compare as they are."""

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

# Code -> French label, in order: what selects and tables show.
BAL_STATUSES: dict[str, str] = {s.value: s.label for s in BalStatus}
ONBOARDING_STAGES: dict[str, str] = {s.value: s.label for s in OnboardingStage}
# The tables of the webinar pack, by the names the command line and the pages use, in sheet order.
PACK_TABLES = ("departements", "categories", "types", "evolution", "changements", "structures")
