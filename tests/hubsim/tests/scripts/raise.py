"""Raises in a hook: the hook must allow and the traceback reach the log."""


def OnParsedMsgChat(nick, message):
    if message == "!raise":
        return 1 / 0
    return 1
