"""Sends every nick that logs in straight back to the hub, to check that
8-bit bytes survive the trip; also reports what the script saw."""

import vh

EXPECTED = "Пользователь"


def OnUserLogin(nick):
    vh.usermc(nick, nick, nick)
    vh.mc("equal=%s" % (nick == EXPECTED))
    return 1
