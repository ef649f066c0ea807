# abi_callers.rs "stress": counts the hooks it sees; OnUserLogin reports
# the count (Python 2 and 3).
import vh  # noqa: F401

seen = [0]


def OnTimer(now):
    seen[0] += 1
    return 1


def OnParsedMsgChat(nick, message):
    seen[0] += 1


def OnUserLogin(nick):
    return seen[0]
