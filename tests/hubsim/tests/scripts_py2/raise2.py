# Raises in a hook (Python 2): the hook must allow and the traceback reach the log.
print "raise2 loaded"


def OnParsedMsgChat(nick, message):
    if message == "!raise":
        return 1 / 0
    return 1
