"""Pipelined ``vh.*`` calls (docs/protocol.md "Pipelined
calls"): the discarded-result detector on every CPython from 3.9 to 3.13
found, and which calls the classic functions pipeline. The end-to-end
order, round-trip and logging tests are in
tests/hubsim/tests/pipelined_calls.rs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import discard_cases
import pytest

import vh
import vh._core
import vh.strict
from vh import _discard, _pipeline, _runtime
from vh._fake.transport import ResultEvent

HERE = Path(__file__).parent
DISCARD = Path(_discard.__file__)


#: ``vh._core``'s shared object: an abi3 build, which loads on every
#: CPython from 3.9, so its compiled test runs the cases on each of them.
CORE = Path(vh._core.__file__)


#: How the cases are asked: ``vh._discard`` in Python, ``vh._core``'s
#: compiled test reading the frames' records where it knows them (3.11 to
#: 3.13), and the compiled test told to ask the frame objects.
WAYS = {
    "python": (False, {}),
    "compiled": (True, {}),
    "compiled-objects": (True, {"VH_PY3_LAYOUT": "0"}),
}


def check_cases(python: str, way: str, minor: int) -> None:
    """Runs the cases on ``python`` (CPython 3.``minor``) the ``way`` named
    and asserts every answer is right, and that the compiled test read
    the records exactly where it should."""
    compiled, env = WAYS[way]
    got = discard_cases.run(python, DISCARD, CORE if compiled else None, env=env)
    assert got["version"] == [3, minor]
    assert got["supported"] and got["compiled"] == compiled, got
    assert got["tables"] == [], got
    assert got["wrong"] == {}, got
    if compiled:
        assert got["frames_known"] == (not env and 11 <= minor <= 13), got


def pyenv_interpreter(minor: int) -> str | None:
    """``python3.<minor>`` from pyenv's versions, if installed."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    versions = Path(root) / "versions"
    if not versions.is_dir():
        return None
    for v in sorted(versions.iterdir(), reverse=True):
        exe = v / "bin" / f"python3.{minor}"
        if v.name.startswith(f"3.{minor}.") and exe.exists():
            return str(exe)
    return None


@pytest.mark.parametrize("way", WAYS)
def test_detector_on_this_interpreter(way):
    # Always runs: the interpreter of the test suite (3.11 by default);
    # the compiled one is what the classic functions' send_as_is asks.
    check_cases(sys.executable, way, sys.version_info[1])


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13])
def test_detector_on_every_cpython_from_3_9_to_3_13(minor, way):
    python = pyenv_interpreter(minor)
    if python is None:
        pytest.skip(f"no CPython 3.{minor} under pyenv")
    check_cases(python, way, minor)


def test_unknown_versions_never_count_as_discarded():
    assert not _discard.discarded(None, 0)
    assert not _discard.discarded(sys._getframe(), 300)


class PipeChannel:
    """A stand-in transport with the pipelined path: records every call
    as ``(how, callback, args)``; ``pipeline_call`` accepts unless told
    not to (the hub is not waiting on the direct link)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list]] = []
        self.events: list[tuple] = []
        self.accept = True

    def pipeline_call(self, callback: str, args: list) -> bool:
        if self.accept:
            self.calls.append(("pipelined", callback, args))
        return self.accept

    def start_call(self, callback: str, args: list) -> int:
        self.calls.append(("waited", callback, args))
        call_id = len(self.calls)
        self.events.append(ResultEvent(call_id, True, [3 if callback == "GetUserClass" else 1]))
        return call_id

    def recv_main(self, timeout=None):
        return self.events.pop(0) if self.events else None

    def call_blocking(self, callback: str, args: list, timeout=None):
        self.calls.append(("thread", callback, args))
        return True, [1], ""


@pytest.fixture
def pipe():
    ch = PipeChannel()
    _runtime.install(_runtime.Runtime(ch, "cp1252"))
    yield ch
    _runtime._runtime = None


def test_discarded_sends_are_pipelined_and_used_results_wait(pipe):
    vh.usermc("hi", "alice")
    vh.pm("psst", "alice", "bot")
    ok = vh.mc("used")
    level = vh.GetUserClass("alice")
    vh.KickUser("op", "bob", "fires OnOperatorKicks: waits")
    vh.strict.usermc("strict: waits", "alice")
    assert (ok, level) == (True, 3)
    assert [(how, cb) for how, cb, _ in pipe.calls] == [
        ("pipelined", "usermc"),
        ("pipelined", "pm"),
        ("waited", "mc"),
        ("waited", "GetUserClass"),
        ("waited", "KickUser"),
        ("waited", "usermc"),
    ]
    assert pipe.calls[0][2] == [b"hi", b"alice", None]


def test_a_send_the_hub_cannot_take_pipelined_waits(pipe):
    pipe.accept = False
    vh.usermc("hi", "alice")
    assert [how for how, _, _ in pipe.calls] == ["waited"]


def test_other_threads_never_pipeline(pipe):
    import threading

    t = threading.Thread(target=lambda: vh.usermc("from a thread", "alice"))
    t.start()
    t.join()
    assert [how for how, _, _ in pipe.calls] == ["thread"]


def test_the_pipelined_list_holds_only_sends_that_fire_no_hook():
    from vh._functions import BY_NAME

    for name in _pipeline.CALLBACKS:
        assert BY_NAME[name].result == "bool", name
    for fires_hooks in (
        "KickUser",
        "ParseCommand",
        "ScriptCommand",
        "SetConfig",
        "CloseConnection",
    ):
        assert fires_hooks not in _pipeline.CALLBACKS


def test_vh_pipeline_calls_0_turns_it_off(pipe, monkeypatch):
    monkeypatch.setattr(_pipeline, "ENABLED", False)
    vh.usermc("hi", "alice")
    assert [how for how, _, _ in pipe.calls] == ["waited"]
