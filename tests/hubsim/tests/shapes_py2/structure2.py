# Shape: the "Script Structure" skeleton as python_pi 1.6 scripts wrote it
# in Python 2: the print statement, % formatting, `except E, e`, a
# module-level name_and_version() returning a (name, version) tuple.
# answers: OnUserLogin OnParsedMsgChat OnTimer
"""Greets logins and warns about one word (Python 2)."""
import vh

print "structure2 loading as", vh.name


def name_and_version():
    return "ShapeStructure2", "1.0"


def OnUserLogin(nick):
    vh.usermc("%s is here" % nick, nick)
    return 1


def OnParsedMsgChat(nick, message):
    try:
        if "badword" in message.lower():
            vh.pm("mind the words", nick)
            return 0
    except Exception, e:
        print "OnParsedMsgChat:", e
    return 1


def OnTimer(msec):
    return 1
