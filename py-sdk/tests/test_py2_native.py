"""The Python 2 worker's compiled hook loop (``vh._native``, built from
``py-sdk/python2-native`` and shipped by vh-runner) against its Python
loop (``vh._hook_loop.serve_hooks_in_python``): a real Python 2.7 runs the
package as ``vh-runner py2-package`` writes it, with a real channel on
socketpairs, a real runtime and a script module; a thread plays the hub,
sending hook frames one at a time (and two at once) and reading each
answer. Both loops must put the same bytes on the link, print the same
lines and tracebacks, and stop at the same event.

End to end (hubsim driving the shim, the runner, both loops) in
``tests/hubsim/tests/python2.rs``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import discard_cases
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "target" / "debug" / "vh-runner"

#: The hub and the worker's main thread, in one Python 2.7 process.
_DRIVER = r"""
import marshal, os, socket, struct, sys, threading, types
sys.path.insert(0, sys.argv[1])
import vh
from vh import _channel, _hook_loop, _runtime
from vh._hooks import HOOK_INDEX, HOOK_NAMES, ON_TIMER
from vh._limits import MAX_DEPTH
from vh._main_loop import ON_SCRIPT_COMMAND

print("loop: %s" % ("compiled" if _hook_loop._native is not None else "python"))
runner_end, worker_runner = socket.socketpair()
hub, worker_direct = socket.socketpair()
channel = _channel.Channel(os.dup(worker_runner.fileno()), os.dup(worker_direct.fileno()))
rt = _runtime.Runtime(channel, 7, "t.py")
_runtime.install(rt)
print("sends as they are: %s" % (rt.as_is is not None))
if _hook_loop._native is not None:
    print("layout known: %s" % _hook_loop._native.layout_known())
#: A pipelined call's compact frame, as the script's vh.usermc would hold it.
body = marshal.dumps((3, 99, "SendPMToAll", ["held", "op", 1, 9]))
PIPELINED = struct.pack("<I", len(body) | 0x80000000) + body

def OnParsedMsgChat(nick, message):
    # The arguments as the loop decoded them (the compiled loop reads the
    # hook frame itself, the Python loop with marshal.loads): alike.
    print("args: %r %r %r %r" % (type(nick), nick, type(message), message))
    if message == "raise":
        return 1 // 0
    if message == "none":
        return None
    if message == "pair":
        return (None, 0)
    if message == "held":
        channel._held.push(PIPELINED)
        return 0
    if message == "long":
        return 5L
    if message == "sends":
        # Discarded sends: the usual arguments (vh._native takes them as
        # they are under the compiled loop), then others (the Python way).
        vh.usermc("hi \xe9", nick)
        vh.usermc("to", nick, None)
        vh.SendToActiveClass("x", 1, 3)
        vh.SendToActive("y")
        # Interned strings (marshal's t, then R for the same one), an int
        # past 32 bits (I).
        vh.usermc("op", "op")
        vh.SendToActiveClass("x", 2 ** 40, 3)
        vh.usermc(u"text", nick)
        vh.usermc(5, nick)
        vh.SendToActive("z", 5L)
        vh.SendToActiveClass("x", True, 3)
        return 1
    return len(nick) + len(message)

script = types.ModuleType("script")
script.OnParsedMsgChat = OnParsedMsgChat
script.OnOperatorCommand = 5  # not callable: no opinion
rt.module = script

def frame(call_id, hook, args):
    body = marshal.dumps((1, call_id, hook, args))
    return struct.pack("<I", len(body) | 0x80000000) + body

CHAT = HOOK_INDEX["OnParsedMsgChat"]
answers = []
unread = [b""]

def read_answer():
    # One frame from the stream (however the writes were cut).
    while True:
        buf = unread[0]
        if len(buf) >= 4:
            end = 4 + (struct.unpack("<I", buf[:4])[0] & 0x7FFFFFFF)
            if len(buf) >= end:
                answers.append(buf[:end])
                unread[0] = buf[end:]
                return
        unread[0] = buf + hub.recv(1 << 16)

def play():
    hub.settimeout(10)
    call_id = 0
    for message in ["hi", "raise", "none", "pair", "held", "long", "\xff\xfe bytes", "sends"]:
        call_id += 1
        hub.sendall(frame(call_id, CHAT, ["nick\xe9", message]))
        read_answer()
        # Held calls come first, then the result, (2, ...).
        while not (
            struct.unpack("<I", answers[-1][:4])[0] & 0x80000000
            and marshal.loads(answers[-1][4:])[0] == 2
        ):
            read_answer()
    for hook in ("OnUserLogin", "OnOperatorCommand"):
        call_id += 1
        hub.sendall(frame(call_id, HOOK_INDEX[hook], ["nick"]))
        read_answer()
    # Two hooks in one write: the first read holds both.
    hub.sendall(frame(20, CHAT, ["a", "b"]) + frame(21, CHAT, ["c", "dd"]))
    read_answer()
    read_answer()
    # A hook with rules of its own ends the loop's run.
    hub.sendall(frame(30, ON_TIMER, [1.5]))

