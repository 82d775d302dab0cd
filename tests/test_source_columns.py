"""The column helpers shared by the block readers."""

from __future__ import annotations

import sys

from ingest.sources.columns import PY_SPACE


def test_py_space_is_every_character_str_strip_removes():
    every = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert every == PY_SPACE
