"""Console test: answers +who with its id, file name and VERSION (the test
copies it and changes VERSION to see a reload pick up the new file)."""

import vh

VERSION = 1


def OnUserCommand(nick, command):
    if command == "+who":
        vh.usermc("#%d %s v%d" % (vh.myid, vh.name, VERSION), nick)
        return 0
    return 1
