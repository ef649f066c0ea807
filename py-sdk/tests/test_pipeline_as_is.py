"""``vh._core.Channel.send_as_is`` (``vh._pipeline.as_is_for``): a
classic function's discarded send with its arguments converted in Rust
must put on the direct link exactly what the Python way puts there
(``vh._api.convert_args``, then ``pipeline_call``), leave to the Python
way every argument it does not convert the same, and send nothing when
the script uses the result.

A real channel on socketpairs; the test plays the hub: it sends a chat
hook on the direct link, so that the main thread serves a request the
hub waits for (pipelining is allowed then), makes both calls for every
pipelined function and every argument case, answers the hook and reads
back what the worker wrote: pairs of ``HubCall`` frames equal but for
their call ids.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest
from wire import _decode, hook_msg

from vh import _api, _core, _functions, _runtime
from vh._hooks import HOOK_INDEX
from vh._script_state import ScriptState

CHAT = HOOK_INDEX["OnParsedMsgChat"]

#: Arguments for a parameter of each kind: the usual ones, which the
#: channel converts, and others, which it leaves to Python (a subclass,
#: a bool, text CP1252 lacks or escapes, a NUL byte, a long beyond a C
#: long, a wrong type).
USUAL = {
    "s": ["hi", "J\u00fcrgen \u20ac", b"\xf0\xe8\xe6", "", None],
    "l": [0, -5, 2**62, None],
    "d": [0.5, 3, -(2**40)],
}
OTHER = {
    "s": ["\udc81", "\u4e2d", "a\0b", b"a\0b", 5, bytearray(b"x")],
    "l": [True, 2**70, 1.5, "1"],
    "d": [None, True, 2**80, "1.0"],
}


class Sub(str):
    pass


#: No pipelined function has a float parameter; the channel converts them
#: too (for the day one does), so a made-up one checks that as well.
FLOATS = _functions.FunctionSpec(
    "floats",
    "SendToOpChat",
    (_functions.Param("x", "d", False, None), _functions.Param("y", "d", True, 0.0)),
    "bool",
)


def cases(spec: _functions.FunctionSpec) -> list[tuple[tuple[object, ...], bool]]:
    """``(args, usual)`` for ``spec``: every usual value in each position
    with the others usual, then each other value alone, then too few and
    too many arguments (``usual`` False: Python converts them)."""
    kinds = [p.kind for p in spec.params]
    base = [USUAL[k][0] for k in kinds]
    out = []
    for n in range(spec.required, len(kinds) + 1):
        out.append((tuple(base[:n]), True))
    for i, k in enumerate(kinds):
        for v in USUAL[k][1:]:
            out.append((tuple(base[:i] + [v] + base[i + 1 :]), True))
        for v in [*OTHER[k], Sub("x")] if k == "s" else OTHER[k]:
            out.append((tuple(base[:i] + [v] + base[i + 1 :]), False))
    if spec.required:
        out.append((tuple(base[: spec.required - 1]), False))
    out.append((tuple(base) + (None,), False))
    return out


@pytest.fixture
def linked(monkeypatch, request):
    """``(channel, runtime, hub end)``: a channel whose main thread serves
    a chat hook that came on the direct link; the hub's encoding is
    CP1252 unless the test names another (``indirect``)."""
    runner_here, runner_there = socket.socketpair()
    hub, worker = socket.socketpair()
    channel = _core.Channel(os.dup(runner_there.fileno()), os.dup(worker.fileno()))
    rt = ScriptState(channel, getattr(request, "param", "cp1252"))
    assert rt.as_is is not None, "the runtime set the channel's send_as_is up"
    monkeypatch.setattr(_runtime, "_runtime", rt)
    frame = hook_msg(1, CHAT, [b"alice", b"hello"])
    hub.sendall(struct.pack("<I", len(frame)) + frame)
    event = channel.recv_main(5.0)
    assert event is not None and event.kind == "hook", event
    yield channel, rt, hub
    for s in (runner_here, runner_there, hub, worker):
        s.close()


_RUNS: dict[tuple[int, bool], object] = {}


def as_script(channel, rt, spec, args, discard=True):
    """What ``channel.send_as_is`` answers a classic function of ``spec``
    called by a script with ``args`` written out (``f(a, b)``: a statement
    if ``discard``, else ``x = f(a, b)``): it looks at the classic
    function's caller, so the call must be a script's."""
    got = []
    send = _core.SendSpec(
        spec.callback,
        "".join(p.kind for p in spec.params),
        spec.required,
        tuple(p.default for p in spec.params),
    )

    def classic(*a):
        got.append(channel.send_as_is(send, a))

    key = (len(args), discard)
    if key not in _RUNS:
        call = "f(%s)" % ", ".join(f"a[{i}]" for i in range(len(args)))
        ns: dict[str, object] = {}
        exec(f"def run(f, a):\n    {call if discard else 'x = ' + call}\n", ns)
        _RUNS[key] = ns["run"]
    _RUNS[key](classic, args)
    return got[0]


def read_frames(hub: socket.socket) -> list[dict[int, list[object]]]:
    """Every ``FromWorker`` frame the worker wrote, decoded to raw fields
    (``wire._decode``) of its one kind's message, keyed ``0`` by kind."""
    hub.settimeout(5.0)
    data = b""
    frames = []
    while True:
        while len(data) < 4 or len(data) < 4 + struct.unpack("<I", data[:4])[0]:
            data += hub.recv(1 << 16)
        n = struct.unpack("<I", data[:4])[0]
        body, data = data[4 : 4 + n], data[4 + n :]
        ((kind, raw),) = _decode(body).items()
        fields = _decode(raw[0])
        fields[0] = [kind]
        frames.append(fields)
        if kind == 2:  # the hook's result: the last one
            return frames


