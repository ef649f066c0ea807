"""Blacklist and word filter, in the classic python_pi style.

What it does:
  * refuses a nick that starts with a blacklisted prefix: its login stops
    at ``$ValidateNick`` (``OnParsedMsgValidateNick`` returns 0 and the hub
    closes the connection);
  * censors listed words in main chat: each is replaced by asterisks and
    the changed message goes out instead (the chat hook returns the new
    text, which the hub substitutes);
  * blocks a main-chat message with a blacklisted link and warns its
    sender; at the third such message the sender is disconnected
    (``vh.CloseConnection`` with reason ``vh.eCR_KICKED``);
  * operators add a censored word with ``!censor <word>`` and see the list
    with ``!censor``.

The lists are the settings at the top of the file. The script is written
the way python_pi 1.6 scripts are (``import vh``, module-level hooks, no
other module of its own) and runs unchanged in the plugin or under
vh-runner. Load it with ``!pyload /path/to/blacklist.py``.
"""

import re

import vh

BAD_NICK_PREFIXES = ["spam", "[bot]"]
CENSORED = ["darn", "heck"]
BLOCKED_LINKS = ["spam.example", "free-prizes.example"]
MAX_STRIKES = 3

strikes = {}


def censor_pattern():
    return re.compile(r"\b(%s)\b" % "|".join(re.escape(w) for w in CENSORED), re.IGNORECASE)


pattern = censor_pattern()


def OnParsedMsgValidateNick(nick):
    name = nick.split(" ")[-1].lower()
    for prefix in BAD_NICK_PREFIXES:
        if name.startswith(prefix):
            vh.SendToOpChat("blacklist: refused nick %s" % name)
            return 0
    return 1


def OnParsedMsgChat(nick, message):
    lowered = message.lower()
    for link in BLOCKED_LINKS:
        if link in lowered:
            count = strikes.get(nick, 0) + 1
            strikes[nick] = count
            if count >= MAX_STRIKES:
                vh.CloseConnection(nick, 0, vh.eCR_KICKED)
            else:
                vh.usermc(
                    "Links to %s are not allowed here (warning %d of %d)."
                    % (link, count, MAX_STRIKES - 1),
                    nick,
                )
            return 0
    censored = pattern.sub(lambda m: "*" * len(m.group(0)), message)
    if censored != message:
        return censored
    return 1


def OnOperatorCommand(nick, command):
    global pattern
    if command != "!censor" and not command.startswith("!censor "):
        return 1
    word = command[len("!censor") :].strip().lower()
    if word and word not in CENSORED:
        CENSORED.append(word)
        pattern = censor_pattern()
    vh.usermc("Censored words: %s" % ", ".join(CENSORED), nick)
    return 0


def OnUserLogout(nick):
    strikes.pop(nick, None)
    return 1
