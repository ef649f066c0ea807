"""Generation B's ``vh`` module (python_pi 1.7, docs/abi.md §7,
B column), for a script run with ``semantics = "B"`` (by default every
script of a generation B hub; runner.toml may choose per script).

The worker calls :func:`apply` before the script runs. Under ``"A"``
nothing changes: ``vh`` is built with generation A's behaviour. Under
``"B"`` the module becomes what B's wrapper gave (docs/architecture.md "Semantics"):

* strings: ``None`` for an empty string (§7.1 ``vh_CallString``);
  ``GetMyINFO`` gives ``''`` for a field the hub left NULL (§7.2);
* arguments: B's rules and ``TypeError`` texts (§7.1): ``bytes`` are no
  ``str``, a float is no ``int``, ``None`` is 0 for a number, and a wrong
  count raises ``Function requires at least N arguments, got M`` /
  ``Function takes at most N arguments, got M``;
* B's signatures: ``mc(text)``, ``classmc(text, min_class, max_class)``,
  ``StopHub(code)``, ``name_and_version()``, ``SQL(query, limit)``,
  ``ScriptCommand(cmd, data, plugin)``, and ``UserRestrictions(nick,
  nochat='', nopm='', nosearch='', noctm='')`` returning a bool;
* lists: ``[]`` for an empty list, ``GetRaw*List`` always None (a B
  plugin answers JSON, which B's wrapper could not read as a string);
* attributes: ``vh.name`` without ``.py``; no ``__version__`` or
  ``__version_string__`` (B's module had none; A's ``starttime``,
  ``encode`` and ``decode`` stay as extras); ``Decode`` turns every
  ``&#<n>;`` into its character (§7.2).

Elsewhere, :func:`is_b` selects B's ways: a ``str`` from
``OnParsedMsgChat`` replaces nothing and bot renames leave ``vh.botname``
alone (``_runtime``, §4.3), the script is imported as a module with
``<config_dir>/scripts`` on ``sys.path`` (``_loader``, §7.5), and
``w_CallFunction``/``CallDynamicFunction`` text is UTF-8 (§3.9, §8).

Kept from A where B's behaviour is a crash, leak or lost bytes, or
contradicts B's own documentation (docs/compatibility.md "Departures
under B"):
the functions B's wrapper broke (``mc``, ``classmc``, ``StopHub``,
``name_and_version``, ``ScriptCommand``, ``SQL``, ``GetGeoIP`` without
``db``) reach the hub and give their result; ``GetServFreq`` gives the
hub's frequency (as an int, B's type), the ``eBF_*`` constants keep the
hub's values; text the hub cannot take raises as under A.
"""

from __future__ import annotations

from . import _api, _generation, _pipeline, _results, _runtime
from ._errors import MessageTooBigError
from ._functions import BY_NAME, DOCS, FUNCTIONS, LIST_PREFIXES, FunctionSpec, Param
from ._limits import LONG_MAX as _LONG_MAX
from ._limits import LONG_MIN as _LONG_MIN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    Values = list[Any]
else:  # the same alias without typing's Any
    Values = list

_TYPE_NAMES = {"s": "str", "l": "int", "d": "float"}

#: A's module names that B's module did not have (§7.3) and that would
#: mislead a script written for B: the plugin version (1.6.0.0), by which
#: a script may tell the generations apart. A's ``starttime``, ``encode``
#: and ``decode`` stay, as vh-runner extras under both (like
#: ``vh.SendToAll``): no script written for B can be hurt by them.
_ABSENT_IN_B = ("__version__", "__version_string__")


def _p(name: str, kind: str, optional: bool = False, default: Any = None) -> Param:
    return Param(name, kind, optional, default)


def _tail(*values: Any) -> Callable[[Values], Values]:
    """Adds the callback's arguments B's signature lacks (their A default)."""
    return lambda v: v + list(values)


