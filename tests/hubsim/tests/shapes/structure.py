#!/usr/bin/env python3
# Shape: the plugin README's "Script Structure" skeleton, which python_pi
# 1.7 scripts follow: a docstring, `import vh`, a module-level
# name_and_version() returning a (name, version) tuple, hooks that return
# 1/0, OnTimer(msec), helper functions.
# answers: OnUserLogin OnParsedMsgChat OnTimer
"""Greets logins and warns about one word."""
import vh


def name_and_version():
    return "ShapeStructure", "1.0"


def OnUserLogin(nick):
    vh.SendToAll(f"{nick} is here")
    return 1


def OnParsedMsgChat(nick, message):
    if "badword" in message.lower():
        vh.pm("mind the words", nick)
        return 0
    return 1


def OnTimer(msec):
    return 1


def is_operator(nick):
    return vh.GetUserClass(nick) >= 3
