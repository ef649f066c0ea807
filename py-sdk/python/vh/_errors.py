"""The exceptions of the ``vh`` package.

The classic functions (``vh.mc``, ``vh.GetUserIP``, …) keep generation A's
results (``False``/``None`` on failure, spec/wrapper-abi.md §7.2) so that
unchanged scripts behave as before; only a lost link raises there. The
strict forms (``vh.strict``, ``vh.aio``) raise these instead.
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
    NULL, spec §6.2), or the shim could not call it.

    Attributes:
        callback: the hub callback's name (spec §6.1), e.g. ``"usermc"``.
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
