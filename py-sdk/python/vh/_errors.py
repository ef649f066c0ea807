"""The exceptions of the ``vh`` package.

The classic functions (``vh.mc``, ``vh.GetUserIP``, …) keep generation A's
results (``False``/``None`` on failure, docs/abi.md §7.2) so that
unchanged scripts behave as before; only a lost link raises there (a call
too big to send also returns the failure value, with a line in the log).
The strict forms (``vh.strict``, ``vh.aio``) raise these instead.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class VhError(Exception):
    """Base class of every error the ``vh`` package raises on purpose."""


class NotConnectedError(VhError, RuntimeError):
    """A ``vh.*`` function was called outside a vh-runner worker (and outside
    a ``vh.testing.FakeHub``), or the link to the runner is gone."""


class HubRefusedError(VhError):
    """The hub callback behind a strict function reported failure (returned
    NULL, docs/abi.md §6.2), or the shim could not call it.

    Attributes:
        callback: the hub callback's name (docs/abi.md §6.1), e.g. ``"usermc"``.
        reason: the shim's explanation when it gave one (e.g. the callback
            does not exist in this plugin generation), else ``""``.
    """

    def __init__(self, callback: str, reason: str = "") -> None:
        self.callback = callback
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"the hub refused {callback}(){detail}")


class HubTimeoutError(VhError, TimeoutError):
    """No answer from the hub within the ``timeout`` a strict function was
    given. The call was sent and may still run later (at the hub's next
    entry into the shim); only the wait ended.

    Attributes:
        callback: the hub callback's name.
        timeout: the wait, in seconds.
    """

    def __init__(self, callback: str, timeout: Optional[float]) -> None:
        self.callback = callback
        self.timeout = timeout
        super().__init__(f"no answer from the hub to {callback}() within {timeout} s")


class MessageTooBigError(VhError, ValueError):
    """A ``vh.*`` call, a hook's result or a function's result is too big to
    send to the hub: its message would exceed the links' 16 MiB limit (the
    exact limit leaves room for the runner's envelope). Nothing was sent;
    the link, the worker and every other call go on. The classic functions
    return their failure value instead (docs/abi.md §7.2); a hook whose result is
    too big allows, as one that raised.

    Attributes:
        size: the encoded message's size in bytes.
        limit: the largest size that may be sent, in bytes.
    """

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} of {size} bytes exceeds the limit of {limit} bytes ({limit / 2**20:.1f} MiB)"
        )
