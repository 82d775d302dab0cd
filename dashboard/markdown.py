"""Text from elsewhere (a URL, a server's message) shown in Streamlit's markdown elements exactly
as written: its underscores, asterisks or brackets never turn into formatting."""

from __future__ import annotations

_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|~$"})


def plain(text: str) -> str:
    """``text`` shown as written in a Streamlit markdown element (an URL's underscores or a
    server's message never turn into formatting)."""
    return text.translate(_MARKDOWN)
