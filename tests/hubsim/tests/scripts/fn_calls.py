"""Functions for generation B's w_CallFunction (docs/abi.md §3.9), called by name
from the hub; also a classic hook, re-entered while a function runs."""

import time

import vh

not_callable = 5


def add(a, b):
    return a + b


def shout(text):
    return text.upper()


def ratio(a, b):
    return a / b


def nothing():
    return None


def flag():
    return True


def info(nick):
    vh.usermc("info for %s" % nick, nick)
    return {"nick": nick, "class": vh.GetUserClass(nick)}


def items():
    return ("a", 1, 2.5)


def tags():
    return frozenset(["x"])


def obj():
    return object()


def boom():
    raise ValueError("boom")


def huge():
    return 2**70


def fire(nick):
    vh.ParseCommand(nick, "+echo inside", 0)
    return "fired"


def slow():
    time.sleep(1.0)
    return 1


def spin():
    while True:
        pass


def OnUserCommand(nick, command):
    if command.startswith("+echo"):
        vh.usermc("echo: %s" % command, nick)
        return 0
    return 1
