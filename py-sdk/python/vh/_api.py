"""Builds the ``vh`` functions from the table in ``_functions``: argument
checks and conversion, one hub callback per call (docs/abi.md
§7.2, §6.3), then the result in the classic or the strict flavour
(``_results``).

Departures from generation A, all where A's behaviour could not be what a
script wants (docs/abi.md §11 item 10):

* a wrong number of arguments raises ``TypeError`` at once (A left a
  pending exception and returned a normal value);
* ``IsRobotNickBad`` works (A always returned 5), ``GetServFreq`` returns
  the hub's real frequency (A always 0.0);
* ``str`` arguments may hold any text the hub's encoding has; they reach
  the hub in it (``UnicodeEncodeError`` for a character it lacks; B sent
  the UTF-8 bytes instead). ``bytes`` go to the hub as they are;
* a wrong type raises ``TypeError`` (A returned False/None without an
  exception; B raised as here), a string with a NUL byte ``ValueError``
  (a C string ends at the NUL: the hub would get only its start) and an
  int beyond a C long ``OverflowError``, all before the hub is called.

The functions are plain Python functions whose ``inspect.signature`` shows
the parameters (``help(vh.mc)``), so the stubs in ``__init__.pyi``,
``strict.pyi`` and ``aio.pyi`` can be checked against them by
``python -m mypy.stubtest vh``. The signature is given as
``__text_signature__`` (which ``inspect`` reads for any function, as for
built-in ones), not as an ``inspect.Signature``: importing ``inspect``
would cost every worker about 2 MiB (docs/performance.md).
"""

from __future__ import annotations

from . import _core, _pipeline, _results, _runtime
from ._errors import HubRefusedError, MessageTooBigError, NotConnectedError
from ._functions import FUNCTIONS, FunctionSpec, send_parts
from ._limits import LONG_MAX as _LONG_MAX
from ._limits import LONG_MIN as _LONG_MIN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

_KIND_NAMES = {"s": "str or None", "l": "int", "d": "float"}


