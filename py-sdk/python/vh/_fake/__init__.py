"""The fake hub of ``vh.testing``: state (``state``) and the hub callbacks
(``users``, ``hub``) in one class, :class:`HubModel`."""

from __future__ import annotations

from .._functions import FUNCTIONS
from .hub import HubCallbacks
from .state import Answer, Ban, HubState, User
from .users import UserCallbacks

__all__ = ["HubModel", "HubState", "User", "Ban", "Answer", "CALLBACKS", "REENTRANT"]


class HubModel(UserCallbacks, HubCallbacks):
    """The fake hub: its state, and one method per hub callback, named like
    it (docs/abi.md §6.1)."""


#: Every callback a ``vh`` function uses (docs/abi.md §6.1).
CALLBACKS = frozenset(spec.callback for spec in FUNCTIONS)

#: Callbacks that fire hooks: they run without holding the hub lock, so
#: that the hooks' own calls (from any thread) can run.
REENTRANT = frozenset({"SetConfig", "KickUser", "ParseCommand", "ScriptCommand"})
