# Sandbox probe (Python 2): "!t <this file's name> <op> <arg>" makes it try
# one thing and answer "<op> <arg>: ok" or "<op> <arg>: <errno name>".
# Ops: read a file, write a file, "caller" (answers the name of the
# function that called its hook: serve_hooks for the compiled loop).
import errno
import os
import sys

import vh


def OnParsedMsgChat(nick, message):
    if not message.startswith("!t "):
        return 1
    _, target, op, arg = message.split(" ", 3)
    if target != os.path.basename(__file__):
        return 1
    try:
        if op == "read":
            open(arg, "rb").read(1)
        elif op == "write":
            open(arg, "w").write("written")
        elif op == "caller":
            arg = sys._getframe(1).f_code.co_name
        result = "ok"
    except (IOError, OSError) as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
    vh.usermc("%s %s: %s" % (op, arg, result), nick)
    return 0
