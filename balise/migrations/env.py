"""Alembic environment: run against the connection handed in by ``balise.db.upgrade`` or, from
the ``alembic`` command line, against ``BALISE_DATABASE_URL``."""

from alembic import context

from balise.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from balise.config import load_settings
        from balise.db import make_engine

        engine = make_engine(load_settings().resolved_database_url())
        with engine.begin() as conn:
            _migrate(conn)
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


run()