#: B's signatures where they differ from A's (§7.2, B column): the
#: parameters, and how their values become the callback's (§6.3 format).
_B_SIGNATURES: dict[str, tuple[tuple[Param, ...], Callable[[Values], Values]]] = {
    "mc": ((_p("text", "s"),), _tail(None)),
    "classmc": (
        (_p("text", "s"), _p("min_class", "l"), _p("max_class", "l")),
        _tail(None),
    ),
    "StopHub": ((_p("code", "l"),), _tail(0)),
    "name_and_version": ((), _tail(None, None)),
    "SQL": ((_p("query", "s"), _p("limit", "l")), lambda v: v),
    # B's third argument is a str (docs: the plugin); the hub's is
    # `instant`, which B's scripts therefore never set: queued (0).
    "ScriptCommand": (
        (_p("cmd", "s"), _p("data", "s"), _p("plugin", "s")),
        lambda v: v[:2] + [0],
    ),
    "UserRestrictions": (
        (
            _p("nick", "s"),
            _p("nochat", "s", True, ""),
            _p("nopm", "s", True, ""),
            _p("nosearch", "s", True, ""),
            _p("noctm", "s", True, ""),
        ),
        lambda v: v,
    ),
}


class _BFunction:
    """One function of B's module: its spec (B's parameters) and how the
    converted arguments become the callback's."""

    __slots__ = ("spec", "to_callback")

    def __init__(self, spec: FunctionSpec, to_callback: Callable[[Values], Values]) -> None:
        self.spec = spec
        self.to_callback = to_callback


def _b_function(spec: FunctionSpec) -> _BFunction:
    params, to_callback = _B_SIGNATURES.get(spec.name, (spec.params, lambda v: v))
    b_spec = FunctionSpec(
        spec.name,
        spec.callback,
        params,
        spec.result,
        keywords=spec.keywords,
        failure_is_refusal=spec.failure_is_refusal,
        doc=DOCS[spec.name],
    )
    return _BFunction(b_spec, to_callback)


