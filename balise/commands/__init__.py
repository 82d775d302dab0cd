"""Commands the core plugs into the ``balise`` host (entry points in pyproject.toml)."""
