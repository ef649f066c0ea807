"""The classic ``vh`` functions (spec/wrapper-abi.md §7.2, generation A's
signatures, defaults and results), each one hub callback (§6.3).

Departures from generation A, all where A's behaviour could not be what a
script wants (spec §11 item 10):

* a wrong number of arguments raises ``TypeError`` at once (A left a
  pending exception and returned a normal value);
* ``IsRobotNickBad`` works (A always returned 5), ``GetServFreq`` returns
  the hub's real frequency (A always 0.0);
* ``str`` arguments may hold any text; they reach the hub in its encoding.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from . import _runtime

_Result = Callable[[bool, list, "_runtime.Runtime"], Any]


def _bool(ok: bool, values: list, rt: _runtime.Runtime) -> bool:
    return bool(ok)


def _str(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[str]:
    return rt.from_hub(values[0]) if ok and values else None


def _int(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[int]:
    return int(values[0]) if ok and values else None


def _float(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[float]:
    return float(values[0]) if ok and values else None


def _tuple(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[tuple]:
    return tuple(rt.from_hub(v) for v in values) if ok else None


def _nick_list(prefix: bytes) -> _Result:
    """``$NickList a$$b$$`` (generation A) or a JSON array (B) -> list, or
    None when empty or failed (spec §7.2)."""

    def convert(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[list]:
        if not ok or not values or values[0] is None:
            return None
        raw: bytes = values[0]
        if raw.startswith(b"["):
            text = raw.decode(rt.encoding, "surrogateescape")
            try:
                items = json.loads(text)
            except ValueError:
                return []
            return [str(x) for x in items]
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
        nicks = [rt.from_hub(n) for n in raw.split(b"$$") if n]
        return nicks or None

    return convert


def _raw_list(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[str]:
    if ok and values and isinstance(values[0], bytes) and not values[0].startswith(b"["):
        return rt.from_hub(values[0])
    return None


_GEO_NUMBERS = ("latitude", "longitude", "metro_code", "area_code")


def _geoip(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[dict]:
    """``sdsdslsl`` key/number pairs, then 13 key/value string pairs (§6.3)."""
    if not ok or len(values) < 8:
        return None
    out: dict[str, Any] = {}
    for i in range(0, 8, 2):
        out[rt.from_hub(values[i])] = values[i + 1]
    rest = values[8:]
    for i in range(0, len(rest) - 1, 2):
        out[rt.from_hub(rest[i])] = rt.from_hub(rest[i + 1])
    return out


def _sql(ok: bool, values: list, rt: _runtime.Runtime) -> tuple:
    """``(ok, rows)``: rows as lists of str, ``'NULL'`` for SQL NULL (§7.2)."""
    if not ok or len(values) < 3:
        return (0, [])
    success, nrows, ncols = int(values[0]), int(values[1]), int(values[2])
    cells = [rt.from_hub(c) if c is not None else "NULL" for c in values[3:]]
    rows = [cells[r * ncols : (r + 1) * ncols] for r in range(nrows)] if ncols else []
    return (1 if success else 0, rows)


_RESTRICTIONS = (("chat", 1), ("pm", 2), ("search", 4), ("ctm", 8))


def _restrictions(ok: bool, values: list, rt: _runtime.Runtime) -> Optional[dict]:
    if not ok or not values:
        return None
    mask = int(values[0])
    return {name: bool(mask & bit) for name, bit in _RESTRICTIONS}


class _Function:
    """One classic function: its callback, parameter kinds and defaults."""

    def __init__(
        self,
        name: str,
        callback: str,
        params: str,
        result: _Result = _bool,
        defaults: Optional[dict] = None,
        keywords: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.callback = callback
        required, _, optional = params.partition("|")
        self.required = len(required)
        self.kinds = required + optional
        self.result = result
        self.defaults = defaults or {}
        self.keywords = keywords

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            if not self.keywords:
                raise TypeError(f"{self.name}() takes no keyword arguments")
            args = self._merge_keywords(args, kwargs)
        if not self.required <= len(args) <= len(self.kinds):
            raise TypeError(
                f"{self.name}() takes {self.required} to {len(self.kinds)} arguments, "
                f"got {len(args)}"
            )
        rt = _runtime.get()
        values = [self._convert(i, a, rt) for i, a in enumerate(args)]
        for i in range(len(args), len(self.kinds)):
            values.append(self.defaults.get(i, 0 if self.kinds[i] in "ld" else None))
        ok, result = rt.call(self.callback, values)
        return self.result(ok, result, rt)

    def _merge_keywords(self, args: tuple, kwargs: dict) -> tuple:
        merged: list[Any] = list(args) + [None] * (len(self.keywords) + 1 - len(args))
        for key, value in kwargs.items():
            if key not in self.keywords:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
            merged[self.keywords.index(key) + 1] = value
        while len(merged) > self.required and merged[-1] is None:
            merged.pop()
        return tuple(merged)

    def _convert(self, i: int, value: Any, rt: _runtime.Runtime) -> Any:
        kind = self.kinds[i]
        if kind == "s":
            if value is None or isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return rt.to_hub(value)
            raise TypeError(
                f"{self.name}() argument {i + 1} must be str or None, not {type(value).__name__}"
            )
        if kind == "l":
            if value is None:
                return 0
            if isinstance(value, int):
                return int(value)
            raise TypeError(
                f"{self.name}() argument {i + 1} must be int, not {type(value).__name__}"
            )
        if isinstance(value, (int, float)):
            return float(value)
        raise TypeError(f"{self.name}() argument {i + 1} must be float, not {type(value).__name__}")


def _f(
    name: str, params: str, result: _Result = _bool, callback: Optional[str] = None, **kw: Any
) -> _Function:
    return _Function(name, callback or name, params, result, **kw)


#: Every classic function, spec §7.2 (A column), in the spec's order.
FUNCTIONS: tuple[_Function, ...] = (
    _f("SendToOpChat", "s|s"),
    _f("SendToActive", "s|l"),
    _f("SendToPassive", "s|l"),
    _f("SendToActiveClass", "sll|l"),
    _f("SendToPassiveClass", "sll|l"),
    _f("SendDataToUser", "ss|l"),
    _f("SendDataToAll", "sll|l"),
    _f("SendPMToAll", "ssll"),
    _f("CloseConnection", "s|ll"),
    _f("GetMyINFO", "s", _tuple),
    _f("SetMyINFO", "s|sssss"),
    _f("GetUserClass", "s", _int),
    _f("GetNickList", "", _nick_list(b"$NickList ")),
    _f("GetOpList", "", _nick_list(b"$OpList ")),
    _f("GetBotList", "", _nick_list(b"$BotList ")),
    _f("GetRawNickList", "", _raw_list, "GetNickList"),
    _f("GetRawOpList", "", _raw_list, "GetOpList"),
    _f("GetRawBotList", "", _raw_list, "GetBotList"),
    _f("GetUserHost", "s", _str),
    _f("GetUserIP", "s", _str),
    _f("SetUserIP", "ss"),
    _f("SetMyINFOFlag", "sl"),
    _f("UnsetMyINFOFlag", "sl"),
    _f("GetUserHubURL", "s", _str),
    _f("GetUserExtJSON", "s", _str),
    _f("GetUserCC", "s", _str),
    _f("GetIPCC", "s", _str),
    _f("GetIPCN", "s", _str),
    _f("GetIPASN", "s|s", _str),
    _f("GetGeoIP", "s|s", _geoip),
    _f("AddRegUser", "sl|ss"),
    _f("DelRegUser", "s"),
    _f("SetRegClass", "sl"),
    _f("Ban", "sssll"),
    _f("KickUser", "sss|sss"),
    _f("DelNickTempBan", "s"),
    _f("DelIPTempBan", "s"),
    _f("ParseCommand", "ssl"),
    _f("ScriptCommand", "ss|l"),
    _f("SetConfig", "sss"),
    _f("GetConfig", "ss|s", _str),
    _f("IsRobotNickBad", "s", _int),
    _f("AddRobot", "slssss"),
    _f("DelRobot", "s"),
    _f("SQL", "s|l", _sql, defaults={1: 100}),
    _f("GetServFreq", "", _float),
    _f("GetUsersCount", "", _int),
    _f("GetTotalShareSize", "", _str),
    _f("usermc", "ss|s"),
    _f("pm", "ss|ss"),
    _f("mc", "s|s"),
    _f("classmc", "sll|s"),
    _f("UserRestrictions", "s|ssss", _restrictions, keywords=("chat", "pm", "search", "ctm")),
    _f("Topic", "|s", _str),
    _f("name_and_version", "|ss", _tuple),
    _f("StopHub", "l|l"),
)

_ENTITIES = (("\x05", "&#5;"), ("$", "&#36;"), ("`", "&#96;"), ("|", "&#124;"), ("~", "&#126;"))


def encode(s: str) -> str:
    """NMDC-escapes the five special characters (spec §7.2 ``encode``)."""
    for raw, entity in _ENTITIES:
        s = s.replace(raw, entity)
    return s


def decode(s: str) -> str:
    """Exact inverse of :func:`encode`; other ``&#`` sequences stay."""
    for raw, entity in _ENTITIES:
        s = s.replace(entity, raw)
    return s
