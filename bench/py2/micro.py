"""The Python 2 worker's per-hook work without any wake-up, piece by piece
(docs/performance.md "The Python 2 worker at Python 3's speed").

    target/release/vh-runner py2-package /tmp/py2pkg
    python2.7 bench/py2/micro.py /tmp/py2pkg [ROUNDS]

Each figure is the median over ROUNDS (default 7) rounds of a loop of
20,000 calls, the rounds alternating every figure, in microseconds per
call. "full hook" runs a real ``Channel`` and ``Runtime`` on socketpairs:
the hub's end writes the chat hook's frame, the worker's main thread
receives it, runs the hook (``return 1``, or one discarded ``vh.usermc``,
which is pipelined) and writes the result, and the hub's end reads it;
nothing ever sleeps. The ``marshal`` and ``struct`` rows are the
alternatives a per-link frame format for Python 2 workers would use
(docs/protocol.md "The Python 2 worker's codec").
"""

import marshal
import os
import socket
import struct
import sys
import time

sys.path.insert(0, sys.argv[1])
import vh  # noqa: E402
from vh import _channel, _frames, _runtime, _wire  # noqa: E402

try:  # absent before the fast path: its rows are left out
    from vh import _fast
except ImportError:
    _fast = None

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
N = 20000
NICK, TEXT = b"bench", b"hello everyone, how is the hub doing today?"
HOOK = _wire.encode(
    "ToWorker",
    {"hook": {"call_id": 123456, "hook": 3, "args": [{"s": NICK}, {"s": TEXT}], "hub_cpu": 2}},
)
FRAME = struct.pack("<I", len(HOOK)) + HOOK
MARSHALLED = marshal.dumps((1, 123456, 3, [NICK, TEXT]))
#: The same hook as the shim writes it to a Python 2 worker's direct link
#: (docs/protocol.md "Compact frames").
COMPACT_FRAME = struct.pack("<I", len(MARSHALLED) | 0x80000000) + MARSHALLED
PACKED = struct.pack("<QIHH", 123456, 3, len(NICK), len(TEXT)) + NICK + TEXT
HEAD = struct.Struct("<QIHH")


def unpack_struct():
    call_id, hook, a, b = HEAD.unpack_from(PACKED)
    return ("hook", call_id, hook, [PACKED[16 : 16 + a], PACKED[16 + a : 16 + a + b]])


def generic_decode():
    return _channel.Channel._event(_wire.decode("ToWorker", HOOK))


def fast_call():
    return _fast.hub_call_frame(7, "usermc", [TEXT, NICK, None], True)


def generic_result():
    body = {"call_id": 123456, "no_opinion": False, "values": [_frames.py_to_value(1)]}
    return _frames.encode_frame("hook_result", body)


def generic_call():
    args = [_frames.py_to_value(a) for a in (TEXT, NICK, None)]
    body = {"call_id": 7, "callback": "usermc", "args": args, "pipelined": True}
    return _frames.encode_frame("hub_call", body)


def full_hook(script, frame=FRAME):
    hub_r, worker_r = socket.socketpair()
    hub_d, worker_d = socket.socketpair()
    ch = _channel.Channel(os.dup(worker_r.fileno()), os.dup(worker_d.fileno()))
    ch._spin = _spin_never()
    rt = _runtime.Runtime(ch, 1, "chat.py")

    class Module:
        pass

    rt.module = Module()
    if script == "chat":
        rt.module.OnParsedMsgChat = lambda nick, message: 1
    else:

        def OnParsedMsgChat(nick, message):
            vh.usermc(message, nick)
            return 1

        rt.module.OnParsedMsgChat = OnParsedMsgChat
    _runtime.install(rt)

    def one():
        hub_d.sendall(frame)
        ev = ch.recv_main()
        rt.run_hook(ev[1], ev[2], ev[3])
        hub_d.recv(65536)

    one.rt = rt  # installed again before its rounds: vh.* goes to the current one
    return one, (hub_r, worker_r, hub_d, worker_d, ch)


class _spin_never:
    def budget(self):
        return 0.0

    def waited(self, took):
        pass


def main():
    chat, _keep1 = full_hook("chat")
    usermc, _keep2 = full_hook("usermc")
    compact = getattr(_frames, "COMPACT", None)  # absent before compact frames
    if compact:
        chat_c, _keep3 = full_hook("chat", COMPACT_FRAME)
        usermc_c, _keep4 = full_hook("usermc", COMPACT_FRAME)
    cases = [
        ("decode: vh._wire + event", generic_decode),
        ("decode: vh._fast", lambda: _fast.decode_event(HOOK)),
        ("decode: marshal.loads (compact)", lambda: marshal.loads(MARSHALLED)),
        ("decode: struct + slices (alternative)", unpack_struct),
        ("result frame: vh._wire", generic_result),
        ("result frame: vh._fast", lambda: _fast.hook_result_frame(123456, False, [1])),
        ("result: marshal.dumps (compact)", lambda: marshal.dumps((2, 123456, False, [1]))),
        ("usermc frame: vh._wire", generic_call),
        ("usermc frame: vh._fast", fast_call),
        ("full hook, no wake-up: chat", chat),
        ("full hook, no wake-up: + vh.usermc", usermc),
    ]
    if compact:
        cases[-2:] = [
            ("full hook, protobuf in: chat", chat),
            ("full hook, protobuf in: + vh.usermc", usermc),
            ("full hook, compact in: chat", chat_c),
            ("full hook, compact in: + vh.usermc", usermc_c),
        ]
    times = dict((label, []) for label, _ in cases)
    for _ in range(ROUNDS):
        for label, fn in cases:
            if _fast is None and "_fast" in label:
                continue
            if getattr(fn, "rt", None) is not None:
                _runtime.install(fn.rt)
            t0 = time.time()
            for _ in range(N):
                fn()
            times[label].append((time.time() - t0) / N * 1e6)
    for label, _ in cases:
        if not times[label]:
            continue
        t = sorted(times[label])
        rounds = " ".join("%.2f" % x for x in times[label])
        sys.stdout.write("%-40s %7.2f us  (rounds %s)\n" % (label, t[len(t) // 2], rounds))


main()
