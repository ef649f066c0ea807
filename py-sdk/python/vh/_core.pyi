"""The transport of a worker process (Rust, py-sdk/src/channel.rs): frames to
and from the runner on a socketpair, read on a background thread with the
GIL released. Hub values are ``bytes`` (hub strings and JSON documents),
``int``, ``float`` or ``None`` (a NULL string); where a JSON document must
be told from a string, a *kinds* string goes with them, one format
character per value (``l``, ``s``, ``d``, ``D``)."""

from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, Literal, TypeAlias, final, overload

__all__ = [
    "Channel",
    "Classic",
    "DiscardProbe",
    "ClosedEvent",
    "FunctionEvent",
    "HookEvent",
    "LoadEvent",
    "Nesting",
    "PingEvent",
    "ResultEvent",
    "SendSpec",
    "UnloadEvent",
    "caller_discards",
    "frames_known",
    "__version__",
]

__version__: str

@final
class SendSpec:
    """A pipelined classic function's parameters for ``Channel.send_as_is``:
    one ``l``, ``s`` or ``d`` per parameter in ``kinds``, the first
    ``required`` of them required, each one's default in ``defaults``.
    ``ValueError`` for another letter or length."""

    def __new__(
        cls, callback: str, kinds: str, required: int, defaults: tuple[Any, ...]
    ) -> SendSpec: ...

@final
class LoadEvent:
    """The load request, field by field (the Python 2 worker's load dict
    has the same keys). Hub strings are ``bytes`` in the hub's encoding."""

    kind: ClassVar[Literal["load"]]
    @property
    def script_id(self) -> int: ...
    @property
    def path(self) -> bytes: ...
    @property
    def botname(self) -> bytes: ...
    @property
    def opchatname(self) -> bytes: ...
    @property
    def config_dir(self) -> bytes: ...
    @property
    def start_time(self) -> int: ...
    @property
    def config_name(self) -> bytes: ...
    @property
    def hub_encoding(self) -> str: ...
    @property
    def generation(self) -> str: ...
    @property
    def hub_cwd(self) -> bytes: ...
    @property
    def semantics(self) -> str: ...

@final
class HookEvent:
    """A hook call; answer it with ``send_hook_result(call_id, …)``."""

    kind: ClassVar[Literal["hook"]]
    @property
    def call_id(self) -> int: ...
    @property
    def hook(self) -> int: ...
    @property
    def args(self) -> list[Any]: ...

@final
class FunctionEvent:
    """A ``w_CallFunction``; answer it with ``send_function_result(call_id, …)``."""

    kind: ClassVar[Literal["function"]]
    @property
    def call_id(self) -> int: ...
    @property
    def name(self) -> bytes: ...
    @property
    def kinds(self) -> str: ...
    @property
    def args(self) -> list[Any]: ...

@final
class ResultEvent:
    """The answer to a main-thread ``vh.*`` or dynamic function call."""

    kind: ClassVar[Literal["result"]]
    @property
    def call_id(self) -> int: ...
    @property
    def ok(self) -> bool: ...
    @property
    def values(self) -> list[Any]: ...
    @property
    def error(self) -> str: ...
    @property
    def kinds(self) -> str: ...

@final
class PingEvent:
    """A health ping; answer it with ``send_pong(seq)``."""

    kind: ClassVar[Literal["ping"]]
    @property
    def seq(self) -> int: ...

@final
class UnloadEvent:
    """The unload request."""

    kind: ClassVar[Literal["unload"]]

@final
class ClosedEvent:
    """The runner's link closed."""

    kind: ClassVar[Literal["closed"]]
    @property
    def reason(self) -> str: ...

_Event: TypeAlias = (
    LoadEvent | HookEvent | FunctionEvent | ResultEvent | PingEvent | UnloadEvent | ClosedEvent
)

@final
class Classic:
    """A classic ``vh`` function whose discarded calls are pipelined,
    compiled: the usual call goes from the script's frame to
    ``Channel.send_as_is`` (the installed runtime's ``as_is``); anything
    else to ``rest(way, args, kwargs)``, an error of that attempt to
    ``failed(error)``; a pipelined call returns ``sent``. Not bound as a
    method; its name, docs and ``__text_signature__`` are set on it."""

    __name__: str
    __qualname__: str
    __text_signature__: str
    def __new__(
        cls,
        send: SendSpec,
        sent: Any,
        rest: Callable[[bool | None, tuple[Any, ...], dict[str, Any] | None], Any],
        failed: Callable[[BaseException], Any],
        runtime: ModuleType,
    ) -> Classic: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, instance: object, owner: type | None = None, /) -> Classic: ...

@final
class DiscardProbe:
    """For the tests: called with any arguments, appends to ``seen`` whether
    its caller discards the result (as ``Classic`` tests it: the innermost
    frame's call) and returns True."""

    def __new__(cls, rules: bytes, seen: list[bool]) -> DiscardProbe: ...
    def __call__(self, *args: Any, **kwargs: Any) -> bool: ...

