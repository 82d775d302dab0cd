"""Territorial animation: where each structure stands on the way to regular use (and the trail of
its stage changes), the referent animators, events and their attendance sheets.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)

from balise.models.schema import coded, metadata
from balise.referentials.lifecycles import OnboardingStage

# Where one structure stands on the way from first contact to regular use. A structure
# without a row is « à contacter ».
onboarding = Table(
    "onboarding",
    metadata,
    Column("finess_et", String(9), primary_key=True),
    Column("department", String(3), nullable=False, index=True),
    Column("stage", coded(OnboardingStage, 16), nullable=False),
    Column("stage_since", DateTime, nullable=False),
    Column("next_action", String(255)),
    Column("next_action_on", Date, index=True),
    Column("notes", Text),  # follow-up notes: never patient data
    Column("assigned_to", String(255)),
    Column("updated_at", DateTime, nullable=False),
)


# Append-only trail of stage changes; ``source`` is "auto" (from facts) or "manuel".
onboarding_history = Table(
    "onboarding_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("finess_et", String(9), nullable=False, index=True),
    Column("from_stage", coded(OnboardingStage, 16)),
    Column("to_stage", coded(OnboardingStage, 16), nullable=False),
    Column("source", String(8), nullable=False),
    Column("reason", String(255)),
    Column("actor", String(255), nullable=False),
    Column("at", DateTime, nullable=False),
)


# A referent territorial animator; ``departments`` is a comma list.
animators = Table(
    "animators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255), nullable=False, unique=True),
    Column("phone", String(32)),
    Column("departments", Text, nullable=False),
)


# A webinar or meeting (« Midis du collectif »...); ``departments`` is a comma list.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(255), nullable=False),
    Column("date", Date, nullable=False, index=True),
    Column("theme", String(255)),
    Column("departments", Text, nullable=False, default=""),
    Column("replay_url", String(1024)),
)


# One line of an event's attendance sheet and the structure it was matched to.
attendance = Table(
    "attendance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("finess_et", String(9), index=True),
    Column("raw_name", String(255), nullable=False),
    Column("commune", String(128)),
    Column("match_kind", String(8), nullable=False),  # exact | fuzzy | none
    Column("score", Double),
    Column("reviewed", Boolean, nullable=False, default=False),
)
