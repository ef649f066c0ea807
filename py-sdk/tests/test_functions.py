"""The `vh` functions at the frame level: a real worker (``python -m vh.worker``, the
real transport) driven by the Python stand-in for the runner (``wire.py``):
generation B's ``w_CallFunction`` marshaling (docs/abi.md §3.9),
``vh.CallDynamicFunction`` (§3.10), generation A's bot-name updates before
``OnScriptCommand`` (§4.3), answers that come back out of order around a
nested hook (§9.2), the extras of ``vh._extras`` and a script's declared
name and version."""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import wire
from wire import FakeRunner, ack, call_result_msg, hook_msg

import vh
from vh import _extras
from vh._hooks import HOOK_INDEX

CHAT = HOOK_INDEX["OnParsedMsgChat"]
SCRIPT_COMMAND = HOOK_INDEX["OnScriptCommand"]

# -- the frames of the vh functions that wire.py does not know ---------------------------


def _typed(kind: str, value: Any) -> bytes:
    """A ``vh.v1.Value`` of format ``kind``: 'D' is a JSON document."""
    if kind == "D":
        return wire._bytes(5, value)
    return wire.encode_value(value)


def function_msg(call_id: int, name: bytes, args: list[tuple[str, Any]]) -> bytes:
    """``ToWorker.function`` (a ``FunctionCall``)."""
    body = wire._int(1, 7) + wire._int(2, call_id) + wire._bytes(3, name)
    body += b"".join(wire._bytes(4, _typed(k, v)) for k, v in args)
    return wire._bytes(6, body)


def typed_result_msg(
    call_id: int, ok: bool, values: list[tuple[str, Any]], error: str = ""
) -> bytes:
    """``ToWorker.call_result`` with typed values."""
    body = wire._int(1, 7) + wire._int(2, call_id) + wire._int(3, int(ok))
    body += b"".join(wire._bytes(4, _typed(k, v)) for k, v in values)
    return wire._bytes(3, body + (wire._bytes(5, error.encode()) if error else b""))


def _typed_value(data: bytes) -> tuple[str, Any]:
    f = wire._decode(data)
    if 5 in f:
        return "D", f[5][0]
    if 3 in f:
        return "d", struct.unpack("<d", f[3][0])[0]
    if 1 in f:
        return "l", wire.decode_value(data)
    return "s", wire.decode_value(data)


class Runner(FakeRunner):
    """``FakeRunner`` that also reads ``FunctionResult`` and ``DynamicCall``."""

    def recv(self) -> tuple[str, dict[str, Any]]:
        while len(self._buffer) < 4 or len(self._buffer) < 4 + self._length():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the worker closed the link:\n" + self.output())
            self._buffer += chunk
        n = self._length()
        frame, self._buffer = self._buffer[4 : 4 + n], self._buffer[4 + n :]
        ((kind, raw),) = wire._decode(frame).items()
        f = wire._decode(raw[0])
        if kind == 6:
            value = _typed_value(f[4][0]) if 4 in f else None
            error = f.get(5, [b""])[0].decode()
            return "function_result", {
                "call_id": f.get(2, [0])[0],
                "ok": bool(f.get(3, [0])[0]),
                "value": value,
                "error": error,
            }
        if kind == 7:
            return "dynamic_call", {
                "call_id": f.get(2, [0])[0],
                "name": f.get(3, [b""])[0],
                "args": [_typed_value(v) for v in f.get(4, [])],
            }
        return wire.decode_from_worker(frame)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    runners: list[Runner] = []

    def start(source: str, **kw: Any) -> Runner:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source), encoding="utf-8")
        runner = Runner(script, **kw)
        runners.append(runner)
        runner.loaded = runner.until("loaded", ack)
        assert runner.loaded["ok"], runner.loaded["error"]
        return runner

    yield start
    for runner in runners:
        runner.close()


# -- w_CallFunction --------------------------------------------------------------------

FUNCTIONS = """
    import vh

    not_callable = 3

    def echo(*args):
        return list(args)

    def kinds(*args):
        return [type(a).__name__ for a in args]

    def upper(text):
        return text.upper()

    def half(x):
        return x / 2

    def none():
        return None

    def yes():
        return True

    def mapping():
        return {"k": {1, 2} and [1, 2], "t": (1, "b")}

    def a_set():
        return {"only"}

    def unserialisable():
        return [object()]

    def other():
        return object()

    def huge():
        return 2 ** 64

    def boom():
        raise RuntimeError("no")

    def calls_hub(nick):
        return "class %d" % vh.GetUserClass(nick)

    async def later(n):
        return n + 1
"""


