"""The pages, one script per screen, run by ``st.navigation`` (dashboard/navigation.py).

A package only so that the import rules (pyproject.toml, ``lint-imports``) can name it: pages
never import SQLAlchemy. Not called ``pages/``: see the README."""
