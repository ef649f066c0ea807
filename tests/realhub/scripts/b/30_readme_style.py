#!/usr/bin/env python3
"""
A script with the structure python_pi 1.7's README gives ("Script
Structure", "Basic Python Script"): its own name_and_version(), hooks
returning 1/0, OnTimer(msec), helpers, f-strings.
"""

import os

import vh  # Always import the vh module

LOG = os.path.join(os.environ["VH_REALHUB_OUT"], "readme_style.txt")


# Optional: Define script metadata
def name_and_version():
    return "MyScript", "1.0"


def log(text):
    with open(LOG, "a", encoding="utf-8", errors="backslashreplace") as f:
        print(text, file=f)


log(f"loaded; name_and_version() = {name_and_version()!r}")


# Called when a user sends a chat message
def OnParsedMsgChat(nick, message):
    user_class = vh.GetUserClass(nick)
    if message.startswith(".stats"):
        count = vh.GetUsersCount()
        vh.pm(nick, f"Users online: {count}, Your class: {user_class}")
        log(f"stats for {nick!r}: {count} {user_class}")
        return 0  # Block the command from being displayed
    if message.startswith(".ops"):
        ops = vh.GetOpList()
        vh.usermc(f"Operators: {', '.join(ops)}", nick)
        return 0
    if is_operator(nick) and message == ".whoami":
        vh.usermc(f"{nick} is an operator", nick)
        return 0
    return 1  # Allow normal messages


# Called when a user logs in
def OnUserLogin(nick):
    vh.usermc(f"Welcome {nick}!", nick)
    return 1


# Called periodically (every second)
def OnTimer(msec):
    return 1


# Scripts can also define helper functions
def is_operator(nick):
    return vh.GetUserClass(nick) >= 3
