"""The example scripts under the fake hub (``vh_hub``, the pytest plugin of
``vh.testing``): what they answer, what they send, what the plugin reads."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vh.testing import FakeHub

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# -- greeter.py -------------------------------------------------------------------


def test_greeter_welcomes_each_login_with_a_running_count(vh_hub: FakeHub) -> None:
    vh_hub.load(EXAMPLES / "greeter.py")
    assert vh_hub.hooks == ["OnParsedMsgChat", "OnUserLogin"]
    for n, nick in enumerate(["alice", "Jürgen"], start=1):
        outcome = vh_hub.login(nick)
        assert outcome.value == 1 and outcome.allowed
        text = "Welcome, %s! You are visitor #%d since I started." % (nick, n)
        assert vh_hub.calls[-1].args == (text, None)  # from the hub-security bot
    assert [c.callback for c in vh_hub.calls] == ["mc", "mc"]


def test_greeter_answers_ping_privately_and_hides_it(vh_hub: FakeHub) -> None:
    vh_hub.load(EXAMPLES / "greeter.py")
    vh_hub.add_user("bob")
    outcome = vh_hub.fire("OnParsedMsgChat", "bob", "  !ping ")
    assert outcome.value == 0 and not outcome.allowed
    usermc, pm = vh_hub.calls
    assert (usermc.callback, usermc["text"], usermc["nick"]) == ("usermc", "pong, bob", "bob")
    assert (pm.callback, pm["text"], pm["nick"], pm["from_nick"]) == (
        "pm",
        "pong (in PM)",
        "bob",
        None,
    )
    assert usermc.ok and pm.ok


def test_greeter_lets_other_messages_through_untouched(vh_hub: FakeHub) -> None:
    vh_hub.load(EXAMPLES / "greeter.py")
    outcome = vh_hub.fire("OnParsedMsgChat", "bob", "!ping me later")
    assert (outcome.value, outcome.result, outcome.allowed) == (1, [1], True)
    assert vh_hub.calls == []


# -- chat_filter.py -------------------------------------------------------------


def test_chat_filter_blocks_listed_words_and_tells_the_sender(vh_hub: FakeHub) -> None:
    vh_hub.load(EXAMPLES / "chat_filter.py")
    vh_hub.add_user("carol")
    outcome = vh_hub.fire("OnParsedMsgChat", "carol", "you are so STUPID today")
    assert outcome.value == 0 and not outcome.allowed
    (told,) = vh_hub.calls_of("usermc")
    assert told["nick"] == "carol"
    assert told["text"] == "Your message was not sent: 'STUPID' is not welcome here."
    # A listed word inside another word is no match.
    assert vh_hub.fire("OnParsedMsgChat", "carol", "shittake mushrooms").allowed


def test_chat_filter_lowers_shouting_through_chat_substitution() -> None:
    with FakeHub(encoding="cp1251") as hub:
        hub.load(EXAMPLES / "chat_filter.py")
        shout = "ВСЕМ ПРИВЕТ, КАК ДЕЛА НА ХАБЕ"  # 23 letters, none lower case
        outcome = hub.fire("OnParsedMsgChat", "Дима", shout)
        assert outcome.value == shout.lower()
        assert outcome.result == [None, shout.lower().encode("cp1251")]
        assert outcome.allowed and outcome.substitution == (None, shout.lower())
        # 20 capital letters are not shouting yet.
        assert hub.fire("OnParsedMsgChat", "Дима", "ABCDEFGHIJ KLMNOPQRST").value == 1
        assert hub.calls == []


def test_chat_filter_reads_the_word_file_named_in_its_environment(
    vh_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# only this one\nbanana\n", encoding="utf-8")
    monkeypatch.setenv("VH_CHAT_FILTER_WORDS", str(words))
    vh_hub.load(EXAMPLES / "chat_filter.py")
    assert not vh_hub.fire("OnParsedMsgChat", "dan", "a banana").allowed
    assert vh_hub.fire("OnParsedMsgChat", "dan", "stupid").allowed


# -- aio_example.py ---------------------------------------------------------------


def test_aio_bridge_relays_both_ways_and_answers_its_command(vh_hub: FakeHub) -> None:
    module = vh_hub.load(EXAMPLES / "aio_example.py")
    vh_hub.add_user("alice")
    with socket.create_connection(("127.0.0.1", module.port), timeout=5) as client:
        vh_hub.wait_for(lambda: module.clients)
        outcome = vh_hub.fire("OnParsedMsgChat", "alice", "hi bridge")
        assert outcome.value == 1 and outcome.allowed
        assert client.makefile("rb").readline() == b"<alice> hi bridge\n"

        client.sendall(b"hello hub\n")
        (said,) = vh_hub.wait_for(lambda: vh_hub.calls_of("mc"))
        assert said.args == ("[bridge] hello hub", None)
        assert said.thread.startswith("vh-call")  # awaited off the loop

        outcome = vh_hub.fire("OnParsedMsgChat", "alice", "!bridge")
        assert outcome.value == 0 and not outcome.allowed
        told = vh_hub.calls_of("usermc")[-1]
        assert told.args == ("bridge: 1 clients, 1 users", "alice", None)
    vh_hub.close()  # UnLoad() closes the server
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", module.port), timeout=1).close()
