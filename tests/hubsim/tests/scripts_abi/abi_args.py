# abi_callers.rs "args": hooks that take whatever they are given, and
# results of types the plugin does not read (Python 2 and 3).
import vh  # noqa: F401


def OnTimer(*args):
    return 40 + len(args)


def OnNewConn(*args):
    return 50 + len(args)


def OnUserLogin(nick):
    return 1.5


def OnUserInList(nick):
    return [1]


def OnParsedMsgPM(nick, message, to):
    return "str"
