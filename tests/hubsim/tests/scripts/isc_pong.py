"""Recursion through two scripts: +pong makes the hub run +ping, which the
other script answers with +pong again; the shim's nesting limit stops it."""

import vh

depth = 0
deepest = 0


def OnUserCommand(nick, command):
    global depth, deepest
    if command != "+pong":
        return 1
    depth += 1
    deepest = max(deepest, depth)
    try:
        vh.ParseCommand(nick, "+ping", 0)
    finally:
        depth -= 1
    if depth == 0:
        vh.usermc("pong deepest %d" % deepest, nick)
    return 0
