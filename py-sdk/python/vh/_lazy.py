"""Stand-ins for standard-library helpers a worker needs only now and
then, so that an idle worker does not import ``inspect`` or ``traceback``
(docs/performance.md, "Worker idle RSS"): each imports its module on
first real use."""

from __future__ import annotations

import types
from collections.abc import Awaitable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def takes_no_positional(fn: Callable[..., Any]) -> bool:
    """True if ``fn`` takes no positional argument, as
    ``inspect.signature`` tells; a plain function is read from its code
    object, without importing ``inspect`` (about 2 MiB of a worker)."""
    if (
        type(fn) is types.FunctionType
        and not hasattr(fn, "__wrapped__")
        and not hasattr(fn, "__signature__")
        and not getattr(fn, "__text_signature__", None)
    ):
        code = fn.__code__
        return code.co_argcount == 0 and not code.co_flags & _CO_VARARGS
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return not any(p.kind in positional for p in params)


#: ``inspect.CO_VARARGS``: the function has ``*args``.
_CO_VARARGS = 0x04


def isawaitable(value: Any) -> bool:
    """``inspect.isawaitable`` without importing ``inspect``."""
    if value is None or type(value) in (int, bool, str, tuple):
        return False
    return (
        isinstance(value, (types.CoroutineType, Awaitable))
        or isinstance(value, types.GeneratorType)
        and bool(value.gi_code.co_flags & _CO_ITERABLE_COROUTINE)
    )


#: ``inspect.CO_ITERABLE_COROUTINE``: a generator made awaitable by
#: ``types.coroutine``.
_CO_ITERABLE_COROUTINE = 0x100


def print_exc() -> None:
    """``traceback.print_exc()``, importing ``traceback`` at the first error."""
    import traceback

    traceback.print_exc()


def print_exception(error: BaseException) -> None:
    """Prints ``error`` with its traceback to stderr."""
    import traceback

    traceback.print_exception(type(error), error, error.__traceback__)
