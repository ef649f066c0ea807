"""Spins forever in a hook on '!spin'; answers 'hi' otherwise."""

import vh


def OnParsedMsgChat(nick, message):
    if message == "!spin":
        while True:
            pass
    if message == "hi":
        vh.usermc("hello from spin", nick)
    return 1
