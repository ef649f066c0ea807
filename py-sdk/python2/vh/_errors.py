# -*- coding: utf-8 -*-
"""The exceptions of the Python 2 ``vh`` package, named as in the Python 3
one (``py-sdk/python/vh/_errors.py``). The classic functions keep
generation A's failure values (docs/abi.md §7.2); only a lost link
raises."""


class VhError(Exception):
    """Base class of every error the ``vh`` package raises on purpose."""


class NotConnectedError(VhError, RuntimeError):
    """A ``vh.*`` function was called outside a worker, or the link to the
    runner is gone."""


class MessageTooBigError(VhError, ValueError):
    """A call or a result is too big to send (over the links' 16 MiB
    limit, less the runner's room); nothing was sent. ``size`` and
    ``limit`` are in bytes."""

    def __init__(self, what, size, limit):
        self.size = size
        self.limit = limit
        VhError.__init__(
            self,
            "%s of %d bytes exceeds the limit of %d bytes (%.1f MiB)"
            % (what, size, limit, limit / float(2**20)),
        )
