"""Calls the C functions the test registers for this script with
w_RegisterFunction (docs/abi.md §3.10) through vh.CallDynamicFunction, and reports
each result (or exception) in main chat to the caller."""

import threading

import vh


def report(nick, label, call):
    try:
        got = repr(call())
    except Exception as e:
        got = "%s: %s" % (type(e).__name__, e)
    vh.usermc("%s -> %s" % (label, got), nick)


def OnParsedMsgChat(nick, message):
    if message == "dyn basic":
        report(nick, "add", lambda: vh.CallDynamicFunction("add", 2, 40))
        report(nick, "reverse", lambda: vh.CallDynamicFunction("reverse", "h\xe9llo"))
        report(nick, "half", lambda: vh.CallDynamicFunction("half", 5.0))
        report(nick, "echo", lambda: vh.CallDynamicFunction("echo_json", {"a": [1, 2], "b": None}))
        report(nick, "list", lambda: vh.CallDynamicFunction("string_list"))
        report(nick, "null", lambda: vh.CallDynamicFunction("null"))
        report(
            nick,
            "formats",
            lambda: vh.CallDynamicFunction(
                "formats", 1, True, "s", 2.5, [1], (2,), {3}, frozenset([4]), {"k": 5}
            ),
        )
        return 0
    if message == "dyn errors":
        report(nick, "unknown", lambda: vh.CallDynamicFunction("nope", 1))
        report(nick, "badarg", lambda: vh.CallDynamicFunction("add", 1, object()))
        report(nick, "badname", lambda: vh.CallDynamicFunction(5))
        report(nick, "noargs", lambda: vh.CallDynamicFunction(""))
        return 0
    if message == "dyn reenter":
        report(nick, "reenter", lambda: vh.CallDynamicFunction("reenter", nick))
        return 0
    if message == "dyn thread":

        def work():
            vh.mc("thread got %r" % (vh.CallDynamicFunction("add", 20, 22),))

        threading.Thread(target=work).start()
        return 0
    return 1


def twice(n):
    """Called back by the test's `reenter` C function with w_CallFunction."""
    return 2 * n
