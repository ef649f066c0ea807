"""Classic-style test script: greets on login, answers !ping."""

import vh


def OnUserLogin(nick):
    vh.mc("Welcome %s" % nick)


def OnParsedMsgChat(nick, message):
    if message == "!ping":
        vh.usermc("pong", nick)
        vh.pm("pong in pm", nick)
        return 0
    return 1