@final
class Nesting:
    """How deep the script's hooks and function calls nest now: ``depth``
    (running on the main thread) and ``async_pending`` (``async`` ones
    still running on the loop thread). The channel's, which the runtime
    keeps its counts in and ``serve_hooks`` reads and sets."""

    depth: int
    async_pending: int

@final
class Channel:
    """The worker's links: takes ownership of socket ``fd`` (to the runner)
    and, unless ``direct_fd`` is negative, of the direct link to the hub."""

    def __new__(cls, fd: int, direct_fd: int = ...) -> Channel: ...
    @property
    def nesting(self) -> Nesting:
        """The runtime's nesting counts, read and set by ``serve_hooks``."""
    @overload
    def recv_main(self, timeout: None = None) -> _Event: ...
    @overload
    def recv_main(self, timeout: float) -> _Event | None:
        """Next event for the main thread, an object with named fields whose
        ``kind`` says which (``"load"``, ``"hook"``, ``"function"`` for
        ``w_CallFunction``, ``"result"``, ``"unload"``, ``"ping"``,
        ``"closed"``); None after ``timeout`` seconds."""
    def serve_hooks(
        self,
        rt: Any,
        names: tuple[str, ...],
        python_hooks: tuple[int, int],
        max_depth: int,
    ) -> _Event:
        """Runs the hooks the hub fires, plain ones from the frame to the
        script's function and back without Python in between, until an
        event the main loop must handle, which it returns as
        ``recv_main`` does. ``rt`` is the runtime (``vh._runtime.Runtime``),
        ``names`` ``vh._hooks.HOOK_NAMES``, ``python_hooks`` the hooks
        with rules of their own, ``max_depth`` the nesting limit."""
    def send_loaded(self, ok: bool, error: str, hooks: list[int]) -> None:
        """Reports the load outcome and the defined hook indices."""
    def send_hook_result(self, call_id: int, no_opinion: bool, values: list[Any]) -> None:
        """Answers hook ``call_id`` with mapped ``values`` (docs/abi.md §4.4), or
        ``no_opinion`` (NULL)."""
    def send_pong(self, seq: int) -> None:
        """Answers a health ping."""
    def send_function_result(
        self, call_id: int, ok: bool, kind: str, value: Any, error: str
    ) -> None:
        """Answers function call ``call_id``: ``value`` of ``kind`` (``l``,
        ``d``, ``s`` or ``D``) if ``ok``, else NULL with ``error``."""
    def send_unloaded(self) -> None:
        """Confirms an unload."""
    def start_call(self, callback: str, args: list[Any]) -> int:
        """Sends a hub call from the main thread; its result arrives as a
        ``ResultEvent``. Returns the call id."""
    def pipeline_call(self, callback: str, args: list[Any]) -> bool:
        """Sends a hub call whose result the script discards without
        waiting (docs/protocol.md "Pipelined calls"); False, sending
        nothing, unless the hub waits for this script on the direct link."""
    def set_as_is(
        self, charmap: tuple[str, Any] | None, encoding: str, rules: bytes, main_thread: int
    ) -> None:
        """Once per channel: the runtime's hub codec (``ScriptState``'s
        ``charmap`` and ``encoding``), ``vh._discard.RULES`` and its main
        thread's id, for ``send_as_is``. ``RuntimeError`` the second time."""
    def send_as_is(self, spec: SendSpec, args: tuple[Any, ...]) -> bool | None:
        """``pipeline_call`` for a classic function's positional arguments
        as the script passed them, called by that function: False, sending
        nothing, unless its caller discards the result, the thread is the
        main one and the hub waits on the direct link; the usual arguments
        converted here as ``vh._api`` converts them; ``None``, sending
        nothing, for any other argument or count (see
        ``vh._pipeline.as_is_for``)."""
    def call_blocking(
        self, callback: str, args: list[Any], timeout: float | None = None
    ) -> tuple[bool, list[Any], str] | None:
        """Sends a hub call from another thread and waits for ``(ok,
        values, error)``; None after ``timeout`` seconds."""
    def start_dynamic(self, name: bytes, kinds: str, args: list[Any]) -> int:
        """Sends a dynamic function call (``vh.CallDynamicFunction``) from
        the main thread; its result arrives as a ``ResultEvent``.
        Returns the call id."""
    def dynamic_blocking(
        self, name: bytes, kinds: str, args: list[Any], timeout: float | None = None
    ) -> tuple[bool, list[Any], str, str] | None:
        """Sends a dynamic function call from another thread and waits for
        ``(ok, values, error, kinds)``; None after ``timeout`` seconds."""

def caller_discards(rules: bytes, nargs: int) -> bool:
    """``vh._discard.discarded(sys._getframe(1), nargs)`` as seen from the
    Python function that calls this: whether its caller discards the
    result of the call of ``nargs`` arguments it makes. ``rules`` is
    ``vh._discard.RULES``. Never raises."""

def frames_known() -> bool:
    """True if :func:`caller_discards` reads its caller's code and last
    instruction from CPython's frame records (3.11 to 3.13, release
    builds, the reads checked once against the frame objects, not turned
    off by ``VH_PY3_LAYOUT=0``); False if it asks the frame objects."""
