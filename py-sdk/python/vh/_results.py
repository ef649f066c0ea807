"""Hub callback results -> Python values, in two flavours.

* ``CLASSIC``: generation A's results (docs/abi.md §7.2, A column):
  ``False``/``None`` when the callback failed. The classic ``vh.*``
  functions use these, so unchanged scripts see what they always saw.
* ``STRICT``: for ``vh.strict`` and ``vh.aio``. A failed callback raises
  :class:`vh.HubRefusedError` before these run (see ``_api``); they only
  shape a successful result: acknowledgements become ``None``, lists are
  never ``None``, and a result the hub could not have meant raises too.

Every converter takes ``(values, rt)``: the callback's result elements
(hub values: bytes, int, float, None) and the runtime (for the encoding).
Classic converters also take ``ok`` first.
"""

from __future__ import annotations

import collections.abc as _abc

from . import _runtime
from ._errors import HubRefusedError
from ._functions import LIST_PREFIXES, RESTRICTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and json are not imported by an idle worker
    from typing import Any, Callable, Optional

    Values = list[Any]
    Classic = Callable[[bool, Values, "_runtime.Runtime"], Any]
    Strict = Callable[[str, Values, "_runtime.Runtime"], Any]
else:  # the same aliases without typing's Any
    Values = list
    Classic = Strict = _abc.Callable


def parse_nick_list(raw: bytes, prefix: bytes, rt: _runtime.Runtime) -> list[str]:
    """``$NickList a$$b$$`` (generation A) or a JSON array (B) -> nicks.
    An unreadable JSON array gives ``[]``, as in generation B (§7.2)."""
    if raw.startswith(b"["):
        import json

        try:
            items = json.loads(raw.decode(rt.encoding, "surrogateescape"))
        except ValueError:
            return []
        return [str(x) for x in items]
    if raw.startswith(prefix):
        raw = raw[len(prefix) :]
    return [rt.from_hub(n) for n in raw.split(b"$$") if n]


def parse_geoip(values: Values, rt: _runtime.Runtime) -> Optional[dict[str, Any]]:
    """``sdsdslsl`` key/number pairs, then 13 key/value string pairs (§6.3);
    None if the result is too short."""
    if len(values) < 8:
        return None
    out: dict[str, Any] = {}
    for i in range(0, 8, 2):
        out[rt.from_hub(values[i])] = values[i + 1]
    rest = values[8:]
    for i in range(0, len(rest) - 1, 2):
        out[rt.from_hub(rest[i])] = rt.from_hub(rest[i + 1])
    return out


def parse_sql(values: Values, rt: _runtime.Runtime) -> Optional[tuple[bool, list[list[str]]]]:
    """``(success, rows, cols, cells…)`` -> ``(success, rows)``, rows as lists
    of str with ``'NULL'`` for SQL NULL (§7.2); None if malformed."""
    if len(values) < 3:
        return None
    success, nrows, ncols = bool(values[0]), int(values[1]), int(values[2])
    cells = [rt.from_hub(c) if c is not None else "NULL" for c in values[3:]]
    rows = [cells[r * ncols : (r + 1) * ncols] for r in range(nrows)] if ncols else []
    return success, rows


def restrictions(mask: int) -> dict[str, bool]:
    """The hub's bit mask of active restrictions (§6.3) as a dict."""
    return {name: bool(mask & bit) for name, bit in RESTRICTIONS}


# -- the shape of a result ------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_text(v: Any) -> bool:
    """A hub string: bytes, or None for a NULL one."""
    return v is None or isinstance(v, bytes)


def _shape(values: Values) -> str:
    names = {bytes: "s", int: "l", float: "d", type(None): "s"}
    return "".join(names.get(type(v), "?") for v in values)


def _one(check: Callable[[Any], bool], want: str) -> Callable[[Values], Optional[str]]:
    def malformed(values: Values) -> Optional[str]:
        if len(values) == 1 and check(values[0]):
            return None
        return f"the hub answered {_shape(values)!r}, expected {want!r}"

    return malformed


def _texts(n: int) -> Callable[[Values], Optional[str]]:
    def malformed(values: Values) -> Optional[str]:
        if len(values) == n and all(_is_text(v) for v in values):
            return None
        return f"the hub answered {_shape(values)!r}, expected {'s' * n!r}"

    return malformed


def _malformed_geoip(values: Values) -> Optional[str]:
    head, rest = values[:8], values[8:]
    numbers = (_is_number, _is_number, _is_int, _is_int)
    if (
        len(head) == 8
        and all(isinstance(head[i], bytes) for i in range(0, 8, 2))
        and all(check(head[i]) for i, check in zip(range(1, 8, 2), numbers))
        and len(rest) % 2 == 0
        and all(_is_text(v) for v in rest)
    ):
        return None
    return f"the hub answered {_shape(values)!r}, expected 'sdsdslsl' and string pairs"


def _malformed_sql(values: Values) -> Optional[str]:
    if len(values) >= 3 and all(_is_int(v) for v in values[:3]):
        rows, cols = values[1], values[2]
        cells = values[3:]
        if rows >= 0 and cols >= 0 and len(cells) == rows * cols and all(map(_is_text, cells)):
            return None
    return f"the hub answered {_shape(values)!r}, expected 'lll' and rows * cols strings"


#: Per result kind (``FunctionSpec.result``), what tells a result in the
#: callback's own format (docs/abi.md §6.3) from another one; "bool" callbacks
#: only say success or failure, whatever they return.
_MALFORMED: dict[str, Callable[[Values], Optional[str]]] = {
    "str": _one(_is_text, "s"),
    "int": _one(_is_int, "l"),
    "float": _one(_is_number, "d"),
    "myinfo": _texts(6),
    "name_version": _texts(2),
    "nicklist": _one(_is_text, "s"),
    "oplist": _one(_is_text, "s"),
    "botlist": _one(_is_text, "s"),
    "raw": _one(_is_text, "s"),
    "geoip": _malformed_geoip,
    "sql": _malformed_sql,
    "restrictions": _one(_is_int, "l"),
}


