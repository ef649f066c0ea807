"""vh-bench: the smallest real hook. Allows every chat line; also defines a
hook whose result the hub ignores (OnUserLogout). Loaded by `vh-bench` in
vh-runner workers and, unchanged, by its in-process CPython baseline."""


def OnParsedMsgChat(nick, message):
    return 1


def OnUserLogout(nick):
    return 1
