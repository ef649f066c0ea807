"""Runaway recursion test: +deeper runs +deeper again through the hub,
without end; the worker's depth limit stops it."""

import vh

depth = 0
deepest = 0


def OnUserCommand(nick, command):
    global depth, deepest
    if command != "+deeper":
        return 1
    depth += 1
    deepest = max(deepest, depth)
    try:
        vh.ParseCommand(nick, "+deeper", 0)
    finally:
        depth -= 1
    if depth == 0:
        vh.usermc("deepest %d" % deepest, nick)
    return 0
