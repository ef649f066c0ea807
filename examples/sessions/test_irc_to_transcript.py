"""Tests for irc_to_transcript.py and the transcripts committed next to it.

Run with ``python3 -m pytest examples/sessions -q``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LOG = HERE / "2007-01-11_12.raw.txt"
LOG_SHA256 = "e5ef289618806004911ef0132027e70652b4fa1d7d6407b4909621bf40eb3964"
SHORT_LIMIT = 150
TRANSCRIPTS = [
    (HERE / "2007-01-11_12.transcript", None),
    (HERE / "2007-01-11_12.short.transcript", SHORT_LIMIT),
]


def _load_module():
    spec = importlib.util.spec_from_file_location(
        "irc_to_transcript", HERE / "irc_to_transcript.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


conv = _load_module()

TIME_RE = re.compile(r"(0|[1-9]\d*)\.\d{3}")
IP_RE = re.compile(r"10\.0\.(\d{1,3})\.(\d{1,3})")
ESCAPE_RE = re.compile(r"\\(?:\\|x[0-9a-f]{2})")
FIELD_COUNTS = {"login": 10, "logout": 3, "chat": 4, "pm": 5}


def rows(text: str) -> list[list[str]]:
    """The event lines of a transcript, split into fields."""
    lines = text.split("\n")
    assert lines[-1] == "", "transcript must end with a newline"
    return [line.split("\t") for line in lines[:-1] if not line.startswith("#")]


def convert(log: str, limit: int | None = None) -> list[list[str]]:
    return rows(conv.transcript(log, "sample.raw.txt", limit))


def brief(events: list[list[str]]) -> list[tuple[str, ...]]:
    """Events without time and without the login details: (kind, nick[, ...])."""
    return [tuple(e[1:3]) if e[1] == "login" else tuple(e[1:]) for e in events]


def check_transcript(text: str) -> None:
    """Assert the structural rules hubsim relies on."""
    online: set[str] = set()
    ever: set[str] = set()
    previous = -1.0
    for line in text.split("\n")[:-1]:
        assert "\r" not in line
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        t, kind = fields[0], fields[1]
        assert TIME_RE.fullmatch(t), line
        assert float(t) > previous, f"time does not increase: {line}"
        previous = float(t)
        assert len(fields) == FIELD_COUNTS[kind], line
        for field in fields:
            # A backslash only ever starts \\ or \xNN.
            assert "\\" not in ESCAPE_RE.sub("", field), line
        nick = fields[2]
        assert nick and not set(nick) & set(" $|"), line
        if kind == "login":
            assert nick not in online, f"double login: {line}"
            online.add(nick)
            ever.add(nick)
            _, _, _, cls, ip, _desc, tag, speed, email, share = fields
            assert cls in ("0", "3")
            match = IP_RE.fullmatch(ip)
            assert match and all(0 <= int(x) <= 255 for x in match.groups())
            assert tag == "<++ V:0.868,M:A,H:1/0/0,S:3>"
            assert speed == "100\\x01"
            assert email == ""
            assert share.isdigit()
        else:
            assert nick in online, f"event for a user who is not online: {line}"
            if kind == "logout":
                online.remove(nick)
            else:
                message = fields[-1]
                assert "|" not in message and "$" not in message, line
            if kind == "pm":
                assert fields[3] in online and fields[3] != nick, line
    assert not online, f"still online at the end: {sorted(online)}"
    assert ever


# --- the committed files -------------------------------------------------------------------


def test_log_is_the_verbatim_dataset_file() -> None:
    assert hashlib.sha256(LOG.read_bytes()).hexdigest() == LOG_SHA256


@pytest.mark.parametrize(("path", "limit"), TRANSCRIPTS, ids=["full", "short"])
def test_committed_transcript_is_reproducible(
    path: Path, limit: int | None, tmp_path: Path
) -> None:
    out = tmp_path / path.name
    argv = [str(LOG), "-o", str(out)]
    if limit is not None:
        argv += ["--limit", str(limit)]
    assert conv.main(argv) == 0
    assert out.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(("path", "limit"), TRANSCRIPTS, ids=["full", "short"])
def test_committed_transcript_is_consistent(path: Path, limit: int | None) -> None:
    text = path.read_bytes().decode("utf-8")
    check_transcript(text)
    assert "# licence: CC-BY-4.0" in text
    assert "# dropped: " in text.rsplit("\n", 3)[-2]
    kinds = [e[1] for e in rows(text)]
    assert kinds.count("pm") > 0
    if limit is not None:
        assert len(kinds) >= limit


def test_short_transcript_is_a_prefix_of_the_full_one() -> None:
    full = rows(TRANSCRIPTS[0][0].read_text(encoding="utf-8"))
    short = rows(TRANSCRIPTS[1][0].read_text(encoding="utf-8"))
    assert short[:SHORT_LIMIT] == full[:SHORT_LIMIT]


def test_stdout_equals_output_file(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert conv.main([str(LOG), "--limit", str(SHORT_LIMIT)]) == 0
    assert capsysbinary.readouterr().out == TRANSCRIPTS[1][0].read_bytes()


def test_renamed_nicks_are_used_in_the_committed_transcript() -> None:
    text = TRANSCRIPTS[0][0].read_text(encoding="utf-8")
    events = rows(text)
    nicks = {e[2] for e in events}
    for irc_nick, hub_nick in conv.RENAMES.items():
        assert hub_nick in nicks
        assert irc_nick not in nicks
    operators = {e[2] for e in events if e[1] == "login" and e[3] == "3"}
    assert operators == {"Дмитрий", "J\\xfcrgen", "Алёна"}


# --- the mapping rule on small samples -----------------------------------------------------


def test_join_and_part_give_login_and_logout() -> None:
    log = (
        "=== alice [n=alice@example.org]  has joined #ubuntu\n"
        "=== alice [n=alice@example.org]  has joined #ubuntu\n"
        "[10:00] <alice> hello\n"
        '=== alice [n=alice@example.org]  has left #ubuntu ["bye"] \n'
        "=== alice [n=alice@example.org]  has left #ubuntu []\n"
    )
    assert brief(convert(log)) == [
        ("login", "alice"),
        ("chat", "alice", "hello"),
        ("logout", "alice"),
    ]


def test_quit_gives_logout() -> None:
    log = "[10:00] <alice> hi\n=== alice [n=a@b]  has quit [Ping timeout]\n"
    assert brief(convert(log)) == [("login", "alice"), ("chat", "alice", "hi"), ("logout", "alice")]


def test_first_line_of_an_unseen_nick_logs_it_in_first() -> None:
    log = "[10:00] <bob> anyone here?\n[10:00]  * carol waves\n[10:01] <bob> ok\n"
    assert brief(convert(log)) == [
        ("login", "bob"),
        ("chat", "bob", "anyone here?"),
        ("login", "carol"),
        ("chat", "carol", "/me waves"),
        ("chat", "bob", "ok"),
        ("logout", "bob"),
        ("logout", "carol"),
    ]


def test_nick_change_is_logout_and_login() -> None:
    log = (
        "[10:00] <dave_> hi\n"
        "=== dave_ is now known as dave\n"
        "[10:01] <dave> me again\n"
        "=== ghost is now known as spook\n"
    )
    assert brief(convert(log)) == [
        ("login", "dave_"),
        ("chat", "dave_", "hi"),
        ("logout", "dave_"),
        ("login", "dave"),
        ("chat", "dave", "me again"),
        ("login", "spook"),
        ("logout", "dave"),
        ("logout", "spook"),
    ]


def test_action_becomes_slash_me_chat() -> None:
    log = "[10:00]  * erin is away | back soon\n"
    assert brief(convert(log))[1] == ("chat", "erin", "/me is away &#124; back soon")


def test_every_fifth_addressed_line_becomes_a_pm() -> None:
    log = "=== bob [n=b@c]  has joined #ubuntu\n"
    log += "".join(
        f"[10:{i:02d}] <alice> bob{':' if i % 2 else ','}  line {i}\n" for i in range(1, 11)
    )
    events = brief(convert(log))[2:-2]
    expected: list[tuple[str, ...]] = []
    for i in range(1, 11):
        sep = ":" if i % 2 else ","
        if i % 5 == 0:
            expected.append(("pm", "alice", "bob", f"line {i}"))
        else:
            expected.append(("chat", "alice", f"bob{sep}  line {i}"))
    assert events == expected


def test_only_lines_addressed_to_another_online_user_count() -> None:
    lines = [
        "<alice> bob: not online yet",  # bob is offline: not counted
        "<alice> alice: talking to myself",  # own nick: not counted
        "<alice> note: bob is coming",  # not a nick: not counted
        "<alice> bob:no space",  # no space after the colon: not counted
        "<bob> hi",
        "<alice> bob: 1",
        "<alice> bob: 2",
        "<alice> bob: 3",
        "<alice> bob: 4",
        "<alice> Bob: case differs",  # not exactly the nick: not counted
        "<alice> bob: 5",
    ]
    log = "".join(f"[10:00] {line}\n" for line in lines)
    events = brief(convert(log))
    assert [e for e in events if e[0] == "pm"] == [("pm", "alice", "bob", "5")]
    assert ("chat", "alice", "bob: not online yet") in events


def test_renamed_nicks_in_nick_field_address_and_pm() -> None:
    lines = [
        "<clayg> hello",
        "<Jowi> clayg: 1",
        "<Jowi> clayg, 2",
        "<Dormot> clayg: 3",
        "<Dormot> Jowi: 4",
        "<Vich> clayg: 5",
        "<Vich> un_operateur: are you there",  # renamed, but offline
    ]
    log = "".join(f"[10:00] {line}\n" for line in lines)
    events = brief(convert(log))
    said = [e for e in events if e[0] in ("chat", "pm")]
    assert said == [
        ("chat", "Fran\\xe7ois", "hello"),
        ("chat", "Алёна", "Fran\\xe7ois: 1"),
        ("chat", "Алёна", "Fran\\xe7ois, 2"),
        ("chat", "Zo\\x98e", "Fran\\xe7ois: 3"),
        ("chat", "Zo\\x98e", "Алёна: 4"),
        ("pm", "Пользователь", "Fran\\xe7ois", "5"),
        ("chat", "Пользователь", "Дмитрий: are you there"),
    ]
    joined = "\n".join("\t".join(e) for e in events)
    for irc_nick in conv.RENAMES:
        assert irc_nick not in joined


def test_rename_table_exercises_the_8bit_encoding() -> None:
    hub_nicks = list(conv.RENAMES.values())
    assert len(hub_nicks) == 6
    cyrillic = [n for n in hub_nicks if re.search("[\u0400-\u04ff]", n)]
    escaped = [n for n in hub_nicks if "\\x" in n]
    assert len(cyrillic) == 3
    assert all(n.encode("cp1251") for n in cyrillic)
    assert sorted(re.findall(r"\\x([0-9a-f]{2})", "".join(escaped))) == ["98", "e7", "fc"]


def test_nmdc_escaping_and_backslashes() -> None:
    log = "[10:00] <frank> cost $5 | a\\b \\x41\n"
    assert brief(convert(log))[1] == ("chat", "frank", "cost &#36;5 &#124; a\\\\b \\\\x41")


def test_nicks_are_sanitised() -> None:
    log = (
        "=== [JAPS] ph1L [i=p@h]  has joined #ubuntu\n"
        "[10:00] <NET||abuse> hi\n"
        "[10:00] <baK\\G> NET||abuse: yo\n"
    )
    assert brief(convert(log)) == [
        ("login", "[JAPS]_ph1L"),
        ("login", "NET__abuse"),
        ("chat", "NET__abuse", "hi"),
        ("login", "baK\\\\G"),
        ("chat", "baK\\\\G", "NET__abuse: yo"),
        ("logout", "NET__abuse"),
        ("logout", "[JAPS]_ph1L"),
        ("logout", "baK\\\\G"),
    ]


def test_other_lines_are_dropped_and_counted() -> None:
    log = (
        "[10:00] <gina> hi\n=== gina nods\n=== Topic for #ubuntu: whatever\n[10:01] something odd\n"
    )
    text = conv.transcript(log, "sample.raw.txt")
    assert brief(rows(text)) == [("login", "gina"), ("chat", "gina", "hi"), ("logout", "gina")]
    assert text.endswith("# dropped: 3 lines\n")


def test_times_are_spread_over_the_minute_and_roll_over() -> None:
    log = (
        "[12:58] <a> one\n"
        "[12:58] <a> two\n"
        "=== b [n=b@c]  has joined #ubuntu\n"
        "[12:59] <a> three\n"
        "[01:00] <a> four\n"  # 12-hour clock: one minute later
    )
    times = [e[0] for e in convert(log)]
    assert times == [
        "0.000",
        "0.001",
        "20.000",
        "40.000",
        "60.000",
        "120.000",
        "120.001",
        "120.002",
    ]
    log24 = "[23:59] <a> late\n[00:00] <a> midnight\n[00:01] <a> after\n"
    assert [e[0] for e in convert(log24)][1:4] == ["0.001", "60.000", "120.000"]


def test_operators_are_the_three_most_talkative() -> None:
    counts = {"u1": 5, "u2": 4, "u3": 3, "u4": 3, "u5": 1}
    log = "".join(f"[10:00] <{nick}> x\n" * n for nick, n in counts.items())
    classes = {e[2]: e[3] for e in convert(log) if e[1] == "login"}
    assert classes == {"u1": "3", "u2": "3", "u3": "3", "u4": "0", "u5": "0"}


def test_login_fields_are_deterministic() -> None:
    first = conv.login_fields("Алёна", ["Алёна"])
    assert first == conv.login_fields("Алёна", ["Алёна"])
    assert first[1] == "3"
    assert conv.login_fields("someone", [])[1] == "0"


def test_limit_cuts_and_logs_everyone_out() -> None:
    log = "".join(f"[10:00] <u{i}> hi\n" for i in range(10))
    text = conv.transcript(log, "sample.raw.txt", limit=4)
    check_transcript(text)
    assert brief(rows(text)) == [
        ("login", "u0"),
        ("chat", "u0", "hi"),
        ("login", "u1"),
        ("chat", "u1", "hi"),
        ("logout", "u0"),
        ("logout", "u1"),
    ]
    assert "--limit 4" in text


def test_login_precedes_events_and_nothing_follows_logout() -> None:
    log = (
        "[10:00] <a> b: hi\n"
        "=== b [n=b@c]  has joined #ubuntu\n"
        "[10:00] <a> b: 1\n"
        "[10:00] <a> b: 2\n"
        "=== b [n=b@c]  has left #ubuntu []\n"
        "[10:01] <a> b: 3\n"
        "[10:01] <b> back\n"
        "[10:01] <a> b: 4\n"
        "[10:01] <a> b: 5\n"
        "[10:01] <a> b: 6\n"
        "=== a is now known as a2\n"
        "[10:02] <a> ghost line\n"
    )
    text = conv.transcript(log, "sample.raw.txt")
    check_transcript(text)
    assert brief(rows(text))[-8:] == [
        ("pm", "a", "b", "6"),
        ("logout", "a"),
        ("login", "a2"),
        ("login", "a"),
        ("chat", "a", "ghost line"),
        ("logout", "a"),
        ("logout", "a2"),
        ("logout", "b"),
    ]
