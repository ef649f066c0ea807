# Shape: the README's "Real-World Example": OnUserCommand with prefixed
# commands split by hand, a bare except, and an OnTimer(msec) that calls
# a dynamic function once a minute.
# answers: OnUserCommand OnTimer
import vh


def OnUserCommand(nick, command):
    if command.startswith("+calc"):
        try:
            _, expression = command.split(" ", 1)
            vh.pm(f"= {len(expression)}", nick)
        except:  # noqa: E722 (the README's shape)
            vh.pm("usage: +calc <expression>", nick)
        return 0
    return 1


def OnTimer(msec):
    if int(msec) % 60000 < 1000:
        try:
            vh.CallDynamicFunction("generate_hourly_report")
        except Exception:
            pass
    return 1
