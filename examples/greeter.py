"""Greeter and ping bot: the smallest useful vh-runner script.

What it does:
  * greets every user who logs in, in main chat (``OnUserLogin``);
  * answers ``!ping`` in main chat to the sender only, and in PM, and hides
    the ``!ping`` line from everyone else (``OnParsedMsgChat`` returns 0);
  * lets every other message through (returns 1).

It is written in the classic style of python_pi scripts (``import vh`` and
module-level hook functions), so it runs unchanged in-process or under
vh-runner. Run it with the demo (``make demo``) or load it on a hub with
``!pyload /path/to/greeter.py``.
"""

import vh

greeted = 0


def OnUserLogin(nick):
    # type: (str) -> int
    global greeted
    greeted += 1
    vh.mc("Welcome, %s! You are visitor #%d since I started." % (nick, greeted))
    return 1


def OnParsedMsgChat(nick, message):
    # type: (str, str) -> int
    if message.strip() == "!ping":
        vh.usermc("pong, %s" % nick, nick)
        vh.pm("pong (in PM)", nick)
        return 0
    return 1