def convert_args(spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Values:
    """B's argument checks (``vh_ParseArgs``, §7.1): the values of ``spec``'s
    parameters as hub values, omitted optional ones as their default.

    # Errors
    ``TypeError`` with B's texts for a wrong count or type, or a keyword
    (only ``UserRestrictions`` takes them); ``ValueError`` for a NUL byte,
    ``OverflowError`` beyond a C long and ``UnicodeEncodeError`` for a
    character the hub's encoding lacks, as under A (B cut or garbled
    such text: lost bytes).
    """
    if kwargs:
        args = _api._merge_keywords(spec, args, kwargs)
    if len(args) < spec.required:
        raise TypeError(f"Function requires at least {spec.required} arguments, got {len(args)}")
    if len(args) > len(spec.params):
        raise TypeError(f"Function takes at most {len(spec.params)} arguments, got {len(args)}")
    rt = _runtime.get()
    values = [_convert(spec, i, a, rt) for i, a in enumerate(args)]
    for p in spec.params[len(args) :]:
        values.append(rt.to_hub(p.default) if isinstance(p.default, str) else p.default)
    return values


def _convert(spec: FunctionSpec, i: int, value: Any, rt: _runtime.Runtime) -> Any:
    param = spec.params[i]
    kind = param.kind
    if value is None and spec.name == "GetGeoIP":
        # B parsed GetGeoIP's arguments with PyArg_ParseTuple("s|s").
        raise TypeError(f"argument {i + 1} must be str, not None")
    if value is None:
        # Keyword gaps of UserRestrictions keep their '' default.
        if isinstance(param.default, str):
            return rt.to_hub(param.default)
        return {"s": None, "l": 0, "d": 0.0}[kind]
    if kind == "s" and isinstance(value, str):
        data = rt.to_hub(value)
        if b"\0" in data:
            raise ValueError(f"{spec.name}() argument {i + 1} contains a NUL byte")
        return data
    if kind == "l" and isinstance(value, int):
        if not _LONG_MIN <= value <= _LONG_MAX:
            raise OverflowError(f"{spec.name}() argument {i + 1} does not fit in a C long")
        return int(value)
    if kind == "d" and isinstance(value, (int, float)):
        return float(value)
    # B's argument parser numbers from 0 (its loop index): "Argument 0"
    # is the first one, as the real B hub shows (tests/realhub).
    raise TypeError(f"Argument {i} must be {_TYPE_NAMES[kind]}, not {type(value).__name__}")


# -- results (§7.2, B column) --------------------------------------------------


def _b_str(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[str]:
    # vh_CallString: None for a failed call and for an empty string.
    return rt.from_hub(values[0]) if ok and values and values[0] else None


def _b_myinfo(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[tuple[str, ...]]:
    if not ok:
        return None
    return tuple(rt.from_hub(v) if v is not None else "" for v in values)


def _b_list(kind: str) -> Callable[[bool, Values, _runtime.Runtime], Optional[list[str]]]:
    prefix = LIST_PREFIXES[kind]

    def convert(ok: bool, values: Values, rt: _runtime.Runtime) -> Optional[list[str]]:
        if not ok or not values or not isinstance(values[0], bytes):
            return None
        return _results.parse_nick_list(values[0], prefix, rt)

    return convert


def _b_raw(ok: bool, values: Values, rt: _runtime.Runtime) -> None:
    return None


def _b_freq(ok: bool, values: Values, rt: _runtime.Runtime) -> int:
    # B's wrapper read the hub's double as a long (always 0); the docs
    # promise the frequency, as an int.
    return int(values[0]) if ok and values else 0


def _b_restrictions(ok: bool, values: Values, rt: _runtime.Runtime) -> bool:
    # B: True if any restriction is active, False on failure.
    return bool(ok and values and int(values[0]))


_B_RESULTS: dict[str, Callable[[bool, Values, _runtime.Runtime], Any]] = {
    "str": _b_str,
    "myinfo": _b_myinfo,
    "nicklist": _b_list("nicklist"),
    "oplist": _b_list("oplist"),
    "botlist": _b_list("botlist"),
    "raw": _b_raw,
    "float": _b_freq,
    "restrictions": _b_restrictions,
}


def make_b(spec: FunctionSpec) -> Callable[..., Any]:
    """The function of B's module for A's ``spec``: B's parameters,
    argument rules and results, the callback of §6.3 with its full format."""
    fn_b = _b_function(spec)
    b_spec = fn_b.spec
    convert = _B_RESULTS.get(spec.result, _results.CLASSIC[spec.result])
    # docs/protocol.md "Pipelined calls": as the classic functions of A. The
    # body mirrors _api.make_classic's rather than calling a shared helper:
    # _pipeline.sent finds the script's frame two levels up, so the call must
    # be made from the very function the script called.
    pipelined = spec.callback in _pipeline.CALLBACKS

    def function(*args: Any, **kwargs: Any) -> Any:
        values = fn_b.to_callback(convert_args(b_spec, args, kwargs))
        rt = _runtime.get()
        try:
            if pipelined and _pipeline.sent(rt, spec.callback, values, len(args) + len(kwargs)):
                return convert(True, [1], rt)
            ok, result, _error = rt.call(spec.callback, values)
        except MessageTooBigError as e:
            print(f"vh: {spec.name}(): {e}; it returns its failure value", flush=True)
            return convert(False, [], rt)
        if ok and _results.malformed(spec.result, result) is not None:
            ok, result = False, []
        return convert(ok, result, rt)

    function.__name__ = function.__qualname__ = spec.name
    function.__module__ = "vh"
    function.__doc__ = f"{spec.doc}\n\nGeneration B's form (docs/abi.md §7.2, B column)."
    function.__text_signature__ = _api.text_signature(b_spec, False)  # type: ignore[attr-defined]
    return function


def decode_b(s: str) -> str:
    """B's ``Decode`` (§7.2): every ``&#<digits>;`` becomes the character
    with that code modulo 256, not only the five of ``encode``."""
    import re

    return re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1)) % 256), s)


_saved: dict[str, Any] = {}


def apply(semantics: str) -> None:
    """Makes the ``vh`` module generation ``semantics``'s (``"A"`` or
    ``"B"``; anything else is A). Reversible: ``apply("A")`` restores A's
    module (``vh.testing`` switches between scripts)."""
    import vh

    if semantics == _generation.current or semantics not in ("A", "B"):
        return
    g = vh.__dict__
    if semantics == "B":
        for name in (*(s.name for s in FUNCTIONS), *_ABSENT_IN_B, "Decode", "name", "__all__"):
            if name in g:
                _saved[name] = g[name]
        for spec in FUNCTIONS:
            g[spec.name] = make_b(spec)
        for name in _ABSENT_IN_B:
            g.pop(name, None)
        g["Decode"] = decode_b
        if vh.name.endswith(".py"):
            vh.name = vh.name[:-3]
        vh.__all__ = [n for n in vh.__all__ if n not in _ABSENT_IN_B]
    else:
        g.update(_saved)
        _saved.clear()
    _generation.current = semantics


def is_b() -> bool:
    """True if the script runs with generation B's semantics (the flag
    lives in ``vh._generation``, where the runtime reads it)."""
    return _generation.is_b()


assert set(_B_SIGNATURES) <= set(BY_NAME)
