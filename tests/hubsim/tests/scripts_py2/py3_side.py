"""The Python 3 half of the side-by-side test: answers '!which' with its
interpreter's major version and the nick as str."""

import sys

import vh


def OnParsedMsgChat(nick, message):
    if message == "!which":
        vh.usermc("py3 %d %s" % (sys.version_info[0], type(nick).__name__), nick)
    return 1
