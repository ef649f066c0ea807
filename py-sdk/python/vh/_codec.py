"""Hub text through the hub's codec in C (``vh._script_state``, and the
main loop's plain hooks in ``py-sdk/src/hook_loop.rs``).

The hub's default encoding, CP1252, and its kin (the other Windows code
pages, ISO 8859, KOI8) are *charmap* codecs: one byte per character,
through a table. Python's own path to them, ``bytes.decode(encoding)``,
goes through the codec registry and a Python-level method that calls
``codecs.charmap_decode`` with the codec module's table. On a hook that
finds its worker asleep, that path cost about 40 µs for a chat line's two
strings (docs/performance.md "Hooks at human rates: the worker's straight
loop"), more than the rest of the worker's Rust loop; the C function with
the same table gives the same text.
"""

from __future__ import annotations

import codecs
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

#: How every hub string crosses: undecodable bytes survive the round trip.
ERRORS = "surrogateescape"


def charmap_tables(encoding: str) -> Optional[tuple[str, Any]]:
    """``(decoding_table, encoding_map)`` of ``encoding`` if it is a
    charmap codec whose module holds them (``encodings.cp1252`` and its
    kin), such that ``codecs.charmap_decode(b, ERRORS, decoding_table)``
    and ``codecs.charmap_encode(s, ERRORS, encoding_map)`` give exactly
    what ``b.decode(encoding, ERRORS)`` and ``s.encode(encoding, ERRORS)``
    give: checked here for each of the 256 bytes and back. ``None`` for
    any other codec (UTF-8 and Latin-1 have their own C path in Python;
    multibyte codecs have no table)."""
    try:
        info = codecs.lookup(encoding)
        codec: Any = info.decode  # a bound method of the codec module's Codec
        module = sys.modules[type(codec.__self__).__module__]
        table, encoding_map = module.decoding_table, module.encoding_table
    except (LookupError, AttributeError, KeyError):
        return None
    if not isinstance(table, str) or len(table) != 256:
        return None
    for b in range(256):
        raw = bytes([b])
        text = raw.decode(encoding, ERRORS)
        if codecs.charmap_decode(raw, ERRORS, table)[0] != text:
            return None
        if codecs.charmap_encode(text, ERRORS, encoding_map)[0] != text.encode(encoding, ERRORS):
            return None
    return table, encoding_map
