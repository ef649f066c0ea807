"""A stand-in for vh-runner in Python tests: starts a real worker
(``python -m vh.worker``) on a socketpair and speaks its frame protocol
(docs/protocol.md "Runner ↔ worker"), with just enough protobuf encoding
for the messages of proto/proto/vh.proto it needs. The tests then play the
runner and the hub: they send hooks, answer the worker's hub calls, and
nest hooks inside calls as the shim does.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

# -- protobuf, the few wire types vh.proto uses -----------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n) if n else b""


def _bytes(field: int, b: bytes) -> bytes:
    return _key(field, 2) + _varint(len(b)) + b


def _decode(data: bytes) -> dict[int, list[Any]]:
    """Message bytes -> field number -> raw values (int or bytes)."""
    fields: dict[int, list[Any]] = {}
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i : i + n], i + n
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        fields.setdefault(field, []).append(value)
    return fields


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


def encode_value(v: Any) -> bytes:
    """A hub value as ``vh.v1.Value``: int -> l (sint64), bytes -> s,
    float -> d, None -> null_s."""
    if v is None:
        return _key(4, 0) + b"\x01"
    if isinstance(v, bytes):
        return _bytes(2, v)
    if isinstance(v, float):
        return _key(3, 1) + struct.pack("<d", v)
    return _key(1, 0) + _varint((v << 1) ^ (v >> 63))


def decode_value(data: bytes) -> Any:
    f = _decode(data)
    if 1 in f:
        n = f[1][0]
        return (n >> 1) ^ -(n & 1)
    if 2 in f:
        return f[2][0]
    if 3 in f:
        return struct.unpack("<d", f[3][0])[0]
    if 5 in f:
        return f[5][0]
    return None


def _values(field: int, values: list[Any]) -> bytes:
    return b"".join(_bytes(field, encode_value(v)) for v in values)


# ToWorker kinds.
def load_msg(path: str, encoding: str, script_id: int = 7, hub_cwd: str = "") -> bytes:
    body = (
        _int(1, script_id)
        + _bytes(2, os.fsencode(path))
        + _bytes(3, b"Verlihub")
        + _bytes(4, b"OpChat")
        + _bytes(5, b"/etc/verlihub")
        + _int(6, 1_700_000_000)
        + _bytes(7, b"config")
        + _bytes(8, encoding.encode())
        + _bytes(9, b"A")
        + (_bytes(10, os.fsencode(hub_cwd)) if hub_cwd else b"")
    )
    return _bytes(1, body)


def hook_msg(call_id: int, hook: int, args: list[Any]) -> bytes:
    return _bytes(2, _int(1, 7) + _int(2, call_id) + _int(3, hook) + _values(4, args))


def call_result_msg(call_id: int, ok: bool, values: list[Any], error: str = "") -> bytes:
    body = _int(1, 7) + _int(2, call_id) + _int(3, int(ok)) + _values(4, values)
    return _bytes(3, body + (_bytes(5, error.encode()) if error else b""))


def unload_msg() -> bytes:
    return _bytes(4, _int(1, 7))


def ping_msg(seq: int) -> bytes:
    return _bytes(5, _int(1, 7) + _int(2, seq))


def decode_from_worker(data: bytes) -> tuple[str, dict[str, Any]]:
    """A ``FromWorker`` frame as ``(kind, fields)``."""
    ((kind, raw),) = _decode(data).items()
    f = _decode(raw[0])

    def one(n: int, default: Any = 0) -> Any:
        return f.get(n, [default])[0]

    if kind == 1:
        hooks: list[int] = []
        for chunk in f.get(4, []):
            if isinstance(chunk, bytes):  # packed
                i = 0
                while i < len(chunk):
                    h, i = _read_varint(chunk, i)
                    hooks.append(h)
            else:
                hooks.append(chunk)
        return "loaded", {"ok": bool(one(2)), "error": one(3, b"").decode(), "hooks": hooks}
    if kind == 2:
        values = [decode_value(v) for v in f.get(4, [])]
        return "hook_result", {"call_id": one(2), "no_opinion": bool(one(3)), "values": values}
    if kind == 3:
        args = [decode_value(v) for v in f.get(4, [])]
        return "hub_call", {"call_id": one(2), "callback": one(3, b"").decode(), "args": args}
    if kind == 4:
        return "unloaded", {}
    if kind == 5:
        return "pong", {"seq": one(2)}
    raise ValueError(f"unknown FromWorker kind {kind}")


# -- the runner's side -----------------------------------------------------------

#: ``answer(callback, args) -> (ok, values)`` for a hub call.
Answer = Callable[[str, list[Any]], tuple[bool, list[Any]]]


class FakeRunner:
    """One real worker process running ``script``, driven from the test."""

    def __init__(
        self,
        script: Path,
        encoding: str = "cp1252",
        env: Optional[dict[str, str]] = None,
        hub_cwd: str = "",
    ) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.sock.settimeout(10)
        self.calls: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "vh.worker"],
            pass_fds=[theirs.fileno()],
            env={**os.environ, **(env or {}), "VH_WORKER_FD": str(theirs.fileno())},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        theirs.close()
        self._buffer = b""
        self.send(load_msg(str(script), encoding, hub_cwd=hub_cwd))

    def send(self, frame: bytes) -> None:
        self.sock.sendall(struct.pack("<I", len(frame)) + frame)

    def recv(self) -> tuple[str, dict[str, Any]]:
        while len(self._buffer) < 4 or len(self._buffer) < 4 + self._length():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the worker closed the link:\n" + self.output())
            self._buffer += chunk
        n = self._length()
        frame, self._buffer = self._buffer[4 : 4 + n], self._buffer[4 + n :]
        return decode_from_worker(frame)

    def _length(self) -> int:
        return int(struct.unpack("<I", self._buffer[:4])[0])

    def until(self, kind: str, answer: Answer, **match: Any) -> dict[str, Any]:
        """Receives until a ``kind`` message whose fields match, answering
        every hub call on the way with ``answer`` (recorded in ``calls``)."""
        while True:
            got, fields = self.recv()
            if got == "hub_call":
                self.calls.append(fields)
                ok, values = answer(fields["callback"], fields["args"])
                self.send(call_result_msg(fields["call_id"], ok, values))
            elif got == kind and all(fields.get(k) == v for k, v in match.items()):
                return fields

    def output(self) -> str:
        """The worker's stdout and stderr (after it exited)."""
        try:
            out, _ = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            return "(worker still running)"
        return out.decode("utf-8", "replace") if out else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.sock.close()


def ack(callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
    """Answers every hub call with success (``"l"`` 1)."""
    return True, [1]
