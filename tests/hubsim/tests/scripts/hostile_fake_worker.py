"""A fake worker interpreter for the hostile-peer tests: the runner starts it instead of
``python -u -m vh.worker`` (the test points ``python`` at a wrapper that
runs this file) and it speaks the worker protocol badly on fd 3, as
``FAKE_MODE`` says:

* ``junk``: answers the load request with a frame of undecodable bytes;
* ``huge``: announces a frame of 4 GiB;
* ``close``: exits with code 0 without a word;
* ``refuse_and_linger``: reports a failed load, then stays alive;
* ``hook_junk``: loads properly (hook OnParsedMsgChat), then answers its
  first hook with undecodable bytes;
* ``direct_junk``: loads properly (hook OnParsedMsgChat), answers the
  first hook, which comes on its direct link to the hub (fd
  ``VH_DIRECT_FD``), with undecodable bytes there, then blocks (returns 0)
  every hook that comes through the runner;
* ``direct_compact_junk``: as ``direct_junk`` for a worker the runner
  takes for a Python 2.7 one (the test's wrapper says "2.7" when asked its
  version), whose link carries compact frames (docs/protocol.md "Compact
  frames"): it checks that the first hook came as one, answers it with a
  compact frame the shim must refuse (a marshal ``long``, which no worker
  writes), then blocks every hook that comes through the runner;
* ``flood``: loads properly, then sends ``FAKE_FLOOD`` vh.SendToOpChat
  calls at once without waiting for their results;
* ``oversize_call``: loads properly, then answers each hook with a
  vh.SendToOpChat call in a frame of exactly 16 MiB (the largest the
  runner reads, but too big to forward once the runner adds the script
  id), waits for its result and blocks the chat line (returns 0) if the
  call failed with "exceeds the limit", else allows it.

It needs no ``vh`` package: the few messages are encoded by hand
(proto/vh.proto). Every mode gives up after 60 s.
"""

import os
import struct
import sys
import time

FD = int(os.environ.get("VH_WORKER_FD", "3"))
MODE = os.environ.get("FAKE_MODE", "junk")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def frame(body, fd=FD):
    os.write(fd, struct.pack("<I", len(body)) + body)


def read_frame(fd=FD):
    head = b""
    while len(head) < 4:
        got = os.read(fd, 4 - len(head))
        if not got:
            sys.exit(0)
        head += got
    (n,) = struct.unpack("<I", head)
    n &= 0x7FFFFFFF  # a compact frame's length has its top bit set
    body = b""
    while len(body) < n:
        got = os.read(fd, n - len(body))
        if not got:
            sys.exit(0)
        body += got
    return body


def loaded(ok, error=b"", hooks=()):
    """FromWorker{loaded: ScriptLoaded{ok, error, hooks}}."""
    inner = b"\x10" + varint(1 if ok else 0)
    if error:
        inner += field(3, error)
    if hooks:
        inner += field(4, b"".join(varint(h) for h in hooks))
    inner += b"\x28" + varint(os.getpid())
    return field(1, inner)


def hub_call(call_id, text):
    """FromWorker{hub_call: HubCall{call_id, "SendToOpChat", [text, NULL]}}."""
    args = field(4, field(2, text)) + field(4, b"\x20\x01")
    inner = b"\x10" + varint(call_id) + field(3, b"SendToOpChat") + args
    return field(3, inner)


def varint_len(n):
    return len(varint(n))


def field_len(payload_len):
    """Length of a length-delimited field (one-byte key) of that payload."""
    return 1 + varint_len(payload_len) + payload_len


def oversize_hub_call(call_id, size):
    """A hub_call frame body of exactly ``size`` bytes."""
    fixed = 1 + varint_len(call_id) + field_len(len(b"SendToOpChat")) + len(field(4, b"\x20\x01"))
    n = size
    while field_len(fixed + field_len(field_len(n))) > size:
        n -= 1
    body = hub_call(call_id, b"o" * n)
    assert len(body) == size, (len(body), size)
    return body


