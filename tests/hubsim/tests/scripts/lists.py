"""Reports the nick list and a user's class, through vh calls."""

import vh


def OnUserLogin(nick):
    vh.mc("nicks=%s class=%s" % (",".join(sorted(vh.GetNickList() or [])), vh.GetUserClass(nick)))
    return 1
