#!/usr/bin/env python3
# Shape: the plugin README's first script: a !stats chat command answered
# in PM with the user's class and the user count, a login greeting in main
# chat and an OnTimer(msec) that does nothing.
# answers: OnUserLogin OnParsedMsgChat OnTimer
"""!stats in main chat, answered privately."""
import vh


def OnParsedMsgChat(nick, message):
    uclass = vh.GetUserClass(nick)
    if message.startswith("!stats"):
        vh.pm(f"{vh.GetUsersCount()} online, class {uclass}", nick)
        return 0
    return 1


def OnUserLogin(nick):
    vh.SendToAll(f"hello {nick}")
    return 1


def OnTimer(msec):
    return 1