def convert_args(spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """Checks the arguments of one call and returns the callback's
    full-length argument list as hub values (optional arguments not given
    are sent as NULL/0/0.0 or the documented default, §6.2).

    # Errors
    ``TypeError`` for a wrong number, an unknown keyword or a wrong type;
    ``ValueError`` for a string with a NUL byte (C strings end there);
    ``OverflowError`` for an int beyond a C long; ``UnicodeEncodeError``
    for a character the hub's encoding lacks. ``NotConnectedError``
    outside a worker (the encoding comes from it).
    """
    if kwargs:
        args = _merge_keywords(spec, args, kwargs)
    if not spec.required <= len(args) <= len(spec.params):
        raise TypeError(
            f"{spec.name}() takes {spec.required} to {len(spec.params)} arguments, got {len(args)}"
        )
    rt = _runtime.get()
    # Plain loops: a comprehension or generator is one more Python frame,
    # and on a hook that finds the worker asleep every frame costs several
    # microseconds (docs/performance.md "Hooks at human rates: the
    # worker's straight loop").
    values: list[Any] = []
    for i, a in enumerate(args):
        values.append(_convert(spec, i, a, rt))
    for p in spec.params[len(args) :]:
        values.append(p.default)
    return values


def _merge_keywords(
    spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    if not spec.keywords:
        raise TypeError(f"{spec.name}() takes no keyword arguments")
    names = [p.name for p in spec.params]
    merged: list[Any] = list(args) + [None] * (len(names) - len(args))
    for key, value in kwargs.items():
        index = names.index(key) if key in names else -1
        if index < spec.required:
            raise TypeError(f"{spec.name}() got an unexpected keyword argument {key!r}")
        if index < len(args):
            raise TypeError(f"{spec.name}() got multiple values for argument {key!r}")
        merged[index] = value
    while len(merged) > spec.required and merged[-1] is None:
        merged.pop()
    return tuple(merged)


def _convert(spec: FunctionSpec, i: int, value: Any, rt: _runtime.Runtime) -> Any:
    kind = spec.params[i].kind
    if kind == "s":
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            data = value if isinstance(value, bytes) else rt.to_hub(value)
            if b"\0" in data:
                raise ValueError(
                    f"{_where(spec, i)} contains a NUL byte, which the hub cannot take"
                )
            return data
    elif kind == "l":
        if value is None:
            return 0
        if isinstance(value, int):
            if not _LONG_MIN <= value <= _LONG_MAX:
                raise OverflowError(f"{_where(spec, i)} does not fit in a C long")
            return int(value)
    elif isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{_where(spec, i)} must be {_KIND_NAMES[kind]}, not {type(value).__name__}")


def _where(spec: FunctionSpec, i: int) -> str:
    return f"{spec.name}() argument {i + 1} ({spec.params[i].name})"


def call_strict(
    spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: Optional[float]
) -> Any:
    """One strict call: the callback's result shaped by ``_results.STRICT``.

    # Errors
    ``HubRefusedError`` if the callback failed (except ``SetConfig``, see
    ``FunctionSpec.failure_is_refusal``) or answered in another format than
    its own (docs/abi.md §6.3), ``HubTimeoutError`` past ``timeout`` seconds,
    ``NotConnectedError``, ``TypeError``, ``MessageTooBigError`` if the
    call is too big to send.
    """
    values = convert_args(spec, args, kwargs)
    rt = _runtime.get()
    ok, result, error = rt.call(spec.callback, values, timeout)
    if not ok:
        if not spec.failure_is_refusal:
            return None
        raise HubRefusedError(spec.callback, error)
    why = _results.malformed(spec.result, result)
    if why is not None:
        raise HubRefusedError(spec.callback, why)
    return _results.STRICT[spec.result](spec.callback, result, rt)


def text_signature(spec: FunctionSpec, strict: bool) -> str:
    """The signature of ``spec``'s function, as ``__text_signature__``:
    ``"(text, from_nick=None, /)"``; strict and async forms add a
    keyword-only ``timeout=None``."""
    params = []
    for p in spec.params:
        params.append(f"{p.name}={p.default!r}" if p.optional else p.name)
    if not spec.keywords:
        if params:
            params.append("/")
    elif spec.required:
        # Only the optional parameters may be passed by keyword.
        params.insert(spec.required, "/")
    if strict:
        params += ["*", "timeout=None"]
    return f"({', '.join(params)})"


_CLASSIC_FAILURE = {
    "bool": "True, or False if the hub refused",
    "sql": "``(1, rows)``, or ``(0, [])`` if the query failed",
}


def docstring(spec: FunctionSpec, flavour: str) -> str:
    """The docstring of ``spec``'s function in ``flavour`` ``"classic"``,
    ``"strict"`` or ``"aio"`` (also used for the stubs)."""
    where = f"Hub callback ``{spec.callback}`` (docs/abi.md §6.3)."
    if flavour == "classic":
        failure = _CLASSIC_FAILURE.get(spec.result, "the value, or None if the hub refused")
        return f"{spec.doc}\n\nReturns {failure} (§7.2, generation A). {where}"
    if spec.failure_is_refusal:
        raises = "Raises ``HubRefusedError`` if the hub refuses, "
    else:
        raises = "Never raises ``HubRefusedError``; raises "
    return f"{spec.doc}\n\n{raises}``HubTimeoutError`` after ``timeout`` seconds. {where}"


def _describe(fn: Callable[..., Any], spec: FunctionSpec, flavour: str) -> None:
    fn.__name__ = fn.__qualname__ = spec.name
    fn.__module__ = "vh" if flavour == "classic" else f"vh.{flavour}"
    fn.__doc__ = docstring(spec, flavour)
    signature = text_signature(spec, flavour != "classic")
    fn.__text_signature__ = signature  # type: ignore[attr-defined]


def make_classic(spec: FunctionSpec) -> Callable[..., Any]:
    """The classic function: generation A's results, ``False``/``None`` when
    the callback fails (docs/abi.md §7.2), also when its result has another format
    than the callback's own (§6.3) or the call is too big to send.

    For a callback whose discarded calls are pipelined (docs/protocol.md
    "Pipelined calls") it is a ``vh._core.Classic``: the usual call (its
    arguments as they are, its result discarded, on the main thread) goes
    to the link with no Python frame between the script and the channel
    (``Channel.send_as_is``); anything else comes back to ``rest`` here."""
    convert = _results.CLASSIC[spec.result]
    # Its parameters as the channel converts them (Channel.send_as_is);
    # None for a function whose calls always wait.
    parts = send_parts(spec)
    pipelined = parts is not None
    # What a pipelined call returns (the hub's answer is not waited for: a
    # success), made once. Every pipelined callback's result is a bool,
    # whose converter reads no runtime (none is installed yet).
    sent = convert(True, [1], None) if pipelined else None  # type: ignore[arg-type]

    def rest(way: Optional[bool], args: tuple[Any, ...], kwargs: Optional[dict[str, Any]]) -> Any:
        # The classic function past vh._core.Classic's attempt, whose answer
        # is `way` (None: not made, or not the usual arguments: the Python
        # way to pipeline may still take it; False: not now).
        kwargs = kwargs or {}
        try:
            values = convert_args(spec, args, kwargs)
            rt = _runtime.get()
            if (
                way is None
                and pipelined
                and _pipeline.sent(rt, spec.callback, values, len(args) + len(kwargs))
            ):
                return sent
            ok, result, _error = rt.call(spec.callback, values)
        except MessageTooBigError as e:
            return too_big(e)
        if ok and _results.malformed(spec.result, result) is not None:
            ok, result = False, []
        return convert(ok, result, rt)

    def too_big(e: MessageTooBigError) -> Any:
        # Nothing was sent: a failed call, as if the hub had refused.
        print(f"vh: {spec.name}(): {e}; it returns its failure value", flush=True)
        return convert(False, [], _runtime.get())

    if parts is None:

        def classic(*args: Any, **kwargs: Any) -> Any:
            return rest(None, args, kwargs)

        _describe(classic, spec, "classic")
        return classic

    def failed(e: BaseException) -> Any:
        # What the attempt raised: a link that is gone, a call too big.
        if isinstance(e, MessageTooBigError):
            return too_big(e)
        if isinstance(e, ConnectionError):
            raise NotConnectedError(f"vh-runner link closed: {e}") from e
        raise e

    fn = _core.Classic(_core.SendSpec(*parts), sent, rest, failed, _runtime)
    _describe(fn, spec, "classic")
    return fn


def make_strict(spec: FunctionSpec) -> Callable[..., Any]:
    """The strict function: raises instead of returning ``False``/``None``;
    optional ``timeout`` (seconds) for the wait."""

    def strict(*args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        return call_strict(spec, args, kwargs, timeout)

    _describe(strict, spec, "strict")
    return strict


def describe_async(fn: Callable[..., Any], spec: FunctionSpec) -> None:
    """Names, documents and signs an ``async`` form built by ``vh.aio``."""
    _describe(fn, spec, "aio")


#: The classic functions, in docs/abi.md §7.2's order.
CLASSIC_FUNCTIONS: tuple[Callable[..., Any], ...] = tuple(make_classic(s) for s in FUNCTIONS)

_ENTITIES = (("\x05", "&#5;"), ("$", "&#36;"), ("`", "&#96;"), ("|", "&#124;"), ("~", "&#126;"))


def encode(s: str) -> str:
    """NMDC-escapes the five special characters (docs/abi.md §7.2 ``encode``)."""
    for raw, entity in _ENTITIES:
        s = s.replace(raw, entity)
    return s


def decode(s: str) -> str:
    """Exact inverse of :func:`encode`; other ``&#`` sequences stay."""
    for raw, entity in _ENTITIES:
        s = s.replace(entity, raw)
    return s
