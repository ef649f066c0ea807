"""Convert a #ubuntu IRC log into a hubsim hub-event transcript.

The input is one ``*.raw.txt`` file of the irc-disentanglement dataset (Kummerfeld et al.,
ACL 2019; CC-BY-4.0), i.e. a slice of the public #ubuntu logs from irclogs.ubuntu.com. The
output is the transcript that hubsim (the project's hub simulator) replays against the hub.

Run it from anywhere (Python 3.9+, standard library only)::

    python3 irc_to_transcript.py LOG [-o OUT] [--limit N]

It writes the transcript to OUT, or to stdout without ``-o``. The output depends only on the
content and the file name of LOG and on ``--limit``, so it is byte-for-byte reproducible.
``--limit N`` stops reading the log as soon as N events have been written and then logs out
everyone still online (so the short transcript is the full one cut after the N-th event, plus
the closing logouts).

Transcript format (UTF-8, one event per line, ``#`` starts a comment, fields separated by TAB)::

    <t>  login   <nick> <class> <ip> <desc> <tag> <speed> <email> <share>
    <t>  logout  <nick>
    <t>  chat    <nick> <text>
    <t>  pm      <from> <to> <text>

In every field a backslash is an escape: ``\\\\`` is one literal backslash and ``\\xNN`` is
the raw byte NN in the hub encoding. Text is NMDC-escaped: ``|`` becomes ``&#124;`` and ``$``
becomes ``&#36;``. Control characters (none occur in the dataset) are written as ``\\xNN``, so
no field ever holds a TAB or a newline. In nicks, space, ``$`` and ``|`` become ``_``.

Time ``<t>``: seconds since the first stamped minute of the log, with 3 decimals. The log only
has ``[HH:MM]`` stamps; lines without a stamp (``===`` lines) belong to the minute of the last
stamp before them. The k log lines of one minute are spread evenly over it (line i at
i*60/k s), and every event is at least 1 ms after the previous one, so t strictly increases.
A stamp earlier than the one before it means the clock wrapped: the 2004-2007 logs use a
12-hour clock without am/pm (12:59 -> 01:00), the later ones a 24-hour clock (23:59 -> 00:00).
Both are handled by adding 12 hours until the time is no longer earlier.

Mapping rule (IRC line -> hub events):

* ``=== nick [user@host]  has joined #ubuntu`` -> login (if not already online).
* ``[HH:MM] <nick> text`` or ``[HH:MM]  * nick text`` by a nick that is not online -> login
  just before the line's own event.
* ``=== nick [user@host]  has left #ubuntu [...]`` and ``... has quit [...]`` -> logout
  (if online).
* ``=== old is now known as new`` -> logout old (if online), login new (if not online).
* ``[HH:MM] <nick> text`` -> chat. An *addressed line* is one whose text starts with
  ``word: `` or ``word, `` where word is exactly the nick of another user who is online at that
  moment. Addressed lines are counted from 1 in log order; every one whose count is divisible by
  5 (the 5th, 10th, ...) becomes a pm from nick to that user carrying the rest of the text
  (after the separator and its spaces). All other lines stay chat.
* ``[HH:MM]  * nick text`` (an action) -> chat with the text ``/me text``.
* any other ``===`` line (old-style actions such as ``=== nick nods``, topic, modes) and any
  line matching none of the patterns -> dropped; the number is given at the end of the
  transcript as ``# dropped: N lines``.
* at the end of the log (or of ``--limit``) everyone still online logs out, ordered by nick.

Users are renamed by ``RENAMES`` below (in the nick field everywhere and in the ``word`` of
``word: `` / ``word, `` at the start of a line) so that the transcript exercises the hub's 8-bit
encoding. The ``word`` of an addressed line that stays chat is likewise written as the hub nick
of its addressee (so ``fabio__|: hi`` becomes ``fabio___: hi``); blank log lines are ignored.

Login fields: the 3 nicks with the most chat/action lines in the whole log get class 3
(operator), everyone else class 0; ip ``10.0.a.b``, description and share size come from the
SHA-1 of the hub nick; tag and speed are fixed, email is empty.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# IRC nick -> hub nick, already in transcript escaping (UTF-8 text; \xNN = one raw byte).
# The six are the most active speakers of 2007-01-11_12.raw.txt.
RENAMES: dict[str, str] = {
    # Cyrillic, written as UTF-8: the hub encodes it to CP1251 (C4 EC E8 F2 F0 E8 E9).
    "un_operateur": "Дмитрий",
    # "Jürgen" as a latin-1 client sends it: raw byte FC ('ь' when read as CP1251).
    "jordo23": r"J\xfcrgen",
    # Cyrillic with 'ё' (CP1251 B8, outside the main Cyrillic block).
    "Jowi": "Алёна",
    # "François" as latin-1 bytes: raw byte E7 ('з' when read as CP1251).
    "clayg": r"Fran\xe7ois",
    # Cyrillic, 12 letters: the hub encodes it to CP1251.
    "Vich": "Пользователь",
    # "Zoe" with raw byte 98, which is unassigned in CP1251 (no character at all).
    "Dormot": r"Zo\x98e",
}

# Attribution for the transcript header (see NOTICE.md).
DATASET = "jkkummerfeld/irc-disentanglement @ 82ed04f9627a45d0d6f2ec3c8683c88eb408a0d5"
PAPER = "Kummerfeld et al., A Large-Scale Corpus for Conversation Disentanglement, ACL 2019"
ORIGIN = "#ubuntu logs, https://irclogs.ubuntu.com/"

OPERATOR_COUNT = 3
OPERATOR_CLASS = "3"
USER_CLASS = "0"
TAG = "<++ V:0.868,M:A,H:1/0/0,S:3>"
SPEED = r"100\x01"  # "100" followed by the byte 0x01 (NMDC "normal" status flag)
EMAIL = ""
DESCRIPTIONS = ("", "#ubuntu", "ubuntu user", "")
MAX_SHARE = 512 * 1024**3  # shares are below 512 GiB
ADDRESSED_PM_EVERY = 5
NICK_FORBIDDEN = " $|"

STAMP = r"\[(\d\d):(\d\d)\]"
MESSAGE_RE = re.compile(STAMP + r" <([^>]+)> ?(.*)")
ACTION_RE = re.compile(STAMP + r"  \* (\S+) ?(.*)")
JOIN_RE = re.compile(r"=== (.+?) \[[^\]]*\]\s+has joined #\S+\s*")
LEAVE_RE = re.compile(r"=== (.+?) \[[^\]]*\]\s+has (?:left #\S+|quit)(?:\s.*)?")
NICK_RE = re.compile(r"=== (.+?) is now known as (\S+)\s*")
ADDRESS_RE = re.compile(r"([^\s:,]+)([:,])( +)(\S.*)")

LOGIN = "login"
LOGOUT = "logout"
CHAT = "chat"
PM = "pm"


@dataclass(frozen=True)
class LogLine:
    """One parsed IRC log line."""

    kind: str  # "message", "action", "join", "leave", "nick" or "drop"
    stamp: int | None  # minutes after 00:00 as written, None for unstamped lines
    nick: str = ""
    arg: str = ""  # message/action text, or the new nick of a nick change


@dataclass(frozen=True)
class Event:
    """One transcript event; ``fields`` are already escaped."""

    ms: int
    kind: str
    fields: tuple[str, ...]

    def render(self) -> str:
        return "\t".join((format_time(self.ms), self.kind, *self.fields))


def format_time(ms: int) -> str:
    """Milliseconds -> seconds with 3 decimals."""
    return f"{ms // 1000}.{ms % 1000:03d}"


def parse_line(line: str) -> LogLine:
    """Classify one log line (without its line ending)."""
    match = MESSAGE_RE.fullmatch(line)
    if match:
        return LogLine("message", _minutes(match), match.group(3), match.group(4))
    match = ACTION_RE.fullmatch(line)
    if match:
        return LogLine("action", _minutes(match), match.group(3), match.group(4))
    stamp = re.match(STAMP, line)
    if stamp:
        return LogLine("drop", _minutes(stamp))
    match = JOIN_RE.fullmatch(line)
    if match:
        return LogLine("join", None, match.group(1))
    match = LEAVE_RE.fullmatch(line)
    if match:
        return LogLine("leave", None, match.group(1))
    match = NICK_RE.fullmatch(line)
    if match:
        return LogLine("nick", None, match.group(1), match.group(2))
    return LogLine("drop", None)


def _minutes(match: re.Match[str]) -> int:
    return int(match.group(1)) * 60 + int(match.group(2))


def split_lines(text: str) -> list[str]:
    """Split on LF only (str.splitlines would also split on U+2028, U+0085, ...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def line_times(lines: Sequence[LogLine]) -> list[int]:
    """Start time in ms since the first stamped minute for every line."""
    minutes: list[int | None] = []
    offset = 0
    previous: int | None = None
    for line in lines:
        if line.stamp is None:
            minutes.append(previous)
            continue
        minute = line.stamp + offset
        while previous is not None and minute < previous:
            offset += 12 * 60
            minute += 12 * 60
        minutes.append(minute)
        previous = minute
    first = next((m for m in minutes if m is not None), 0)
    absolute = [first if m is None else m for m in minutes]
    per_minute = Counter(absolute)
    seen: Counter[int] = Counter()
    times = []
    for minute in absolute:
        index = seen[minute]
        seen[minute] += 1
        times.append((minute - first) * 60_000 + 60_000 * index // per_minute[minute])
    return times


def escape_char(char: str) -> str:
    """Escape one character for a transcript field (backslash, control, undecodable byte)."""
    if char == "\\":
        return "\\\\"
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return char


def escape_text(text: str) -> str:
    """NMDC-escape chat text and apply the transcript escaping."""
    out = []
    for char in text:
        if char == "|":
            out.append("&#124;")
        elif char == "$":
            out.append("&#36;")
        else:
            out.append(escape_char(char))
    return "".join(out)


def hub_nick(irc_nick: str) -> str:
    """The hub nick (transcript-escaped) for an IRC nick."""
    renamed = RENAMES.get(irc_nick)
    if renamed is not None:
        return renamed
    return "".join("_" if c in NICK_FORBIDDEN else escape_char(c) for c in irc_nick)


def login_fields(nick: str, operators: Iterable[str]) -> tuple[str, ...]:
    """Deterministic $MyINFO-like fields for a hub nick."""
    digest = hashlib.sha1(nick.encode("utf-8")).digest()
    user_class = OPERATOR_CLASS if nick in operators else USER_CLASS
    ip = f"10.0.{digest[0]}.{1 + digest[1] % 254}"
    description = DESCRIPTIONS[digest[2] % len(DESCRIPTIONS)]
    share = int.from_bytes(digest[3:11], "big") % MAX_SHARE
    return (nick, user_class, ip, description, TAG, SPEED, EMAIL, str(share))


def pick_operators(lines: Iterable[LogLine]) -> list[str]:
    """Hub nicks of the most talkative speakers (ties broken by nick)."""
    counts = Counter(hub_nick(line.nick) for line in lines if line.kind in ("message", "action"))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [nick for nick, _ in ranked[:OPERATOR_COUNT]]


class Session:
    """Hub state while the log is replayed: who is online, and the events so far."""

    def __init__(self, operators: Sequence[str]) -> None:
        self.operators = list(operators)
        self.online: dict[str, None] = {}  # insertion-ordered set of hub nicks
        self.events: list[Event] = []
        self.addressed = 0
        self.dropped = 0
        self._ms = -1
        self._base = 0

    def emit(self, kind: str, *fields: str) -> None:
        self._ms = max(self._base, self._ms + 1)
        self.events.append(Event(self._ms, kind, fields))

    def login(self, nick: str) -> None:
        if nick not in self.online:
            self.online[nick] = None
            self.emit(LOGIN, *login_fields(nick, self.operators))

    def logout(self, nick: str) -> None:
        if nick in self.online:
            del self.online[nick]
            self.emit(LOGOUT, nick)

    def feed(self, line: LogLine, ms: int) -> None:
        """Turn one log line that starts at ``ms`` into events."""
        self._base = ms
        if line.kind == "join":
            self.login(hub_nick(line.nick))
        elif line.kind == "leave":
            self.logout(hub_nick(line.nick))
        elif line.kind == "nick":
            self.logout(hub_nick(line.nick))
            self.login(hub_nick(line.arg))
        elif line.kind == "action":
            nick = hub_nick(line.nick)
            self.login(nick)
            self.emit(CHAT, nick, escape_text("/me " + line.arg if line.arg else "/me"))
        elif line.kind == "message":
            self.message(hub_nick(line.nick), line.arg)
        else:
            self.dropped += 1

    def message(self, nick: str, text: str) -> None:
        self.login(nick)
        match = ADDRESS_RE.fullmatch(text)
        if match is None:
            self.emit(CHAT, nick, escape_text(text))
            return
        word, separator, spaces, rest = match.groups()
        target = hub_nick(word)
        addressed = target != nick and target in self.online
        if addressed:
            self.addressed += 1
            if self.addressed % ADDRESSED_PM_EVERY == 0:
                self.emit(PM, nick, target, escape_text(rest))
                return
        if addressed or word in RENAMES:
            # Name the addressee by its hub nick (renamed, or with $ | replaced by _).
            self.emit(CHAT, nick, target + escape_text(separator + spaces + rest))
        else:
            self.emit(CHAT, nick, escape_text(text))

    def close(self) -> None:
        """Everyone still online logs out, ordered by nick."""
        self._base = 0
        for nick in sorted(self.online):
            self.logout(nick)


def convert_lines(raw_lines: Sequence[str], limit: int | None = None) -> Session:
    """Replay raw log lines; stop reading once ``limit`` events exist, then close."""
    lines = [parse_line(raw) for raw in raw_lines if raw.strip()]
    session = Session(pick_operators(lines))
    for line, ms in zip(lines, line_times(lines)):
        if limit is not None and len(session.events) >= limit:
            break
        session.feed(line, ms)
    session.close()
    return session


def header(source_name: str, limit: int | None, operators: Iterable[str]) -> list[str]:
    command = f"python3 irc_to_transcript.py {source_name}"
    if limit is not None:
        command += f" --limit {limit}"
    renames = ", ".join(f"{irc} -> {hub}" for irc, hub in RENAMES.items())
    return [
        "# hubsim session transcript, generated; do not edit by hand.",
        f"# source: {source_name} ({ORIGIN})",
        f"# via the dataset {DATASET}",
        f"# attribution: {PAPER}",
        "# licence: CC-BY-4.0 (LICENSE-data-CC-BY-4.0.txt); changes are described in NOTICE.md",
        f"# generator: {command}",
        "# format: <t> TAB login|logout|chat|pm TAB fields; escapes: \\\\ and \\xNN",
        f"# renamed: {renames}",
        f"# operators (class {OPERATOR_CLASS}): {', '.join(operators)}",
    ]


def footer(session: Session, limit: int | None) -> list[str]:
    counts = Counter(event.kind for event in session.events)
    summary = ", ".join(f"{kind} {counts[kind]}" for kind in (LOGIN, LOGOUT, CHAT, PM))
    lines = []
    if limit is not None:
        lines.append(f"# cut after {limit} events (--limit); the rest of the log is not used")
    lines.append(f"# events: {summary}")
    lines.append(f"# dropped: {session.dropped} lines")
    return lines


def transcript(text: str, source_name: str, limit: int | None = None) -> str:
    """The complete transcript for the log contents ``text``."""
    session = convert_lines(split_lines(text), limit)
    out = header(source_name, limit, session.operators)
    out.extend(event.render() for event in session.events)
    out.extend(footer(session, limit))
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert an IRC log to a hubsim transcript.")
    parser.add_argument("log", type=Path, help="IRC log (*.raw.txt, UTF-8)")
    parser.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    parser.add_argument(
        "--limit", type=int, metavar="N", help="stop after N events, then log everyone out"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must not be negative")
    text = args.log.read_bytes().decode("utf-8", errors="surrogateescape")
    result = transcript(text, args.log.name, args.limit).encode("utf-8")
    if args.output is None:
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
    else:
        args.output.write_bytes(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
