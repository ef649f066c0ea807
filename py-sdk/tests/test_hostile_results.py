"""Hostile hub results at the frame level, with a real worker (``python -m vh.worker``,
the real transport) driven by the Python stand-in for the runner
(``wire.py``): hub callbacks that answer in another format than their own
(docs/abi.md §6.3) give the classic failure value (§7.2) and
``HubRefusedError`` in ``vh.strict``, never another exception; and calls or
hook results over the 16 MiB message limit fail alone, with
``MessageTooBigError``, while the link goes on."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from wire import FakeRunner, ack, hook_msg

import vh
from vh import _results
from vh._hooks import HOOK_INDEX

CHAT = HOOK_INDEX["OnParsedMsgChat"]

#: ``!probe <case>`` calls the function of that case, classic then strict,
#: and reports both through ``vh.mc`` (which the runner acknowledges).
PROBE = """
import vh, vh.strict

CALLS = {
    "GetUserClass": lambda m: m.GetUserClass("op"),
    "GetServFreq": lambda m: m.GetServFreq(),
    "GetUserIP": lambda m: m.GetUserIP("op"),
    "GetMyINFO": lambda m: m.GetMyINFO("op"),
    "GetNickList": lambda m: m.GetNickList(),
    "GetRawNickList": lambda m: m.GetRawNickList(),
    "UserRestrictions": lambda m: m.UserRestrictions("op"),
    "SQL": lambda m: m.SQL("select 1"),
    "GetGeoIP": lambda m: m.GetGeoIP("1.2.3.4"),
    "name_and_version": lambda m: m.name_and_version(),
    "GetUsersCount": lambda m: m.GetUsersCount(),
}

def describe(module, name):
    try:
        return "ok %r" % (CALLS[name](module),)
    except Exception as e:
        return "raised %s: %s" % (type(e).__name__, e)

def OnParsedMsgChat(nick, message):
    name = message.split()[1]
    vh.mc("classic=%s" % describe(vh, name))
    vh.mc("strict=%s" % describe(vh.strict, name))
    return 0
