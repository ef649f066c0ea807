"""Sandbox test: ``!t <script file name> <op> <arg>`` makes
that script try one thing and answer ``<op> <arg>: ok`` or
``<op> <arg>: <exception class>``; other scripts let it pass.

Ops: ``read`` a file, ``list`` a folder, ``write`` a file, ``connect`` to a
loopback TCP port, ``bind`` a loopback TCP port, ``signal`` a pid (signal 0),
``unix`` a Unix socket (``EOFError`` if the peer closes it at once),
``state`` (writes ``<arg>`` into ``vh.state_dir``), ``temp`` (a temporary
file), ``where`` (``vh.state_dir`` and ``VH_STATE_DIR``).
"""

import os
import socket
import tempfile

import vh


def _read(arg):
    with open(arg, "rb") as f:
        f.read(1)


def _list(arg):
    os.listdir(arg)


def _write(arg):
    with open(arg, "w") as f:
        f.write("written by %s" % vh.name)


def _connect(arg):
    socket.create_connection(("127.0.0.1", int(arg)), timeout=3).close()


def _bind(arg):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
    finally:
        s.close()


def _signal(arg):
    os.kill(int(arg), 0)


def _unix(arg):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    try:
        s.connect(arg)
        if s.recv(1) == b"":
            raise EOFError("closed by the peer")
    except socket.timeout:
        pass  # still open: the peer waits for us to speak
    finally:
        s.close()


def _state(arg):
    _write(os.path.join(vh.state_dir, arg))


def _temp(arg):
    with tempfile.TemporaryFile() as f:
        f.write(b"x")


OPS = {
    "read": _read,
    "list": _list,
    "write": _write,
    "connect": _connect,
    "bind": _bind,
    "signal": _signal,
    "unix": _unix,
    "state": _state,
    "temp": _temp,
}


def OnParsedMsgChat(nick, message):
    if not message.startswith("!t "):
        return 1
    _, target, op, arg = message.split(" ", 3)
    if target != os.path.basename(vh.path):
        return 1
    if op == "where":
        vh.usermc("where %s: %s|%s" % (arg, vh.state_dir, os.environ.get("VH_STATE_DIR")), nick)
        return 0
    try:
        OPS[op](arg)
        result = "ok"
    except Exception as e:
        result = type(e).__name__
    vh.usermc("%s %s: %s" % (op, arg, result), nick)
    return 0