def call_result(body):
    """(ok, error) of a ToWorker{call_result: CallResult}."""
    ok, error, i = False, b"", 0
    assert body[0] == 0x1A  # field 3, length-delimited
    i = 1
    while body[i] & 0x80:
        i += 1
    inner, i = body[i + 1 :], 0
    while i < len(inner):
        key = inner[i]
        i += 1
        if key & 7 == 0:
            value, shift = 0, 0
            while True:
                b = inner[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if key >> 3 == 3:
                ok = bool(value)
        else:
            length, shift = 0, 0
            while True:
                b = inner[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if key >> 3 == 5:
                error = inner[i : i + length]
            i += length
    return ok, error


def hook_result(call_id, value):
    """FromWorker{hook_result: HookResult{call_id, values: [l value]}}
    (``l`` is a zigzag ``sint64``; ``value`` >= 0)."""
    inner = b"\x10" + varint(call_id) + field(4, b"\x08" + varint(value * 2))
    return field(2, inner)


def hook_call_id(body):
    """call_id of a ToWorker{hook: HookCall}."""
    i = 1
    while body[i] & 0x80:
        i += 1
    inner, i = body[i + 1 :], 0
    while i < len(inner):
        key = inner[i]
        i += 1
        value, shift = 0, 0
        while True:
            b = inner[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if key >> 3 == 2:
            return value
        if key & 7 == 2:
            i += value
    return 0


def main():
    read_frame()  # the load request
    if MODE == "junk":
        frame(b"\xff" * 64)
    elif MODE == "huge":
        os.write(FD, b"\xff\xff\xff\xff" + b"\x00" * 16)
    elif MODE == "close":
        return 0
    elif MODE == "refuse_and_linger":
        frame(loaded(False, b"fake worker: refused"))
    elif MODE == "hook_junk":
        frame(loaded(True, hooks=(3,)))
        read_frame()  # the first hook
        frame(b"\xff" * 64)
    elif MODE == "direct_junk":
        frame(loaded(True, hooks=(3,)))
        direct = int(os.environ["VH_DIRECT_FD"])
        read_frame(direct)
        frame(b"\xff" * 64, direct)
        while True:
            hook = read_frame()
            frame(hook_result(hook_call_id(hook), 0))
    elif MODE == "direct_compact_junk":
        frame(loaded(True, hooks=(3,)))
        direct = int(os.environ["VH_DIRECT_FD"])
        head = os.read(direct, 5)
        assert len(head) == 5 and head[3] & 0x80 and head[4:5] == b"(", head
        read_frame_rest = struct.unpack("<I", head[:4])[0] & 0x7FFFFFFF
        while read_frame_rest > 1:
            read_frame_rest -= len(os.read(direct, read_frame_rest - 1))
        # (2, 1, False, [2L]): a hook result whose value is a marshal long.
        body = b"(\x04\x00\x00\x00i\x02\x00\x00\x00i\x01\x00\x00\x00F"
        body += b"[\x01\x00\x00\x00l\x01\x00\x00\x00\x02\x00"
        os.write(direct, struct.pack("<I", len(body) | 0x80000000) + body)
        while True:
            hook = read_frame()
            frame(hook_result(hook_call_id(hook), 0))
    elif MODE == "oversize_call":
        frame(loaded(True, hooks=(3,)))
        call_id = 0
        while True:
            hook = read_frame()
            call_id += 1
            frame(oversize_hub_call(call_id, 16 * 1024 * 1024))
            ok, error = call_result(read_frame())
            refused = not ok and b"exceeds the limit" in error
            frame(hook_result(hook_call_id(hook), 0 if refused else 1))
    elif MODE == "flood":
        frame(loaded(True, hooks=(3,)))
        count = int(os.environ.get("FAKE_FLOOD", "20000"))
        out = b"".join(
            struct.pack("<I", len(m)) + m
            for m in (hub_call(i + 1, b"flood %d" % i) for i in range(count))
        )
        os.write(FD, out)
    time.sleep(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
