"""Regenerate the initial migration from ``balise.models`` (``make schema``).

Until the first release the schema is one migration; after it, add revisions with
``alembic revision --autogenerate`` instead of running this.
"""

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from balise.db import MIGRATIONS_DIR, make_engine


def main() -> None:
    for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message="initial", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    main()
