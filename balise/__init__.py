"""Balise: MSSanté adoption and onboarding for the médico-social sector (core package).

The core imports neither Streamlit nor the `ingest` / `dashboard` packages: they depend on it.
"""

__version__ = "0.1.0"