def call(runner: Runner, call_id: int, name: bytes, *args: tuple[str, Any]) -> dict[str, Any]:
    runner.send(function_msg(call_id, name, list(args)))
    return runner.until("function_result", ack, call_id=call_id)


def test_function_arguments_follow_the_format_and_the_hub_encoding(start: Any) -> None:
    runner = start(FUNCTIONS, encoding="cp1251")
    got = call(
        runner,
        1,
        b"kinds",
        ("l", 5),
        ("s", b"\xe4\xe0"),
        ("s", None),
        ("d", 1.5),
        ("D", b'{"a": 1}'),
        ("D", b""),
        ("D", b"not json"),
    )
    assert got["ok"], got
    kind, value = got["value"]
    assert kind == "D"
    assert json.loads(value) == ["int", "str", "NoneType", "float", "dict", "dict", "dict"]
    # Strings: hub encoding and surrogateescape both ways (0x98 is no CP1251
    # character), JSON documents parsed (empty and invalid: {}).
    got = call(runner, 2, b"echo", ("s", b"\xe4\xe0\x98"), ("D", b'["x", 2]'), ("D", b"oops"))
    assert got["value"] == (
        "D",
        '["\u0434\u0430\udc98", ["x", 2], {}]'.encode("cp1251", "surrogateescape"),
    )
    assert call(runner, 3, b"upper", ("s", b"\xe4\xe0\x98"))["value"] == ("s", b"\xc4\xc0\x98")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"half", ("d", 2.5)),
        (b"none", ("l", 0)),
        (b"yes", ("l", 1)),
        (b"mapping", ("D", b'{"k": [1, 2], "t": [1, "b"]}')),
        (b"a_set", ("D", b'["only"]')),
        (b"unserialisable", ("D", b"[]")),
    ],
)
def test_function_results_are_converted_as_b_does(start: Any, name: bytes, value: Any) -> None:
    runner = start(FUNCTIONS)
    args = [("d", 5.0)] if name == b"half" else []
    got = call(runner, 1, name, *args)
    assert got["ok"] and got["value"] == value, got


@pytest.mark.parametrize("name", [b"other", b"huge", b"boom", b"missing", b"not_callable"])
def test_functions_without_a_c_result_return_null(start: Any, name: bytes) -> None:
    runner = start(FUNCTIONS)
    got = call(runner, 1, name)
    assert not got["ok"] and got["value"] is None and got["error"], got
    # The worker goes on.
    assert call(runner, 2, b"yes")["value"] == ("l", 1)


