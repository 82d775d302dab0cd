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
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        # Hand-written later revisions (0002_...) revise 0001: set them aside while 0001 is
        # regenerated, or Alembic refuses a history whose base is missing.
        later = [p for p in versions.glob("0*.py") if not p.name.startswith("0001_")]
        for path in later:
            path.rename(Path(tmp) / path.name)
        try:
            _generate(tmp)
        finally:
            for path in later:
                (Path(tmp) / path.name).rename(path)


def _generate(tmp: str) -> None:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    main()
