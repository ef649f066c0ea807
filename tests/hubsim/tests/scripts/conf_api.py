"""Conformance script for the vh API (tests/hubsim/tests/conformance_api.rs).

The test sends a Python expression as ``OnPublicBotMessage('conf_eval',
<expression>, 0, 0)``, a hook the hub waits for and that has no connection.
The script evaluates it and returns ``("ok <ascii(value)>", 1)``, or
``("raise <Type>: <message>", 1)``: the hub gets the report as the hook's
``(str, n)`` result (the ``HOOK`` record), so reporting makes no hub
callback of its own and the test sees exactly the callbacks the
expression made.

The hooks the evaluated functions fire again (``SetConfig``,
``ParseCommand``) report their arguments through ``vh.SendToOpChat``;
``OnScriptCommand``, which the hub does not wait for, appends them to
``$VH_TEST_DIR/script_commands.txt`` instead.
"""

import os

import vh

_SCRIPT_COMMANDS = os.path.join(os.environ["VH_TEST_DIR"], "script_commands.txt")


def arity(name, required, most):
    """Calls ``vh.<name>`` with one argument too few (if it has required
    ones) and one too many: ``'TypeError'`` for each call refused for its
    argument count, else what happened (another error, or ``'none'``)."""
    fn = getattr(vh, name)
    counts = ([required - 1] if required else []) + [most + 1]
    seen = []
    for n in counts:
        try:
            fn(*["x"] * n)
        except TypeError as e:
            # A's texts ("takes ..." / Python's "missing ...") and
            # generation B's ("Function requires at least N arguments").
            about_count = any(w in str(e) for w in ("takes", "missing", "requires at least"))
            seen.append("TypeError" if about_count else "TypeError: %s" % e)
        except Exception as e:
            seen.append("%s: %s" % (type(e).__name__, e))
        else:
            seen.append("none")
    return seen


def _call_text(name, *args):
    return "%s(%s)" % (name, ", ".join(ascii(a) for a in args))


def _report(name, *args):
    vh.SendToOpChat(_call_text(name, *args))


def OnPublicBotMessage(nick, message, min_class, max_class):
    if nick != "conf_eval":
        return None
    scope = {"vh": vh, "arity": arity}
    try:
        value = eval(message, scope)
    except Exception as e:
        return ("raise %s: %s" % (type(e).__name__, e), 1)
    return ("ok " + ascii(value), 1)


def OnScriptCommand(command, data, plugin, script):
    # The hub does not wait for this hook: a file the test can read at once
    # rather than a vh call that runs at the hub's next entry.
    with open(_SCRIPT_COMMANDS, "a") as f:
        f.write(_call_text("OnScriptCommand", command, data, plugin, script) + "\n")


def OnSetConfig(nick, conf, var, new_value, old_value, type_id):
    _report("OnSetConfig", nick, conf, var, new_value, old_value, type_id)
    return 0 if new_value == "veto" else None


def OnOperatorCommand(nick, command):
    _report("OnOperatorCommand", nick, command)
    return 0
