"""Recursion through two scripts: +ping makes the hub run +pong, which the
other script answers with +ping again; the shim's nesting limit stops it."""

import vh

depth = 0
deepest = 0


def OnUserCommand(nick, command):
    global depth, deepest
    if command != "+ping":
        return 1
    depth += 1
    deepest = max(deepest, depth)
    try:
        vh.ParseCommand(nick, "+pong", 0)
    finally:
        depth -= 1
    if depth == 0:
        vh.usermc("ping deepest %d" % deepest, nick)
    return 0
