# -*- coding: utf-8 -*-
"""Bounded busy-waiting of the Python 2 worker's main thread for its next
hook on the direct link, as the Python 3 worker does it in Rust
(``vh_proto::direct::wake``; docs/performance.md): waking a thread that
sleeps on another CPU of a VM costs tens of microseconds, more than most
hooks, so while the hub sends hooks densely the main thread checks the
link for a short while before it sleeps.

The budget adapts as :class:`Adaptive` says, and is zero while every CPU
of the machine has something else to run, so spinning never takes a CPU
from the hub thread, another worker or the hub's clients. ``VH_SPIN_US``
(microseconds, 0 = never) sets the largest budget, 50 by default.

Python 2.7 and 3 syntax alike.
"""

import multiprocessing
import os
import time

#: Largest budget unless ``VH_SPIN_US`` says otherwise (s).
DEFAULT_SPIN = 50e-6
#: How often :func:`cpus_busy` reads ``/proc/loadavg`` at most (s).
BUSY_SAMPLE = 0.005


def budget_from_env():
    """``VH_SPIN_US`` in seconds (0 turns spinning off), else
    :data:`DEFAULT_SPIN`; a value that is no whole number is ignored."""
    try:
        return int(os.environ.get("VH_SPIN_US", "").strip()) * 1e-6
    except ValueError:
        return DEFAULT_SPIN


class Adaptive(object):
    """A spin budget that follows how the waits go: a wait that ended
    within :data:`WORTH` times the largest budget (spinning would have
    caught it, or nearly) doubles the budget, up to the largest, starting
    again from an eighth of it; a longer one halves it, down to nothing
    below 1/64 of the largest. So a worker whose hooks come back to back
    spins for the next one, and one that gets a hook now and then soon
    sleeps at once. Main thread only."""

    WORTH = 2

    def __init__(self, largest):
        self._max = max(0.0, largest)
        self._budget = self._max

    def budget(self):
        """How long the next wait may spin (s): the current budget, or 0
        while every CPU is busy."""
        if not self._budget or cpus_busy():
            return 0.0
        return self._budget

    def current(self):
        """The current budget (s), busy CPUs or not (for tests)."""
        return self._budget

    def waited(self, took):
        """Notes that the last wait took ``took`` seconds in all."""
        if not self._max:
            return
        if took <= self._max * self.WORTH:
            self._budget = min(max(self._budget * 2, self._max / 8), self._max)
        else:
            half = self._budget / 2
            self._budget = 0.0 if half < self._max / 64 else half


_give_way = []


def give_way():
    """The function a spinning thread calls between its checks to let
    another thread of the same CPU run first (``sched_yield``, as the
    Python 3 worker's spin does: when the hub thread and the worker share
    one CPU, a spin that does not yield holds the CPU the hub needs to send
    the hook it waits for). Python 2.7 has no ``os.sched_yield``: it is the
    C library's, through ``ctypes``, imported on the first spin; where that
    cannot be had, a function that does nothing."""
    if not _give_way:
        try:
            import ctypes

            fn = ctypes.CDLL(None).sched_yield
            fn.argtypes, fn.restype = [], ctypes.c_int
        except (ImportError, OSError, AttributeError):
            fn = _nothing
        _give_way.append(fn)
    return _give_way[0]


def _nothing():
    return 0


_busy = [False, 0.0]  # [busy, sampled at]
_cpus = []


def cpus_busy():
    """True if the machine has no idle CPU: at least as many threads other
    than the caller are runnable as it has CPUs (the fourth field of
    ``/proc/loadavg``, read at most every :data:`BUSY_SAMPLE`; False if it
    cannot be read)."""
    now = time.time()
    if 0 <= now - _busy[1] < BUSY_SAMPLE:
        return _busy[0]
    _busy[1] = now
    if not _cpus:
        try:
            _cpus.append(multiprocessing.cpu_count())
        except NotImplementedError:
            _cpus.append(1)
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (IOError, OSError, ValueError, IndexError):
        running = 0
    _busy[0] = running - 1 >= _cpus[0]
    return _busy[0]
