"""The worker's connection to the hub, seen from Python.

One worker runs one script. Its main thread receives every hook and runs
the script's hook functions. :class:`Runtime` is that script's state and
link; it is built in layers, one module each, every layer on the one
below (so that imports go one way):

* ``vh._script_state``: the script's state, hub strings and JSON to and
  from Python, the asyncio loop, health pings;
* ``vh._hook_dispatch``: one hook, plain or ``async def``, run for the
  script, its nesting, and its result converted for the hub (§4.3, §4.4,
  §9.2);
* ``vh._function_calls``: generation B's ``w_CallFunction`` and its result
  converted for C (§3.9);
* ``vh._calls``: ``vh.*`` and dynamic function calls, from the main thread
  (serving the hooks the hub fires meanwhile) or any other (§3.10, §9.2);
* this module: the script's unload, and the runtime ``vh.*`` calls use
  (:func:`get`, :func:`install`).

What the main thread does with each event it receives (a hook, a function
call, a ping, an answer) is ``vh._main_loop``, the one switch the Python 2
worker shares; its limits are ``vh._limits``. Which generation's semantics
the script runs with is ``vh._generation``; the stdlib helpers an idle
worker does not import are ``vh._lazy``.
"""

from __future__ import annotations

from ._calls import CallOutcome, Calls, DynamicOutcome
from ._errors import NotConnectedError
from ._function_calls import JSON_TYPES
from ._lazy import isawaitable, print_exc
from ._limits import MAX_DEPTH
from ._main_loop import ON_SCRIPT_COMMAND

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# Names other modules and the shim's docs take from here.
__all__ = [
    "JSON_TYPES",
    "MAX_DEPTH",
    "ON_SCRIPT_COMMAND",
    "CallOutcome",
    "DynamicOutcome",
    "Runtime",
    "current",
    "get",
    "install",
]


class Runtime(Calls):
    """State of the one script this worker runs, and its link to the hub.

    ``channel`` is a ``vh._core.Channel`` in a worker, or the in-process
    fake of ``vh.testing``; ``encoding`` is a Python codec name.
    """

    def run_unload(self, timeout: float = 1.5) -> None:
        """Calls the script's ``UnLoad()`` (docs/abi.md §7.5; an ``async def UnLoad``
        is awaited on the loop, up to ``timeout`` seconds), then stops the
        asyncio loop, cancelling what still runs there. Both fit in the
        runner's 3 s grace for a worker to exit after an unload."""
        unload = getattr(self.module, "UnLoad", None)
        if callable(unload):
            try:
                result = unload()
                if isawaitable(result):
                    self._wait_on_loop(result, timeout)
            except Exception:
                print_exc()
        self.stop_loop()

    def _wait_on_loop(self, aw: Any, timeout: float) -> None:
        import concurrent.futures

        future = self.loop_thread().submit(aw)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            print(f"vh: UnLoad did not finish within {timeout} s", flush=True)


_runtime: Optional[Runtime] = None


def get() -> Runtime:
    """The worker's runtime, or a clear error outside a worker."""
    if _runtime is None:
        raise NotConnectedError(
            "vh is not connected to a hub: scripts run under vh-runner "
            "(the hub loads them with !pyload), and tests use the vh.testing harness"
        )
    return _runtime


def current() -> Optional[Runtime]:
    """The installed runtime, or None."""
    return _runtime


def install(runtime: Optional[Runtime]) -> None:
    """Makes ``runtime`` the one ``vh.*`` calls use (None: none)."""
    global _runtime
    _runtime = runtime
