# The Python 2 half of the side-by-side test.
import sys

import vh


def OnParsedMsgChat(nick, message):
    if message == "!which":
        vh.usermc("py2 %d %s" % (sys.version_info[0], type(nick).__name__), nick)
    return 1
