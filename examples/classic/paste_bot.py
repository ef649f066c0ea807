"""Paste bot: keeps text users paste and shows it on request, in the
classic python_pi style.

What it does:
  * puts a bot, ``PasteBot``, in the user list when loaded (``vh.AddRobot``)
    and takes it out when unloaded (``UnLoad``);
  * a private message to ``PasteBot`` is kept as a paste: the bot answers
    with its number in PM and announces it in main chat with its first line;
  * ``+paste <n>`` in main chat: the bot sends you paste n in a PM, all its
    lines; ``+pastes`` lists the pastes (number, author, first line);
  * the last 50 pastes are kept, in memory.

Load it with ``!pyload /path/to/paste_bot.py``; it runs unchanged in the
plugin or under vh-runner.
"""

import vh

BOT = "PasteBot"
KEEP = 50

pastes = []  # (number, author, text)
next_number = 1

vh.AddRobot(BOT, 0, "Paste bot: PM me text, get it back with +paste <n>", "Bot\x01", "", "0")


def first_line(text):
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def OnParsedMsgPM(nick, message, to):
    global next_number
    if to != BOT:
        return 1
    number = next_number
    next_number += 1
    pastes.append((number, nick, message))
    del pastes[:-KEEP]
    vh.pm("Saved as paste #%d (+paste %d shows it)." % (number, number), nick, BOT)
    vh.mc("%s pasted #%d: %s" % (nick, number, first_line(message)), BOT)
    return 0


def OnUserCommand(nick, command):
    words = command.split()
    if words == ["+pastes"]:
        lines = ["#%d %s: %s" % (n, author, first_line(text)) for n, author, text in pastes]
        vh.pm("\r\n".join(["Pastes:"] + lines) if lines else "No pastes yet.", nick, BOT)
        return 0
    if len(words) == 2 and words[0] == "+paste":
        for number, author, text in pastes:
            if str(number) == words[1]:
                vh.pm("Paste #%d by %s:\r\n%s" % (number, author, text), nick, BOT)
                return 0
        vh.pm("No paste #%s." % words[1], nick, BOT)
        return 0
    return 1


def UnLoad():
    vh.DelRobot(BOT)