player = threading.Thread(target=play)
player.start()
event = _hook_loop.serve_hooks(channel, rt, HOOK_NAMES, (ON_SCRIPT_COMMAND, ON_TIMER), MAX_DEPTH)
player.join()
print("returned: %r" % (event,))
print("active: %r, depth: %r" % (channel._active, rt.depth))
for a in answers:
    print("answer: %r" % (a,))
sys.stdout.flush()
sys.stderr.flush()
# No interpreter shutdown: the channel's daemon reader thread could print
# its own error while the modules are torn down.
os._exit(0)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RUNNER.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{RUNNER} is not built (make build)")
        pytest.skip(f"{RUNNER} is not built (make build)")
    out = tmp_path_factory.mktemp("py2pkg")
    subprocess.run([str(RUNNER), "py2-package", str(out)], check=True, capture_output=True)
    assert (out / "vh" / "_native.so").is_file()
    return out


def _drive(
    python2: str, package: Path, native: bool, spin_us: str, layout: str = "1"
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        VH_PY2_NATIVE="1" if native else "0",
        VH_SPIN_US=spin_us,
        VH_PY2_LAYOUT=layout,
    )
    got = subprocess.run(
        [python2, "-B", "-c", _DRIVER, str(package)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert got.returncode == 0, got.stderr
    return got


@pytest.mark.parametrize("spin_us", ["0", "50"], ids=["sleeping", "spinning"])
def test_the_compiled_loop_answers_as_the_python_loop_byte_for_byte(
    python2: str, package: Path, spin_us: str
) -> None:
    # Each wait sleeps at once (no spin budget), or checks the link for up
    # to 50 us first.
    compiled = _drive(python2, package, True, spin_us)
    python = _drive(python2, package, False, spin_us)
    # The struct fields vh._native reads were where it expects them (its
    # layout module): else its sends would take the slower ways, which
    # must answer alike too.
    generic = _drive(python2, package, True, spin_us, layout="0")
    assert compiled.stdout.splitlines()[:3] == [
        "loop: compiled",
        "sends as they are: True",
        "layout known: True",
    ]
    assert generic.stdout.splitlines()[2] == "layout known: False"
    assert python.stdout.splitlines()[:2] == ["loop: python", "sends as they are: False"]
    assert compiled.stdout.splitlines()[3:] == python.stdout.splitlines()[2:]
    assert generic.stdout.splitlines()[3:] == python.stdout.splitlines()[2:]
    assert compiled.stderr == generic.stderr
    assert compiled.stderr == python.stderr
    out = compiled.stdout
    # The rules' hook came back to the main loop, noted as the innermost
    # request; every plain one was answered and forgotten.
    assert "returned: ('hook', 30, 37, [1.5])" in out
    assert "active: [(30, 'direct', True)], depth: 0" in out
    # An int answered as a compact result, (2, call id, False, [value]):
    # len("nick\xe9") + len("hi") for the first.
    answers = [line for line in out.splitlines() if line.startswith("answer: ")]
    # The discarded sends: the six usual ones and the bool one (the
    # Python way) went out before the result of the hook that made them;
    # A refuses unicode, an int for text and a long (nothing sent).
    sends = answers.index(next(a for a in answers if "hi \\xe9" in a))
    assert sum("usermc" in a for a in answers[sends : sends + 7]) == 3, out
    assert "t\\x06\\x00\\x00\\x00usermc[" in answers[sends], out
    assert "t\\x02\\x00\\x00\\x00opR\\x01\\x00" in answers[sends + 4], out
    assert "I\\x00\\x00\\x00\\x00\\x00\\x01" in answers[sends + 5], out
    assert answers[sends + 7].endswith(
        "i\\x08\\x00\\x00\\x00F[\\x01\\x00\\x00\\x00i\\x01\\x00\\x00\\x00'"
    )
    assert "must be str or None, not unicode" in out
    del answers[sends : sends + 8]
    assert len(answers) == 12, out
    assert answers[0] == (
        "answer: '\\x1a\\x00\\x00\\x80(\\x04\\x00\\x00\\x00i\\x02\\x00\\x00\\x00"
        "i\\x01\\x00\\x00\\x00F[\\x01\\x00\\x00\\x00i\\x07\\x00\\x00\\x00'"
    )
    # The held call went out before the result of the hook that made it.
    held = [i for i, line in enumerate(answers) if "SendPMToAll" in line]
    assert held == [4] and "i\\x05\\x00\\x00\\x00F" in answers[5], out
    # No function, or not a callable one: no opinion, (2, id, True, []).
    assert answers[8].endswith("i\\t\\x00\\x00\\x00T[\\x00\\x00\\x00\\x00'")
    assert answers[9].endswith("i\\n\\x00\\x00\\x00T[\\x00\\x00\\x00\\x00'")
    # Both hooks of one write answered, in order.
    assert "i\\x14\\x00" in answers[10] and "i\\x15\\x00" in answers[11]
    # The exception: A's line, then the traceback from the script's
    # function on (no frame of the loop's own).
    assert "PY: [7:t.py] Call (OnParsedMsgChat): failed" in out
    tb = compiled.stderr
    assert "ZeroDivisionError" in tb, tb
    assert tb.splitlines()[1].strip().startswith('File "<string>"'), tb
    assert "_hook_loop" not in tb
    assert "unexpected return value: 5L" in out


#: The spin budget after each wait, by ``Adaptive.waited`` and by the
#: compiled loop's copy of its rules, for the same waits.
_SPIN = r"""
import sys
sys.path.insert(0, sys.argv[1])
from vh import _hook_loop, _spin
waits = [1e-3] * 8 + [10e-6, 40e-6, 100e-6, 101e-6, 20e-6] + [5e-3] * 3 + [0.0] * 6
for largest in (50e-6, 64e-6, 0.0):
    python, compiled = _spin.Adaptive(largest), _spin.Adaptive(largest)
    for took in waits:
        python.waited(took)
        _hook_loop._native.waited(compiled, took)
        print("%r %r" % (python.current(), compiled.current()))
"""


def test_the_compiled_loop_keeps_the_spin_budget_by_the_same_rules(
    python2: str, package: Path
) -> None:
    got = subprocess.run(
        [python2, "-B", "-c", _SPIN, str(package)], capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 0, got.stderr
    pairs = [line.split() for line in got.stdout.splitlines()]
    assert len(pairs) == 3 * 22
    assert all(a == b for a, b in pairs), got.stdout
    # The waits moved it both ways: down to nothing and back up.
    budgets = {a for a, _ in pairs}
    assert "0.0" in budgets and "5e-05" in budgets and len(budgets) > 4


@pytest.mark.parametrize("layout", ["1", "0"], ids=["fields", "generic"])
def test_the_compiled_discard_test_answers_as_vh_discard(
    python2: str, package: Path, layout: str
) -> None:
    # The cases of discard_cases.py, asked of vh._native.caller_discards
    # (what its send_as_is asks about the classic function's caller),
    # reading the frames' fields or asking for them the generic way.
    got = discard_cases.run(
        python2,
        package / "vh" / "_discard.py",
        package / "vh" / "_native.so",
        env={"VH_PY2_LAYOUT": layout},
    )
    assert got == {
        "version": [2, 7],
        "supported": True,
        "compiled": True,
        "frames_known": None,
        "tables": [],
        "wrong": {},
    }


#: ``Runtime.as_is`` (vh._native.send_as_is) called as a classic function
#: calls it, from another thread and from the main one.
_AS_IS = r"""
import os, socket, sys, threading
sys.path.insert(0, sys.argv[1])
from vh import _channel, _hook_loop, _runtime
from vh._functions import FUNCTIONS, send_parts

runner_end, worker_runner = socket.socketpair()
hub, worker_direct = socket.socketpair()
channel = _channel.Channel(os.dup(worker_runner.fileno()), os.dup(worker_direct.fileno()))
rt = _runtime.Runtime(channel, 7, "t.py")
spec = [f for f in FUNCTIONS if f.name == "usermc"][0]
send = send_parts(spec)
# The hub waits for hook 1's answer on the direct link.
channel._active.append((1, _hook_loop.DIRECT, True))

def usermc(*args):
    return rt.as_is(send, args)

got = []
def other():
    got.append(usermc("hi", "op"))
    usermc("hi", "op")
t = threading.Thread(target=other)
t.start()
t.join()
print("other thread: %r, held: %d" % (got[0], channel._held.count()))
used = usermc("hi", "op")
print("used: %r, held: %d" % (used, channel._held.count()))
usermc("hi", "op")
print("discarded: held: %d" % channel._held.count())
usermc(u"hi", "op")
print("unicode: held: %d" % channel._held.count())
print("wrong count: %r" % (rt.as_is(send, ("hi",)),))
sys.stdout.flush()
os._exit(0)
"""


def test_the_compiled_send_holds_only_a_discarded_send_of_the_main_thread(
    python2: str, package: Path
) -> None:
    got = subprocess.run(
        [python2, "-B", "-c", _AS_IS, str(package)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, VH_PY2_NATIVE="1"),
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == [
        # Another thread's call waits for the hub (Runtime.call): False.
        "other thread: False, held: 0",
        # A result the script uses: the ordinary call.
        "used: False, held: 0",
        "discarded: held: 1",
        # Not the usual argument (the Python way says what is wrong).
        "unicode: held: 1",
        "wrong count: None",
    ], got.stderr