"""

#: A GeoIP record in its own format: 'sdsdslsl' and 13 string pairs.
GEOIP = [b"latitude", 1.5, b"longitude", 2.5, b"metro_code", 3, b"area_code", 4] + [
    b"k%d" % (i // 2) if i % 2 == 0 else b"v" for i in range(26)
]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    runners: list[FakeRunner] = []

    def start(source: str) -> FakeRunner:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source), encoding="utf-8")
        runner = FakeRunner(script)
        runners.append(runner)
        loaded = runner.until("loaded", ack)
        assert loaded["ok"], loaded["error"]
        return runner

    yield start
    for runner in runners:
        runner.close()


def probe(runner: FakeRunner, call_id: int, name: str, values: list[Any]) -> tuple[str, str]:
    """What the classic and the strict function of ``name`` gave when its
    callback answered ``values``."""

    def answer(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        return (True, [1]) if callback == "mc" else (True, values)

    runner.send(hook_msg(call_id, CHAT, [b"op", b"!probe " + name.encode()]))
    runner.until("hook_result", answer, call_id=call_id)
    reports = [c["args"][0].decode() for c in runner.calls if c["callback"] == "mc"][-2:]
    classic, strict = reports
    return classic.removeprefix("classic="), strict.removeprefix("strict=")


#: (function, an answer in another format, the classic failure value).
WRONG = [
    ("GetUserClass", [b"junk", 0.5], None),
    ("GetUserClass", [b"12"], None),
    ("GetUserClass", [None], None),
    ("GetServFreq", [b"junk", 0.5], None),
    ("GetServFreq", [b"1.5"], None),
    ("GetUserIP", [7], None),
    ("GetUserIP", [b"1.2.3.4", b"5.6.7.8"], None),
    ("GetUserIP", [], None),
    ("GetMyINFO", [b"junk", 0.5], None),
    ("GetMyINFO", [b"a"] * 5, None),
    ("GetNickList", [b"junk", 0.5], None),
    ("GetRawNickList", [3], None),
    ("UserRestrictions", [b"junk"], None),
    ("SQL", [b"junk", 0.5], (0, [])),
    ("SQL", [1, 2, 2, b"a"], (0, [])),
    ("SQL", [1, -1, 2], (0, [])),
    ("GetGeoIP", [b"junk", 0.5], None),
    ("GetGeoIP", [b"latitude", b"x"] + GEOIP[2:], None),
    ("GetGeoIP", GEOIP + [b"odd"], None),
    ("name_and_version", [b"junk", 0.5], None),
    ("GetUsersCount", [0.5], None),
]


@pytest.mark.parametrize("name,values,failure", WRONG)
def test_a_wrong_format_gives_the_classic_failure_value_and_hub_refused(
    start: Any, name: str, values: list[Any], failure: Any
) -> None:
    runner = start(PROBE)
    classic, strict = probe(runner, 1, name, values)
    assert classic == "ok %r" % (failure,)
    assert strict.startswith("raised HubRefusedError: the hub refused"), strict
    assert "expected" in strict, strict


#: (function, an answer in its own format, what the classic function gives).
RIGHT = [
    ("GetUserClass", [-2], -2),
    ("GetServFreq", [1.5], 1.5),
    ("GetUserIP", [b"1.2.3.4"], "1.2.3.4"),
    ("GetMyINFO", [b"op", b"d", b"t", b"s", b"e", b"1"], ("op", "d", "t", "s", "e", "1")),
    ("GetNickList", [b"$NickList a$$b$$"], ["a", "b"]),
    ("UserRestrictions", [5], {"chat": True, "pm": False, "search": True, "ctm": False}),
    ("SQL", [1, 1, 2, b"a", None], (1, [["a", "NULL"]])),
    ("SQL", [1, 0, 0], (1, [])),
    ("name_and_version", [b"n", b"1.0"], ("n", "1.0")),
]


def test_results_in_their_own_format_still_pass(start: Any) -> None:
    runner = start(PROBE)
    for i, (name, values, expected) in enumerate(RIGHT):
        classic, strict = probe(runner, i + 1, name, values)
        assert classic == "ok %r" % (expected,), name
        assert not strict.startswith("raised"), (name, strict)
    classic, _ = probe(runner, 99, "GetGeoIP", GEOIP)
    assert classic.startswith("ok {'latitude': 1.5, 'longitude': 2.5, 'metro_code': 3"), classic


def test_malformed_names_the_format_the_hub_gave() -> None:
    assert _results.malformed("float", [b"junk", 0.5]) == "the hub answered 'sd', expected 'd'"
    assert _results.malformed("int", [True]) is not None
    assert _results.malformed("bool", [b"anything", 1.0]) is None


BIG = 17_000_000


def test_calls_and_results_over_the_limit_fail_alone(start: Any) -> None:
    runner = start(
        f"""
        import threading, vh, vh.strict

        def report(what):
            vh.mc(what)

        def strict_error(fn):
            try:
                fn()
            except vh.MessageTooBigError as e:
                kind = type(e).__name__
                return "%s %d %d %s" % (kind, e.size, e.limit, isinstance(e, ValueError))
            return "no error"

        def OnParsedMsgChat(nick, message):
            if message == "calls":
                report("classic=%r" % vh.usermc("b" * {BIG}, nick))
                report("strict=" + strict_error(lambda: vh.strict.usermc("b" * {BIG}, nick)))
                results = []
                t = threading.Thread(target=lambda: results.append(vh.usermc("b" * {BIG}, nick)))
                t.start()
                t.join()
                report("thread=%r" % results)
                return 0
            if message == "result":
                return "r" * {BIG}
            return 1
        """
    )
    runner.send(hook_msg(1, CHAT, [b"op", b"calls"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [0]
    # Only the reports reached the runner: the big calls were never sent.
    reports = [c["args"][0].decode() for c in runner.calls]
    assert reports[0] == "classic=False"
    kind, size, limit, is_value_error = reports[1].removeprefix("strict=").split()
    assert kind == "MessageTooBigError" and is_value_error == "True"
    assert int(size) > BIG and int(limit) < 16 * 2**20 < int(size)
    assert reports[2:] == ["thread=[False]"]
    # A hook result over the limit: the hook allows (no substitution).
    runner.send(hook_msg(2, CHAT, [b"op", b"result"]))
    assert runner.until("hook_result", ack, call_id=2)["values"] == [1]
    # The link is up: the next hook is answered as usual.
    runner.send(hook_msg(3, CHAT, [b"op", b"other"]))
    assert runner.until("hook_result", ack, call_id=3)["values"] == [1]
    assert runner.proc.poll() is None


def test_message_too_big_error_is_exported() -> None:
    assert issubclass(vh.MessageTooBigError, vh.VhError)
    e = vh.MessageTooBigError("the call vh.mc()", 20, 10)
    assert (e.size, e.limit) == (20, 10)
    assert str(e).startswith("the call vh.mc() of 20 bytes exceeds the limit of 10 bytes")
