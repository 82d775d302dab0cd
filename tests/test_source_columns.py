"""The column helpers shared by the block readers."""

from __future__ import annotations

import random
import sys

from ingest.sources.columns import PY_SPACE, has_lone_cr, is_utf8


def test_py_space_is_every_character_str_strip_removes():
    every = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert every == PY_SPACE


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_is_utf8_agrees_with_python_on_valid_invalid_and_random_bytes():
    known = [
        b"", b"abc", "é".encode(), "😀".encode(), b"\x00", b"\xef\xbf\xbe",  # valid
        b"\xff", b"a\xc3", b"\xc0\xaf", b"\xe0\x80\x80", b"\xed\xa0\x80",  # overlong, surrogate
        b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xe2\x82",  # beyond U+10FFFF, cut short
    ]  # fmt: skip
    rng = random.Random(5)
    tricky = b"\x80\xbf\xc2\xdf\xe0\xed\xef\xf0\xf4\xa0\x9f\x90\x8fa"
    drawn = [bytes(rng.choice(tricky) for _ in range(rng.randrange(1, 9))) for _ in range(20_000)]
    for data in known + drawn:
        assert is_utf8(data) == _decodes(data), data
    assert {is_utf8(d) for d in drawn} == {True, False}


def test_a_lone_cr_is_found_and_crlf_line_ends_are_not():
    assert not has_lone_cr(b"a|b\r\nc|d\r\n") and not has_lone_cr(b"a|b\nc|d")
    assert has_lone_cr(b"a|b\rc|d\n") and has_lone_cr(b"a|b\r\r\n") and has_lone_cr(b"a\r")
