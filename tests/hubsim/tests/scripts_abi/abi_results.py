# abi_callers.rs "results": a chat hook and a function returning text, for
# C callers that free the result's strings themselves (Python 2 and 3).
import vh  # noqa: F401


def OnParsedMsgChat(nick, message):
    return "re: " + message


def echo(s):
    return "echo " + s