@pytest.mark.parametrize("linked", ["cp1252", "cp1250"], indirect=True)
def test_the_channel_converts_the_usual_arguments_as_python_does(linked):
    channel, rt, hub = linked
    made = []  # (callback, args) of each pair sent, in order
    usual_seen = other_seen = 0
    for spec in [*_functions.FUNCTIONS, FLOATS]:
        if spec.callback not in _functions.PIPELINED_CALLBACKS:
            continue
        for args, usual in cases(spec):
            # A used result: nothing sent, whatever the arguments.
            assert as_script(channel, rt, spec, args, discard=False) in (False, None)
            got = as_script(channel, rt, spec, args)
            if not usual:
                assert got is None, (spec.name, args)
                other_seen += 1
                continue
            assert got is True, (spec.name, args)
            assert channel.pipeline_call(spec.callback, _api.convert_args(spec, args, {}))
            made.append((spec.callback, args))
            usual_seen += 1
    assert usual_seen > 50 and other_seen > 50, (usual_seen, other_seen)
    channel.send_hook_result(1, False, [1])
    frames = read_frames(hub)
    assert len(frames) == 2 * len(made) + 1
    for i, (callback, args) in enumerate(made):
        fast, slow = frames[2 * i], frames[2 * i + 1]
        assert fast[2] != slow[2], "two calls, two call ids"
        del fast[2], slow[2]
        assert fast == slow, (callback, args)
        assert fast[3] == [callback.encode()]


@pytest.mark.parametrize("linked", ["cp1250", "cp037", "koi8_r", "iso8859_2"], indirect=True)
def test_text_goes_out_as_the_hub_codec_encodes_it(linked):
    """Text of a usual send is encoded from a table of the charmap codec
    made in Rust (``py-sdk/src/charmap.rs``), or by the codec itself for a
    long string or one with a character the table lacks: the frames equal
    the Python way's for every character the codec encodes, on codecs whose
    ASCII is not ASCII too (CP037), and what neither encodes takes the
    Python way."""
    channel, rt, hub = linked
    assert rt.charmap is not None, "a charmap codec"
    usermc = next(f for f in _functions.FUNCTIONS if f.callback == "usermc")
    every = "".join(c for c in rt.charmap[0] if c not in "\ufffe\0")
    texts = ["plain ascii", every, every[::-1], "x" * 2000, every * 3]
    made = []
    for text in texts:
        assert as_script(channel, rt, usermc, (text, "nick")) is True, text[:20]
        assert channel.pipeline_call("usermc", _api.convert_args(usermc, (text, "nick"), {}))
        made.append(text)
    for text in ["\u4e2d" + every, every + "\udc81", "a\0b"]:
        assert as_script(channel, rt, usermc, (text, "nick")) is None, ascii(text[:20])
    channel.send_hook_result(1, False, [1])
    frames = read_frames(hub)
    assert len(frames) == 2 * len(made) + 1
    for i, text in enumerate(made):
        fast, slow = frames[2 * i], frames[2 * i + 1]
        del fast[2], slow[2]
        assert fast == slow, text[:20]


def test_nothing_is_sent_while_the_hub_does_not_wait(linked):
    channel, rt, hub = linked
    channel.send_hook_result(1, False, [1])
    read_frames(hub)
    # No request on the direct link now: the ordinary call's way.
    spec = next(s for s in _functions.FUNCTIONS if s.callback == "usermc")
    assert as_script(channel, rt, spec, ("hi", "bob")) is False


def test_another_thread_and_a_second_runtime_take_the_python_way(linked):
    channel, rt, hub = linked
    spec = next(s for s in _functions.FUNCTIONS if s.callback == "usermc")
    got = []
    worker = threading.Thread(target=lambda: got.append(as_script(channel, rt, spec, ("a", "b"))))
    worker.start()
    worker.join()
    assert got == [False], "not the main thread: the ordinary call"
    assert ScriptState(channel, "utf-8").as_is is None, "set up once per channel"
    with pytest.raises(ValueError):
        _core.SendSpec("usermc", "sx", 1, (None, None))
    channel.send_hook_result(1, False, [1])
    assert len(read_frames(hub)) == 1, "nothing but the hook's result was sent"


def test_the_compiled_classic_function_sends_from_the_scripts_own_frame(linked, capsys):
    # vh.usermc itself (vh._core.Classic, no Python frame of its own): a
    # statement is pipelined; so is one through a class attribute (not
    # bound as a method, as python_pi's built-in functions are not) and
    # one whose argument takes the Python way (`rest`, which reads the
    # script's frame two levels up); a call too big sends nothing and says
    # so on stdout (the worker's log), as the Python classic function did.
    import vh

    channel, rt, hub = linked
    assert isinstance(vh.usermc, _core.Classic)

    class Bot:
        send = vh.usermc

    assert Bot().send is vh.usermc
    ns: dict[str, object] = {}
    exec(
        "def run(vh, Bot, Sub, big):\n"
        "    vh.usermc('one', 'bob')\n"
        "    Bot().send('two', 'bob')\n"
        "    vh.usermc(Sub('three'), 'bob')\n"
        "    vh.usermc(big, 'bob')\n",
        ns,
    )
    big = "x" * (1 << 24)
    ns["run"](vh, Bot, Sub, big)  # type: ignore[operator]
    assert "vh: usermc(): " in capsys.readouterr().out
    channel.send_hook_result(1, False, [1])
    frames = read_frames(hub)
    calls = [(f[3], f[4][0], f.get(5)) for f in frames[:-1]]
    assert [(c, pipelined) for c, _, pipelined in calls] == [([b"usermc"], [1])] * 3
    texts = [_decode(arg)[2][0] for _, arg, _ in calls]
    assert texts == [b"one", b"two", b"three"]
