"""The transport of a worker process (Rust, py-sdk/src/channel.rs): frames to
and from the runner on a socketpair, read on a background thread with the
GIL released. Hub values are ``bytes`` (hub strings and JSON documents),
``int``, ``float`` or ``None`` (a NULL string); where a JSON document must
be told from a string, a *kinds* string goes with them, one format
character per value (``l``, ``s``, ``d``, ``D``)."""

from typing import Any, final, overload

__all__ = ["Channel", "LoadEvent", "__version__"]

__version__: str

@final
class LoadEvent:
    """The load request, field by field (the Python 2 worker's load dict
    has the same keys). Hub strings are ``bytes`` in the hub's encoding."""

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
class Channel:
    """The worker's links: takes ownership of socket ``fd`` (to the runner)
    and, unless ``direct_fd`` is negative, of the direct link to the hub."""

    def __new__(cls, fd: int, direct_fd: int = ...) -> Channel: ...
    @overload
    def recv_main(self, timeout: None = None) -> tuple[Any, ...]: ...
    @overload
    def recv_main(self, timeout: float) -> tuple[Any, ...] | None:
        """Next event for the main thread: ``("load", LoadEvent)``,
        ``("hook", call_id, hook, args)``,
        ``("function", call_id, name, kinds, args)`` (``w_CallFunction``),
        ``("result", call_id, ok, values, error, kinds)``, ``("unload",)``,
        ``("ping", seq)`` or ``("closed", reason)``; None after ``timeout``
        seconds."""
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
        ``("result", …)`` event. Returns the call id."""
    def pipeline_call(self, callback: str, args: list[Any]) -> bool:
        """Sends a hub call whose result the script discards without
        waiting (docs/protocol.md "Pipelined calls"); False, sending
        nothing, unless the hub waits for this script on the direct link."""
    def call_blocking(
        self, callback: str, args: list[Any], timeout: float | None = None
    ) -> tuple[bool, list[Any], str] | None:
        """Sends a hub call from another thread and waits for ``(ok,
        values, error)``; None after ``timeout`` seconds."""
    def start_dynamic(self, name: bytes, kinds: str, args: list[Any]) -> int:
        """Sends a dynamic function call (``vh.CallDynamicFunction``) from
        the main thread; its result arrives as a ``("result", …)`` event.
        Returns the call id."""
    def dynamic_blocking(
        self, name: bytes, kinds: str, args: list[Any], timeout: float | None = None
    ) -> tuple[bool, list[Any], str, str] | None:
        """Sends a dynamic function call from another thread and waits for
        ``(ok, values, error, kinds)``; None after ``timeout`` seconds."""
