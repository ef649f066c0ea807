"""A real worker process (``python -m vh.worker``, the real transport
``vh._core``) driven by a Python stand-in for the runner (``wire.py``):
async hooks, nested hooks, calls from threads and from the asyncio loop,
timeouts, pings and unload, at the frame level."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from wire import FakeRunner, ack, call_result_msg, hook_msg, ping_msg, unload_msg

from vh._hooks import HOOK_INDEX

CHAT = HOOK_INDEX["OnParsedMsgChat"]
LOGIN = HOOK_INDEX["OnUserLogin"]
SET_CONFIG = HOOK_INDEX["OnSetConfig"]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    runners: list[FakeRunner] = []

    def start(source: str, **kw: Any) -> FakeRunner:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source), encoding="utf-8")
        runner = FakeRunner(script, env={"VH_TEST_DIR": str(tmp_path)}, **kw)
        runners.append(runner)
        loaded = runner.until("loaded", ack)
        assert loaded["ok"], loaded["error"]
        return runner

    yield start
    for runner in runners:
        runner.close()


def test_a_script_whose_attribute_lookup_raises_still_loads(start: Any) -> None:
    # The worker's own look-up of the hooks a script defines must not fail
    # a load the plugin lets through: a module-level __getattr__ that
    # raises only means "no such hook".
    runner = start(
        """
        def __getattr__(name):
            raise RuntimeError("no " + name)

        def OnParsedMsgChat(nick, message):
            return 0
        """
    )
    runner.send(hook_msg(1, CHAT, [b"a", b"m"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [0]


def test_hook_functions_are_looked_up_at_each_hook_dict_or_module_getattr(
    start: Any,
) -> None:
    # The compiled loop reads a plain module's dict first; what is not
    # there still comes from the module's own __getattr__, and a function
    # the script rebinds is the one the next hook calls (as the plugin's
    # getattr at each hook gives).
    runner = start(
        """
        def __getattr__(name):
            if name == "OnUserLogin":
                return lambda nick: 7
            raise AttributeError(name)

        def second(nick, message):
            return 3

        def OnParsedMsgChat(nick, message):
            global OnParsedMsgChat
            OnParsedMsgChat = second
            return 2
        """
    )
    runner.send(hook_msg(1, LOGIN, [b"bob"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [7]
    runner.send(hook_msg(2, CHAT, [b"a", b"m"]))
    assert runner.until("hook_result", ack, call_id=2)["values"] == [2]
    runner.send(hook_msg(3, CHAT, [b"a", b"m"]))
    assert runner.until("hook_result", ack, call_id=3)["values"] == [3]


@pytest.mark.parametrize(
    ("encoding", "line"),
    [("cp1252", b"plain ascii"), ("cp1252", b"caf\xe9"), ("cp037", b"\x41\xc1")],
)
def test_hub_strings_decode_as_their_codec_ascii_or_not(
    start: Any, encoding: str, line: bytes
) -> None:
    # An all-ASCII string takes the UTF-8 decoder only where the hub's
    # charmap maps ASCII to itself (CP1252); EBCDIC's cp037 does not
    # (0x41 is U+00A0 there), so it keeps the table.
    runner = start(
        """
        def OnParsedMsgChat(nick, message):
            return " ".join(str(ord(c)) for c in message)
        """,
        encoding=encoding,
    )
    runner.send(hook_msg(1, CHAT, [b"a", line]))
    want = " ".join(str(ord(c)) for c in line.decode(encoding)).encode(encoding)
    assert runner.until("hook_result", ack, call_id=1)["values"] == [None, want]


def test_async_hook_results_map_like_plain_ones(start: Any) -> None:
    runner = start(
        """
        import asyncio

        async def OnParsedMsgChat(nick, message):
            await asyncio.sleep(0.01)
            if message == "block":
                return 0
            if message == "raise":
                raise RuntimeError("boom")
            return message.upper()
        """,
        encoding="cp1251",
    )
    runner.send(hook_msg(1, CHAT, [b"\xc4", b"block"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [0]
    runner.send(hook_msg(2, CHAT, [b"\xc4", b"\xe4\xe0"]))  # "да" in CP1251
    assert runner.until("hook_result", ack, call_id=2)["values"] == [None, b"\xc4\xc0"]
    runner.send(hook_msg(3, CHAT, [b"x", b"raise"]))
    assert runner.until("hook_result", ack, call_id=3)["values"] == [1]


def test_aio_calls_in_an_async_hook_reach_the_hub_with_their_answers(start: Any) -> None:
    runner = start(
        """
        import vh, vh.aio

        async def OnUserLogin(nick):
            uclass = await vh.aio.GetUserClass(nick)
            await vh.aio.usermc("class %d" % uclass, nick)
            try:
                await vh.aio.pm("hi", nick)
            except vh.HubRefusedError as e:
                return ("refused: %s" % e.reason, 0)
            return 1
        """
    )

    def hub(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        if callback == "GetUserClass":
            return True, [3]
        if callback == "pm":
            return False, []
        return True, [1]

    runner.send(hook_msg(5, LOGIN, [b"bob"]))
    result = runner.until("hook_result", hub, call_id=5)
    assert [(c["callback"], c["args"]) for c in runner.calls] == [
        ("GetUserClass", [b"bob"]),
        ("usermc", [b"class 3", b"bob", None]),
        ("pm", [b"hi", b"bob", None, None]),
    ]
    assert result["values"] == [b"refused: ", 0]


@pytest.mark.parametrize("nested", ["def", "async def"])
def test_a_hook_nested_in_an_async_hooks_call_is_served(start: Any, nested: str) -> None:
    runner = start(
        f"""
        import vh, vh.aio
        seen = []

        async def OnParsedMsgChat(nick, message):
            await vh.aio.SetConfig("config", "x", message)
            await vh.aio.mc("inner saw %s" % seen)
            return 0

        {nested} OnSetConfig(nick, conf, var, new, old, type_id):
            seen.append(new)
            return 1
        """
    )
    nested_results: list[Any] = []

    def hub(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        if callback == "SetConfig":  # the hub fires OnSetConfig inside the call
            runner.send(hook_msg(100, SET_CONFIG, [b"Verlihub", b"config", b"x", args[2], b"", -1]))
            nested_results.append(runner.until("hook_result", hub, call_id=100)["values"])
            return False, []  # as the plugin answers SetConfig (docs/abi.md §6.3)
        return True, [1]

    runner.send(hook_msg(1, CHAT, [b"alice", b"v1"]))
    assert runner.until("hook_result", hub, call_id=1)["values"] == [0]
    assert nested_results == [[1]]
    assert runner.calls[-1]["args"][0] == b"inner saw ['v1']"


def test_the_main_thread_serves_hooks_while_an_async_hook_waits(start: Any) -> None:
    runner = start(
        """
        import asyncio, threading

        release = threading.Event()

        async def OnParsedMsgChat(nick, message):
            while not release.is_set():
                await asyncio.sleep(0.005)
            return 0

        def OnUserLogin(nick):
            release.set()
            return 1
        """
    )
    runner.send(hook_msg(1, CHAT, [b"a", b"slow"]))
    runner.send(hook_msg(2, LOGIN, [b"a"]))
    first = runner.recv()
    second = runner.recv()
    assert first == ("hook_result", {"call_id": 2, "no_opinion": False, "values": [1]})
    assert second == ("hook_result", {"call_id": 1, "no_opinion": False, "values": [0]})


def test_calls_from_threads_keep_their_order_and_get_their_own_answers(start: Any) -> None:
    runner = start(
        """
        import threading, vh

        def work(t):
            wrong = 0
            for j in range(15):
                if vh.GetUserClass("%d.%d" % (t, j)) != t * 100 + j:
                    wrong += 1
            vh.mc("done %d wrong %d" % (t, wrong))

        def OnUserLogin(nick):
            for t in range(4):
                threading.Thread(target=work, args=(t,)).start()
        """
    )
    runner.send(hook_msg(1, LOGIN, [b"x"]))
    seen: dict[int, list[int]] = {}
    done: list[bytes] = []
    pending: list[tuple[int, int, int]] = []
    # Hold the calls until every running thread waits for one, then answer
    # them in reverse order: each thread must still get its own answer.
    while len(done) < 4:
        kind, call = runner.recv()
        if kind == "hook_result":
            continue
        if call["callback"] == "mc":
            done.append(call["args"][0])
            runner.send(call_result_msg(call["call_id"], True, [1]))
        else:
            t, j = (int(x) for x in call["args"][0].split(b"."))
            seen.setdefault(t, []).append(j)
            pending.append((call["call_id"], t, j))
        if pending and len(pending) + len(done) == 4:
            for call_id, t, j in reversed(pending):
                runner.send(call_result_msg(call_id, True, [t * 100 + j]))
            pending.clear()
    assert sorted(done) == [b"done %d wrong 0" % t for t in range(4)]
    assert seen == {t: list(range(15)) for t in range(4)}


def test_strict_timeouts_on_the_main_thread_and_on_others(start: Any) -> None:
    runner = start(
        """
        import threading, vh, vh.strict

        outcome = []

        def in_thread():
            try:
                vh.strict.GetUserIP("t", timeout=0.1)
            except vh.HubTimeoutError as e:
                outcome.append("thread timeout after %s s" % e.timeout)

        def OnParsedMsgChat(nick, message):
            try:
                vh.strict.GetUserIP(nick, timeout=0.1)
            except vh.HubTimeoutError:
                t = threading.Thread(target=in_thread)
                t.start()
                t.join()
                return ("; ".join(outcome + ["main timeout", str(vh.GetUserClass(nick))]), 1)
            return 1
        """
    )
    ignored: list[int] = []

    def hub(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        return True, [5]

    runner.send(hook_msg(1, CHAT, [b"eve", b"x"]))
    while True:  # never answer GetUserIP; answer it late, after the hook
        kind, fields = runner.recv()
        if kind == "hub_call" and fields["callback"] == "GetUserIP":
            ignored.append(fields["call_id"])
        elif kind == "hub_call":
            runner.send(call_result_msg(fields["call_id"], True, [5]))
        elif kind == "hook_result":
            break
    assert fields["values"] == [b"thread timeout after 0.1 s; main timeout; 5", 1]
    for call_id in ignored:  # late answers are dropped
        runner.send(call_result_msg(call_id, True, [b"10.0.0.1"]))
    runner.send(hook_msg(2, LOGIN, [b"eve"]))
    assert runner.until("hook_result", hub, call_id=2)["no_opinion"]


def test_pings_are_answered_and_unload_stops_the_loop(start: Any, tmp_path: Path) -> None:
    runner = start(
        """
        import asyncio, os, threading, vh, vh.aio

        ticked = threading.Event()

        async def ticker():
            try:
                while True:
                    await vh.aio.mc("tick")
                    ticked.set()
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                open(os.path.join(os.environ["VH_TEST_DIR"], "cancelled"), "w").close()
                raise

        task = vh.aio.run_in_background(ticker())
        ticked.wait(5)

        async def UnLoad():
            await vh.aio.mc("bye")
        """
    )
    runner.send(ping_msg(41))
    assert runner.until("pong", ack) == {"seq": 41}
    runner.send(unload_msg())
    runner.until("unloaded", ack)
    assert runner.proc.wait(timeout=5) == 0
    said = [c["args"][0] for c in runner.calls]
    assert said[0] == b"tick" and b"bye" in said
    assert (tmp_path / "cancelled").exists()


def test_a_classic_worker_answers_pings_also_while_it_waits_for_a_call(start: Any) -> None:
    runner = start("import vh\ndef OnUserLogin(nick):\n    return vh.GetUserClass(nick)\n")
    runner.send(ping_msg(1))
    assert runner.recv() == ("pong", {"seq": 1})
    runner.send(hook_msg(2, LOGIN, [b"bob"]))
    kind, call = runner.recv()
    assert (kind, call["callback"]) == ("hub_call", "GetUserClass")
    runner.send(ping_msg(3))  # the main thread waits for the call's answer
    assert runner.recv() == ("pong", {"seq": 3})
    runner.send(call_result_msg(call["call_id"], True, [4]))
    assert runner.recv() == ("hook_result", {"call_id": 2, "no_opinion": False, "values": [4]})


def test_the_worker_exits_when_the_runner_goes(start: Any) -> None:
    runner = start("def OnUserLogin(nick):\n    return 1\n")
    runner.sock.close()
    assert runner.proc.wait(timeout=5) == 0


#: Modules an idle worker of a classic script must not import: together
#: about 5 MiB of RSS (docs/performance.md, "Worker idle RSS").
HEAVY = (
    "asyncio",
    "dataclasses",
    "enum",
    "inspect",
    "json",
    "re",
    "threading",
    "traceback",
    "typing",
)


def test_a_classic_worker_imports_no_heavy_module(start: Any) -> None:
    # Only those the interpreter does not load by itself (site, .pth files).
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = tuple(m for m in HEAVY if m not in bare)
    runner = start(
        f"""
        import sys

        def OnParsedMsgChat(nick, message):
            return " ".join(m for m in {heavy!r} if m in sys.modules) or "none"
        """
    )
    for call_id in (1, 2):  # after the load, then after a hook and a ping
        runner.send(hook_msg(call_id, CHAT, [b"bob", b"hi"]))
        got = runner.until("hook_result", ack, call_id=call_id)["values"]
        assert got == [None, b"none"], f"imported: {got}"
        runner.send(ping_msg(call_id))
        assert runner.recv() == ("pong", {"seq": call_id})


def test_modules_in_the_hubs_working_directory_import_as_under_a(
    start: Any, tmp_path: Path
) -> None:
    # Generation A's sys.path[0] was the hub's working directory (docs/abi.md
    # §7.5): a module there still imports, after the script's own folder.
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    (hub_dir / "hub_helper.py").write_text("WHERE = 'hub'\n", encoding="utf-8")
    runner = start(
        """
        import os, sys, hub_helper
        HERE = os.path.dirname(os.path.abspath(__file__))
        ORDER = (sys.path.index(HERE), sys.path.index(os.environ["VH_TEST_DIR"] + "/hub"))

        def OnUserLogin(nick):
            return 1 if hub_helper.WHERE == "hub" and ORDER[0] < ORDER[1] else 0
        """,
        hub_cwd=str(hub_dir),
    )
    runner.send(hook_msg(1, LOGIN, [b"alice"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [1]


def test_plain_hooks_run_straight_from_the_loop_with_run_hooks_rules(start: Any) -> None:
    # The worker's channel calls a plain hook's function itself (vh._core
    # Channel.serve_hooks): no Python layer between the main loop and the
    # script, yet every result maps as run_hook maps it, the hook runs at
    # depth 1, and an exception's traceback starts at the script's function,
    # as the plugin printed it.
    runner = start(
        """
        import sys
        import vh._runtime

        def OnParsedMsgChat(nick, message):
            if message == "caller":
                return sys._getframe(1).f_code.co_name
            if message == "depth":
                return vh._runtime._runtime.nesting.depth + 40
            if message == "raise":
                return 1 // 0
            return {"big": 2**70, "bool": True, "none": None, "ü": 3}.get(message, 0)
        """
    )
    answers = {}
    texts = [b"caller", b"depth", b"raise", b"big", b"bool", b"none", b"\xfc", b"x"]
    for n, text in enumerate(texts, 1):
        runner.send(hook_msg(n, CHAT, [b"nick", text]))
        answers[text] = runner.until("hook_result", ack, call_id=n)["values"]
    runner.send(unload_msg())
    runner.until("unloaded", ack)
    assert answers == {
        # A string is the new message (generation A): the function's caller
        # is the main loop's own frame, not run_hook.
        b"caller": [None, b"recv"],
        b"depth": [41],
        b"raise": [1],
        b"big": [2**63 - 1],
        b"bool": [1],
        b"none": [1],
        b"\xfc": [3],
        b"x": [0],
    }
    out = runner.output()
    assert "vh: OnParsedMsgChat raised; the hub goes on" in out, out
    traceback = out[out.index("Traceback") :]
    assert traceback.splitlines()[1].strip().startswith('File "'), traceback
    assert "script.py" in traceback.splitlines()[1], traceback
    assert "_hook_dispatch" not in traceback and "ZeroDivisionError" in traceback, traceback
