"""The store's clock: instants are kept as naive UTC datetimes (SQLite has no time zone type,
and both backends must read back the same value). Pages and sheets show them in Paris time
through ``balise.formatting``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, as the store keeps instants: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
