"""What every table module shares: the one ``MetaData`` the tables join (``Base.metadata`` is this
one, so the migrations see every table) and the column type of the lifecycles' vocabularies."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, MetaData

metadata = MetaData()


def coded(vocabulary: type[StrEnum], length: int) -> Enum:
    """A column of one of ``balise.referentials.lifecycles``' vocabularies: stored as its plain
    codes in a VARCHAR (no database enum type, no CHECK: a new code needs no migration), read back
    as members; a code outside the vocabulary is refused when written or compared."""
    return Enum(
        vocabulary, native_enum=False, create_constraint=False, length=length,
        values_callable=lambda members: [m.value for m in members], validate_strings=True,
    )  # fmt: skip
