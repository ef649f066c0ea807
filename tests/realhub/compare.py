"""Normalising and comparing what two sessions produced.

Only what must differ between two runs of the same session is normalised,
each with its reason; everything else is compared byte for byte.
"""

from __future__ import annotations

import difflib
import re

# What differs between any two runs of the same hub, in-process or not:
NORMALISE_RECEIVED = [
    # the hub's $Lock carries a random number per connection
    (re.compile(rb"^\$Lock EXTENDEDPROTOCOL_NMDC_\d+ "), rb"$Lock EXTENDEDPROTOCOL_NMDC_<n> "),
    # the greeting's uptime is wall-clock time since the hub started
    (re.compile(rb"^<VerliHub> Uptime: .*$", re.S), rb"<VerliHub> Uptime: <t>"),
    # "+myinfo"/login info: the last login is the wall clock of this run
    (re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), rb"<date>"),
]


def normalise_received(msgs: list[bytes]) -> list[bytes]:
    out = []
    for m in msgs:
        for rx, repl in NORMALISE_RECEIVED:
            m = rx.sub(repl, m)
        out.append(m)
    return out


def lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "backslashreplace").splitlines()


def assert_same(what: str, inproc: list, runner: list):
    """Fails with a unified diff of the two lists (in-process first)."""
    if inproc == runner:
        return
    a = [x if isinstance(x, str) else repr(x) for x in inproc]
    b = [x if isinstance(x, str) else repr(x) for x in runner]
    diff = "\n".join(
        difflib.unified_diff(a, b, "in-process", "vh-runner", lineterm="", n=2)
    )
    raise AssertionError(f"{what} differ between in-process and vh-runner:\n{diff}")
