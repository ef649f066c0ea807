"""Hub text through charmap codecs in C (``vh._codec``) gives what the
codec itself gives, byte for byte and back, and other codecs keep
Python's own path."""

from __future__ import annotations

import random

import pytest

from vh._codec import ERRORS, charmap_tables
from vh._script_state import ScriptState


@pytest.mark.parametrize("encoding", ["cp1252", "cp1250", "cp1251", "iso8859-2", "koi8-r"])
def test_charmap_codecs_cross_in_c_with_the_codecs_own_answers(encoding: str) -> None:
    assert charmap_tables(encoding) is not None
    state = ScriptState(None, encoding)
    rng = random.Random(encoding)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        text = state.from_hub(raw)
        assert text == raw.decode(encoding, ERRORS)
        assert state.to_hub(text) == raw, "every byte goes back unchanged"
    # Text the codec lacks goes the same way too: an error, as before.
    with pytest.raises(UnicodeEncodeError):
        state.to_hub("\u4e2d")
    with pytest.raises(UnicodeEncodeError):
        "\u4e2d".encode(encoding, ERRORS)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "shift_jis", "utf-16", "cp037"])
def test_other_codecs_keep_pythons_path(encoding: str) -> None:
    tables = charmap_tables(encoding)
    if tables is not None:
        # A charmap codec that is not an ASCII superset (EBCDIC) is fine
        # too: the check is against the codec, byte for byte.
        assert encoding == "cp037"
    state = ScriptState(None, encoding)
    text = "h\u00e9llo" if encoding != "shift_jis" else "h\u3042llo"
    raw = text.encode(encoding)
    assert state.from_hub(raw) == text and state.to_hub(text) == raw


def test_unknown_codecs_have_no_tables() -> None:
    assert charmap_tables("no-such-codec") is None