def test_a_function_may_call_the_hub_and_may_be_async(start: Any) -> None:
    runner = start(FUNCTIONS)

    def hub(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        assert (callback, args) == ("GetUserClass", [b"bob"])
        return True, [3]

    runner.send(function_msg(1, b"calls_hub", [("s", b"bob")]))
    assert runner.until("function_result", hub, call_id=1)["value"] == ("s", b"class 3")
    assert call(runner, 2, b"later", ("l", 41))["value"] == ("l", 42)


# -- vh.CallDynamicFunction ----------------------------------------------------------

DYNAMIC = """
    import asyncio, threading, vh, vh.aio, vh.strict

    def report(f):
        try:
            return repr(f())
        except Exception as e:
            return "%s: %s" % (type(e).__name__, e)

    def OnParsedMsgChat(nick, message):
        if message == "call":
            return report(lambda: vh.CallDynamicFunction(
                "f", 1, True, "\\u00e9", 2.5, [1], (2,), {3}, frozenset([4]), {"k": None}))
        if message == "bad":
            return "|".join([
                report(lambda: vh.CallDynamicFunction("f", None)),
                report(lambda: vh.CallDynamicFunction(b"f")),
                report(lambda: vh.CallDynamicFunction("")),
            ])
        if message == "strict":
            return report(lambda: vh.strict.CallDynamicFunction("g", 7, timeout=5.0))
        if message == "aio":
            return report(lambda: asyncio.run(vh.aio.CallDynamicFunction("g", 8)))
        if message == "thread":
            out = []
            call = lambda: out.append(report(lambda: vh.CallDynamicFunction("g", 7)))
            t = threading.Thread(target=call)
            t.start()
            t.join()
            return out[0]
        return 1
"""


def chat(runner: Runner, call_id: int, text: bytes, answer: Any) -> Any:
    runner.send(hook_msg(call_id, CHAT, [b"alice", text]))
    while True:
        kind, fields = runner.recv()
        if kind == "dynamic_call":
            ok, values = answer(fields)
            runner.send(typed_result_msg(fields["call_id"], ok, values, "" if ok else "nope"))
        elif kind == "hook_result" and fields["call_id"] == call_id:
            return fields["values"][1].decode("cp1252")


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ((True, [("l", 42)]), "42"),
        ((True, [("s", b"\xe9t\xe9")]), "'\xe9t\xe9'"),
        ((True, [("s", None)]), "None"),
        ((True, [("d", 0.5)]), "0.5"),
        ((True, [("D", b'{"a": [1, "\xe9"]}')]), "{'a': [1, '\xe9']}"),
        ((True, []), "None"),
        ((False, []), "NameError: nope"),
    ],
)
def test_dynamic_calls_marshal_by_python_type_and_result_format(
    start: Any, answer: Any, shown: str
) -> None:
    runner = start(DYNAMIC)
    seen: list[dict[str, Any]] = []

    def hub(fields: dict[str, Any]) -> Any:
        seen.append(fields)
        return answer

    assert chat(runner, 1, b"call", hub) == shown
    (call_,) = seen
    assert call_["name"] == b"f"
    assert call_["args"] == [
        ("l", 1),
        ("l", 1),
        ("s", b"\xe9"),
        ("d", 2.5),
        ("D", b"[1]"),
        ("D", b"[2]"),
        ("D", b"[3]"),
        ("D", b"[4]"),
        ("D", b'{"k": null}'),
    ]


def test_dynamic_call_errors_and_calls_from_threads(start: Any) -> None:
    runner = start(DYNAMIC)
    shown = chat(runner, 1, b"bad", lambda f: pytest.fail("nothing may be sent"))
    parts = shown.split("|")
    assert [p.split(":")[0] for p in parts] == ["TypeError"] * 3, shown
    assert chat(runner, 2, b"thread", lambda f: (True, [("l", f["args"][0][1] * 6)])) == "42"
    assert chat(runner, 3, b"strict", lambda f: (True, [("l", f["args"][0][1] * 6)])) == "42"
    assert chat(runner, 4, b"aio", lambda f: (True, [("l", f["args"][0][1] * 6)])) == "48"


# -- OnScriptCommand, nesting -----------------------------------------------------------


def test_bot_renames_reach_vh_before_on_script_command_in_every_script(start: Any) -> None:
    with_hook = start(
        """
        import vh
        seen = []

        def OnScriptCommand(cmd, data, plugin, script):
            seen.append((vh.botname, vh.opchatname))

        def OnParsedMsgChat(nick, message):
            return repr(seen)
        """
    )
    without_hook = start(
        """
        import vh

        def OnParsedMsgChat(nick, message):
            return "%s %s" % (vh.botname, vh.opchatname)
        """
    )
    assert SCRIPT_COMMAND in without_hook.loaded["hooks"], "asked for, to follow renames"
    for runner in (with_hook, without_hook):
        args = [b"_hub_security_change", b"Guard", b"", b""]
        runner.send(hook_msg(1, SCRIPT_COMMAND, args))
        runner.send(hook_msg(2, SCRIPT_COMMAND, [b"_opchat_name_change", b"Ops", b"", b""]))
        # From a script, the same command renames nothing.
        runner.send(
            hook_msg(3, SCRIPT_COMMAND, [b"_hub_security_change", b"X", b"python", b"s.py"])
        )
        for call_id in (1, 2, 3):
            runner.until("hook_result", ack, call_id=call_id)
    runner = with_hook
    runner.send(hook_msg(4, CHAT, [b"a", b"b"]))
    got = runner.until("hook_result", ack, call_id=4)["values"][1]
    assert got == b"[('Guard', 'OpChat'), ('Guard', 'Ops'), ('Guard', 'Ops')]"
    without_hook.send(hook_msg(4, CHAT, [b"a", b"b"]))
    assert without_hook.until("hook_result", ack, call_id=4)["values"][1] == b"Guard Ops"


