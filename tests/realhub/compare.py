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
    diff = "\n".join(difflib.unified_diff(a, b, "in-process", "vh-runner", lineterm="", n=2))
    raise AssertionError(f"{what} differ between in-process and vh-runner:\n{diff}")


# The hub's own user lists come in the order of its hash tables, which
# differs between two runs of the same hub in the same mode (seen: the bots
# OpChat and VerliHub swap places, a new user's own $MyINFO moves within
# the login list). Only the order is normalised; every member is compared.
_LIST_MSG = re.compile(rb"^\$(OpList|NickList|BotList) (.*)$", re.S)


# 30_readme_style.py's ".ops" answer joins vh.GetOpList() as the README does
_OPS_REPLY = re.compile(rb"^(<VerliHub> Operators: )(.*)$", re.S)


def _sorted_raw_list(m: bytes) -> bytes:
    ops = _OPS_REPLY.match(m)
    if ops:
        return ops.group(1) + b", ".join(sorted(ops.group(2).split(b", ")))
    got = _LIST_MSG.match(m)
    if not got:
        return m
    names = [n for n in got.group(2).split(b"$$") if n]
    return b"$" + got.group(1) + b" " + b"".join(n + b"$$" for n in sorted(names))


def normalise_list_order(msgs: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    run: list[bytes] = []
    for m in msgs + [b""]:
        if m.startswith(b"$MyINFO "):
            run.append(m)
            continue
        out.extend(sorted(run))
        run = []
        out.append(_sorted_raw_list(m))
    return out[:-1]


LIST_RESULTS = (
    "GetNickList",
    "GetOpList",
    "GetBotList",
    "GetRawNickList",
    "GetRawOpList",
    "GetRawBotList",
    "import GetNickList",
)


def normalise_api_list_order(line: str) -> str:
    """`label<TAB>repr` of a list result with its members sorted."""
    label, _, value = line.partition("\t")
    if not label.startswith(LIST_RESULTS):
        return line
    if value.startswith("["):
        members = re.findall(r"'(?:[^'\\]|\\.)*'", value)
        return f"{label}\t[{', '.join(sorted(members))}]"
    if value.startswith("'$"):
        raw = _sorted_raw_list(value[1:-1].encode("latin-1")).decode("latin-1")
        return f"{label}\t'{raw}'"
    return line


def assert_clients_same(gen: str, inproc, runner, departures=None):
    """Every client of the two sessions (`session.Result`s) received the
    same, normalised as above; `departures(nick, a, b)` returns the two
    lists with the named departures taken out, each asserted there."""
    assert set(inproc.received) == set(runner.received)
    for nick in inproc.received:
        a = normalise_list_order(normalise_received(inproc.received[nick]))
        b = normalise_list_order(normalise_received(runner.received[nick]))
        if departures is not None:
            a, b = departures(nick, a, b)
        assert_same(f"generation {gen}: what {nick!r} received", a, b)
