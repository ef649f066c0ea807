"""Inter-script test: no OnScriptCommand, yet its vh.botname and
vh.opchatname follow the hub's renames."""

import vh


def OnParsedMsgChat(nick, message):
    if message == "names":
        vh.usermc("#%d sees %s %s" % (vh.myid, vh.botname, vh.opchatname), nick)
        return 0
    return 1
