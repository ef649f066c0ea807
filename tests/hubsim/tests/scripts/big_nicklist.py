"""On '!nicks', reports how many nicks vh.GetNickList() returned and an
FNV-1a 64 digest of them (each in the hub encoding, sorted as bytes,
joined by newlines), so the test can check a 10,000-user list without
printing it."""

import vh


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def OnParsedMsgChat(nick, message):
    if message != "!nicks":
        return 1
    nicks = vh.GetNickList() or []
    raw = sorted(n.encode(vh.hub_encoding, "surrogateescape") for n in nicks)
    vh.usermc("nicks=%d fnv=%x" % (len(nicks), fnv1a64(b"\n".join(raw))), nick)
    return 0
