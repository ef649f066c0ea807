# Spins forever in a hook on '!spin' (Python 2); answers 'hi' otherwise.
import vh

print "spin2 loaded"


def OnParsedMsgChat(nick, message):
    if message == "!spin":
        while 1:
            pass
    if message == "hi":
        vh.usermc("hello from spin2", nick)
    return 1
