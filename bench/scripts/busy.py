"""vh-bench: a script that stays busy in a long hook. A private message
"sleep 1.5" sleeps 1.5 s in the hook, "spin 1.5" burns the CPU for 1.5 s;
the hub gives up after the script's short hook deadline and goes on."""

import time


def OnParsedMsgPM(nick, message, to):
    kind, seconds = message.split()
    end = time.monotonic() + float(seconds)
    if kind == "spin":
        while time.monotonic() < end:
            pass
    else:
        time.sleep(float(seconds))
    return 1
