"""Event logger: one line per hub event in a log file, in the classic
python_pi style.

What it logs (with the time, one event per line): logins (with IP and
class), logouts, closed connections (with the close reason's name, from the
``vh.eCR_*`` constants), kicks, bans, new registrations, configuration
changes and script commands. Operators read the last lines with
``!lastlog [n]`` (default 5), sent to them in a private message.

The log file is ``event_logger.log`` beside the script, or the file named
by the environment variable ``VH_EVENT_LOG``. Load it with
``!pyload /path/to/event_logger.py``; it runs unchanged in the plugin or
under vh-runner.
"""

import os
import time

import vh

LOG_FILE = os.environ.get("VH_EVENT_LOG") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "event_logger.log"
)

# Close reason numbers -> names ("kicked", "quit", ...). eCR_BANNED is only
# another name of eCR_INVALID_USER.
REASONS = dict(
    (getattr(vh, name), name[4:].lower())
    for name in dir(vh)
    if name.startswith("eCR_") and name != "eCR_BANNED"
)


def log(text):
    line = "%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), text)
    with open(LOG_FILE, "a") as f:
        f.write(line)


def last_lines(n):
    try:
        with open(LOG_FILE) as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def OnUserLogin(nick):
    log("login %s %s class %s" % (nick, vh.GetUserIP(nick), vh.GetUserClass(nick)))
    return 1


def OnUserLogout(nick):
    log("logout %s" % nick)


def OnCloseConnEx(ip, reason, nick):
    log("close %s %s %s" % (ip, nick or "-", REASONS.get(reason, str(reason))))
    return 1


def OnOperatorKicks(op, nick, reason):
    log("kick %s by %s: %s" % (nick, op, reason))
    return 1


def OnNewBan(op, ip, nick, reason):
    log("ban %s %s by %s: %s" % (nick, ip, op, reason))
    return 1


def OnNewReg(op, nick, uclass):
    log("reg %s class %d by %s" % (nick, uclass, op))
    return 1


def OnSetConfig(nick, conf, var, new_value, old_value, val_type):
    log("config %s.%s %r -> %r by %s" % (conf, var, old_value, new_value, nick))
    return 1


def OnScriptCommand(cmd, data, plugin, script):
    if plugin or script:
        log("script %s %s from %s" % (cmd, data, os.path.basename(script)))


def OnOperatorCommand(nick, command):
    words = command.split()
    if not words or words[0] != "!lastlog":
        return 1
    n = int(words[1]) if len(words) > 1 and words[1].isdigit() else 5
    lines = last_lines(n)
    vh.pm("\r\n".join(["Last %d events:" % len(lines)] + lines), nick)
    return 0
