"""Everything a store holds, read back for tests that prove what is (or is not) in it."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, select


def _tables(engine: Engine):
    meta = MetaData()
    meta.reflect(engine)
    return meta.sorted_tables


def rows_by_table(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table but ``alembic_version``, as sorted reprs: equal before and after
    an operation means the operation changed nothing."""
    with engine.connect() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(select(t)).all()))
            for t in _tables(engine)
            if t.name != "alembic_version"
        }


def all_text(engine: Engine) -> str:
    """Every value of every row of every table, as text (one line per row), to search for what
    must never be stored: a subject, a secret, an INS..."""
    with engine.connect() as conn:
        return "\n".join(
            " ".join(str(v) for v in row)
            for table in _tables(engine)
            for row in conn.execute(select(table))
        )