def test_an_outer_answer_arriving_during_a_nested_hook_is_kept(start: Any) -> None:
    runner = start(
        """
        import vh

        def OnParsedMsgChat(nick, message):
            return "done %r" % vh.ScriptCommand("x", "y", 1)

        def OnScriptCommand(cmd, data, plugin, script):
            vh.mc("inner")
        """
    )
    runner.send(hook_msg(1, CHAT, [b"a", b"m"]))
    kind, outer = runner.recv()
    assert (kind, outer["callback"]) == ("hub_call", "ScriptCommand")
    # The hub fires OnScriptCommand without waiting for it, and answers the
    # outer call while the nested hook still waits for its own call.
    runner.send(hook_msg(2, SCRIPT_COMMAND, [b"x", b"y", b"python", b"/s.py"]))
    kind, inner = runner.recv()
    assert (kind, inner["callback"]) == ("hub_call", "mc")
    runner.send(call_result_msg(outer["call_id"], True, [1]))
    runner.send(call_result_msg(inner["call_id"], True, [1]))
    assert runner.until("hook_result", ack, call_id=2)["values"] == [1]
    assert runner.until("hook_result", ack, call_id=1)["values"] == [None, b"done True"]


def test_a_scripts_own_name_and_version_is_left_to_the_script(start: Any) -> None:
    # Neither plugin calls a module-level name_and_version() (docs/abi.md
    # §7.5): the worker neither calls it nor tells the hub anything at load.
    runner = start(
        """
        called = []

        def name_and_version():
            called.append(1)
            return "Stats", "2.0"

        def OnParsedMsgChat(nick, message):
            return ("called %d" % len(called), 1)
        """
    )
    assert runner.calls == []
    runner.send(hook_msg(1, CHAT, [b"a", b"m"]))
    assert runner.until("hook_result", ack, call_id=1)["values"] == [b"called 0", 1]
    assert runner.calls == []


# -- extras --------------------------------------------------------------------------


def test_documented_extras_have_the_hubs_values() -> None:
    assert vh.eCR_PLUGIN == 21
    assert vh.eCR_BANNED == vh.eCR_INVALID_USER == 1
    assert vh.eBF_REVERSE == vh.eBF_HOSTR1 == 512
    assert (vh.eIT_VOID, vh.eIT_BOOL, vh.eIT_INT, vh.eIT_STRING, vh.eIT_DOUBLE) == (0, 1, 3, 12, 13)
    for name in ("SendToAll", "CallDynamicFunction", "eCR_PLUGIN", "eIT_STRING"):
        assert name in vh.__all__
    assert set(_extras.__all__) == {"SendToAll", "CallDynamicFunction", *_extras.CONSTANTS}


def test_send_to_all_is_main_chat_for_everyone(vh_hub: Any, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(
        "import vh\n\ndef OnUserLogin(nick):\n    vh.SendToAll('Welcome %s!' % nick)\n",
        encoding="utf-8",
    )
    vh_hub.load(script)
    vh_hub.login("alice")
    (mc,) = vh_hub.calls_of("mc")
    assert mc.args == ("Welcome alice!", None)


def test_send_to_all_in_strict_and_aio(vh_hub: Any, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(
        "import asyncio, vh, vh.aio, vh.strict\n\n"
        "def OnUserLogin(nick):\n"
        "    assert vh.strict.SendToAll('strict %s' % nick) is None\n"
        "    asyncio.run(vh.aio.SendToAll('aio %s' % nick, 'Bot'))\n",
        encoding="utf-8",
    )
    vh_hub.load(script)
    vh_hub.login("alice")
    assert [c.args for c in vh_hub.calls_of("mc")] == [
        ("strict alice", None),
        ("aio alice", "Bot"),
    ]
    assert "SendToAll" in vh.strict.__all__ and "SendToAll" in vh.aio.__all__


def test_call_dynamic_function_outside_a_worker_says_so() -> None:
    with pytest.raises(vh.NotConnectedError):
        vh.CallDynamicFunction("f")
