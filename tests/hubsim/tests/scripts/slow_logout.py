"""Takes 1 s over OnUserLogout (whose result the hub ignores) and says so."""

import time

import vh


def OnUserLogout(nick):
    time.sleep(1)
    vh.mc("bye %s" % nick)
