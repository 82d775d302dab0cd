"""The BALs the project provisioned or requested, and the round-trip tests run on them."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Double, Integer, String, Table, Text

from balise.models.schema import coded, metadata
from balise.referentials.lifecycles import BalStatus, RoundTripOutcome

# A BAL the project provisioned or requested. Lifecycle: requested -> provisioned ->
# test_passed | test_failed -> active | disabled.
provisioned_bals = Table(
    "provisioned_bals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(255), nullable=False, unique=True),
    Column("bal_type", String(3), nullable=False),
    Column("department", String(3), nullable=False, index=True),
    Column("finess", String(9), index=True),
    Column("service", String(255)),
    Column("holder_name", String(255)),
    Column("holder_id", String(20)),  # RPPS or ADELI (public ids)
    Column("responsible", String(255)),
    Column("structure_head", String(255)),
    Column("software", String(255)),
    Column("practice", String(255)),  # CAB: the practice's name
    # How the BAL signs in for a round trip: password | xoauth2 | external (client certificate).
    Column("auth_mode", String(16), nullable=False, default="password"),
    Column("backend", String(16), nullable=False),
    Column("status", coded(BalStatus, 16), nullable=False, index=True),
    Column("secret_ref", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


# One round-trip test (SMTP submit -> IMAP arrival), with the time of each step.
bal_tests = Table(
    "bal_tests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("test_id", String(64), nullable=False, unique=True),
    Column("sender", String(255), nullable=False, index=True),
    Column("recipient", String(255), nullable=False, index=True),
    Column("use_case", String(64)),
    Column("started_at", DateTime, nullable=False),
    Column("outcome", coded(RoundTripOutcome, 16), nullable=False),
    Column("failed_step", String(16)),
    Column("message", Text),
    Column("connect_s", Double),
    Column("auth_s", Double),
    Column("submit_s", Double),
    Column("visible_s", Double),
    Column("folder", String(255)),
    # How the message was seen: "submit" (look when SMTP accepted it), "check" (periodic
    # NOOP + UID SEARCH), "push" (IDLE announcement): balise.mail.roundtrip.SEEN_BY.
    Column("seen_by", String(16)),
)
