"""Chat filter: blocks or rewrites main-chat messages with listed words.

What it does (``OnParsedMsgChat``):
  * a message containing a word of ``chat_filter_words.txt`` (one per line,
    case-insensitive; ``#`` starts a comment) is blocked: the hub drops it
    and the sender is told why (``vh.usermc``);
  * a message shouting in capitals (more than 20 letters, none lower case)
    is passed on in lower case: the script returns the new text, which the
    hub substitutes (docs/abi.md §4.3);
  * anything else passes unchanged (returns 1).

The word list sits beside the script; set ``VH_CHAT_FILTER_WORDS`` to use
another file. Run it with the demo (``make demo``) or ``!pyload`` it.
"""

import os
import re
from typing import Union

import vh

WORDS_FILE = os.environ.get(
    "VH_CHAT_FILTER_WORDS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "chat_filter_words.txt"),
)


def load_words(path: str) -> list[str]:
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            word = line.split("#", 1)[0].strip().lower()
            if word:
                words.append(word)
    return words


WORDS = load_words(WORDS_FILE)
PATTERN = re.compile(r"\b(" + "|".join(re.escape(w) for w in WORDS) + r")\b", re.IGNORECASE)
blocked = 0
rewritten = 0


def OnParsedMsgChat(nick: str, message: str) -> Union[int, str]:
    global blocked, rewritten
    found = PATTERN.search(message) if WORDS else None
    if found:
        blocked += 1
        vh.usermc("Your message was not sent: %r is not welcome here." % found.group(1), nick)
        return 0
    letters = [c for c in message if c.isalpha()]
    if len(letters) > 20 and not any(c.islower() for c in letters):
        rewritten += 1
        return message.lower()
    return 1
