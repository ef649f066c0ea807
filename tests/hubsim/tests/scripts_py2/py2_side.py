# The Python 2 half of the side-by-side test.
import sys

import vh


def OnParsedMsgChat(nick, message):
    if message == "!which":
        vh.usermc("py2 %d %s" % (sys.version_info[0], type(nick).__name__), nick)
    return 1


# Generation B's w_CallFunction reaches module-level functions.
def Twice(n):
    return n * 2


def Greet(nick):
    vh.usermc("hello " + nick, nick)
    return "greeted " + nick