def malformed(kind: str, values: Values) -> Optional[str]:
    """Why a successful callback's result ``values`` cannot be the one of a
    callback of result kind ``kind`` (docs/abi.md §6.3: its format, e.g. ``'sd'``
    from ``GetServFreq``, which returns ``'d'``), or None if it can. A
    plugin of another build or a broken hub could answer so; the classic
    functions then give their failure value (§7.2), the strict ones raise
    ``HubRefusedError`` with this reason."""
    check = _MALFORMED.get(kind)
    return check(values) if check is not None else None


# -- classic ------------------------------------------------------------------


def _c_bool(ok: bool, values: Values, rt: _runtime.Runtime) -> bool:
    return bool(ok)


def _c_str(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[str]:
    return rt.from_hub(values[0]) if ok and values else None


def _c_int(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[int]:
    return int(values[0]) if ok and values else None


def _c_float(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[float]:
    return float(values[0]) if ok and values else None


def _c_tuple(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[tuple[Any, ...]]:
    return tuple(rt.from_hub(v) for v in values) if ok else None


def _c_list(kind: str) -> Classic:
    def convert(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[list[str]]:
        if not ok or not values or not isinstance(values[0], bytes):
            return None
        nicks = parse_nick_list(values[0], LIST_PREFIXES[kind], rt)
        # A: None for an empty list; B: [] (its JSON form).
        return nicks if nicks or values[0].startswith(b"[") else None

    return convert


def _c_raw(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[str]:
    raw = values[0] if ok and values else None
    if isinstance(raw, bytes) and not raw.startswith(b"["):
        return raw.decode(rt.encoding, "surrogateescape")
    return None


def _c_geoip(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[dict[str, Any]]:
    return parse_geoip(values, rt) if ok else None


def _c_sql(ok: bool, values: Values, rt: _runtime.Runtime) -> tuple[int, list[list[str]]]:
    parsed = parse_sql(values, rt) if ok else None
    if parsed is None:
        return (0, [])
    return (1 if parsed[0] else 0, parsed[1])


def _c_restrictions(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[dict[str, bool]]:
    return restrictions(int(values[0])) if ok and values else None


CLASSIC: dict[str, Classic] = {
    "bool": _c_bool,
    "str": _c_str,
    "int": _c_int,
    "float": _c_float,
    "myinfo": _c_tuple,
    "name_version": _c_tuple,
    "raw": _c_raw,
    "geoip": _c_geoip,
    "sql": _c_sql,
    "restrictions": _c_restrictions,
}
CLASSIC.update((kind, _c_list(kind)) for kind in LIST_PREFIXES)

# -- strict -------------------------------------------------------------------


def _first(callback: str, values: Values) -> Any:
    if not values:
        raise HubRefusedError(callback, "the hub answered without a value")
    return values[0]


def _s_none(callback: str, values: Values, rt: _runtime.Runtime) -> None:
    return None


def _s_str(callback: str, values: Values, rt: _runtime.Runtime) -> str:
    value = _first(callback, values)
    return rt.from_hub(value) if value is not None else ""


def _s_int(callback: str, values: Values, rt: _runtime.Runtime) -> int:
    return int(_first(callback, values))


def _s_float(callback: str, values: Values, rt: _runtime.Runtime) -> float:
    return float(_first(callback, values))


def _s_tuple(n: int) -> Strict:
    def convert(callback: str, values: Values, rt: _runtime.Runtime) -> tuple[str, ...]:
        if len(values) != n:
            raise HubRefusedError(callback, f"expected {n} values, got {len(values)}")
        return tuple(rt.from_hub(v) if v is not None else "" for v in values)

    return convert


def _s_list(kind: str) -> Strict:
    def convert(callback: str, values: Values, rt: _runtime.Runtime) -> list[str]:
        raw = _first(callback, values)
        return parse_nick_list(raw, LIST_PREFIXES[kind], rt) if raw else []

    return convert


def _s_raw(callback: str, values: Values, rt: _runtime.Runtime) -> str:
    raw = _first(callback, values)
    if not isinstance(raw, bytes) or raw.startswith(b"["):
        raise HubRefusedError(
            callback, "this plugin generation has no raw lists (docs/abi.md §7.2)"
        )
    return raw.decode(rt.encoding, "surrogateescape")


def _s_geoip(callback: str, values: Values, rt: _runtime.Runtime) -> dict[str, Any]:
    parsed = parse_geoip(values, rt)
    if parsed is None:
        raise HubRefusedError(callback, "incomplete GeoIP record")
    return parsed


def _s_sql(callback: str, values: Values, rt: _runtime.Runtime) -> list[list[str]]:
    parsed = parse_sql(values, rt)
    if parsed is None or not parsed[0]:
        raise HubRefusedError(callback, "the query failed")
    return parsed[1]


def _s_restrictions(callback: str, values: Values, rt: _runtime.Runtime) -> dict[str, bool]:
    return restrictions(int(_first(callback, values)))


STRICT: dict[str, Strict] = {
    "bool": _s_none,
    "str": _s_str,
    "int": _s_int,
    "float": _s_float,
    "myinfo": _s_tuple(6),
    "name_version": _s_tuple(2),
    "raw": _s_raw,
    "geoip": _s_geoip,
    "sql": _s_sql,
    "restrictions": _s_restrictions,
}
STRICT.update((kind, _s_list(kind)) for kind in LIST_PREFIXES)
