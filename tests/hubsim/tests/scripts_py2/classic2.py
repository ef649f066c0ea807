# A classic python_pi 1.6 script in Python 2 style: the print
# statement, `except E, e`, long and 0L, dict.has_key, unicode(), urllib2,
# ConfigParser, Queue, StringIO, and hub strings handled as byte strings.
import os
import threading
import urllib2
import ConfigParser
import Queue
from StringIO import StringIO

import vh

seen = {}
total = 0L
replies = Queue.Queue()

print "classic2 loading as", vh.name


def name_and_version():
    return "classic2", "2.7"


def _say(nick, text):
    vh.usermc(text, nick)


def _background(text):
    # vh.* from another thread: queued until the hub's next entry.
    replies.put(vh.SendToOpChat(text))


def OnParsedMsgChat(nick, message):
    global total
    total += long(len(message))
    if not seen.has_key(nick):
        seen[nick] = 0
    seen[nick] += 1
    if message == "!echo":
        _say(nick, "you are " + nick + " " + type(nick).__name__ + " " + str(len(nick)))
        return 0
    if message == "!who":
        nicks = vh.GetNickList()
        _say(nick, "nicks: " + ",".join(nicks) + " " + type(nicks[0]).__name__)
        return 0
    if message == "!raw":
        _say(nick, vh.GetRawNickList())
        return 0
    if message == "!ops":
        _say(nick, "ops: %r" % (vh.GetOpList(),))
        return 0
    if message == "!cfg":
        cp = ConfigParser.RawConfigParser()
        cp.readfp(StringIO("[hub]\nname = classic\n"))
        _say(nick, "cfg " + cp.get("hub", "name"))
        return 0
    if message == "!url":
        _say(nick, "url " + urllib2.quote("a b/c"))
        return 0
    if message == "!sql":
        ok, rows = vh.SQL("SELECT 1")
        _say(nick, "sql %r %r" % (ok, rows))
        return 0
    if message == "!unicode":
        got = vh.usermc(unicode("caf\xe9", "latin-1"), nick)
        _say(nick, "unicode refused %r" % (got,))
        return 0
    if message == "!long":
        got = vh.classmc("x", 0L, 10L)
        _say(nick, "long refused %r" % (got,))
        return 0
    if message == "!err":
        try:
            raise ValueError("boom")
        except ValueError, e:
            _say(nick, "caught %s" % e)
        return 0
    if message == "!count":
        _say(nick, "count %d %s %d" % (seen[nick], type(total).__name__, total))
        return 0
    if message == "!class":
        _say(nick, "class %r ip %r" % (vh.GetUserClass(nick), vh.GetUserIP(nick)))
        return 0
    if message == "!myinfo":
        _say(nick, "myinfo %r" % (vh.GetMyINFO(nick),))
        return 0
    if message == "!attrs":
        _say(nick, "attrs %r %r %r %r %r" % (vh.myid == int(vh.myid), vh.botname,
                                           vh.opchatname, vh.name, vh.__version__))
        return 0
    if message == "!attrs2":
        _say(nick, "attrs2 %r %r %s %r %r" % (vh.config_name, vh.basedir,
                                            type(vh.starttime).__name__, vh.starttime > 0,
                                            vh.path.endswith("/classic2.py")))
        return 0
    if message == "!consts":
        _say(nick, "consts %d %d %d" % (vh.eCR_KICKED, vh.eBF_NICK, vh.eBOT_API_ERROR))
        return 0
    if message == "!enc":
        _say(nick, vh.encode("a$b|c") + " " + vh.decode("&#36;&#124;"))
        return 0
    if message == "!thread":
        t = threading.Thread(target=_background, args=("from a thread",))
        t.daemon = True
        t.start()
        return 0
    if message == "!rename":
        # Re-entrant: SetConfig fires OnSetConfig into this very script
        # (which calls vh.* again), then the hub's _hub_security_change.
        got = vh.SetConfig("config", "hub_security", "\xc1\xee\xf2")
        _say(nick, "renamed %r %r" % (got, vh.botname))
        return 0
    if message.startswith("!sub "):
        return message[5:]
    if message.startswith("!both "):
        return ("Bot", message[6:])
    if message == "!reply":
        return ("replied", 0)
    if message == "!long0":
        return 0L
    if message == "!unicode0":
        return u"text"
    if message == "!bad":
        return [1, 2]
    return 1


def OnTimer():
    vh.SendToOpChat("tick without an argument")


def UnLoad():
    with open(os.path.join(os.environ["VH_TEST_DIR"], "classic2.unloaded"), "w") as f:
        f.write("%d" % len(seen))


def OnParsedMsgPM(nick, message, to_nick):
    if message == "!reply":
        return ("replied to " + nick, 0)
    return 1


def OnSetConfig(nick, conf, var, new_value, old_value, type_id):
    vh.SendToOpChat("setconfig %s %s -> %s" % (var, old_value, new_value))
    return 1
