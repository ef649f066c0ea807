"""The classic corpus under ``vh.testing`` (no hub, no runner): each script
unchanged, its hooks fired by the fake hub. The same scripts run through
the hub simulator and real workers in tests/hubsim/tests/classic.rs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def test_blacklist_censors_warns_and_disconnects(vh_hub: Any) -> None:
    vh_hub.load(HERE / "blacklist.py")
    assert not vh_hub.fire("OnParsedMsgValidateNick", "spammer").allowed
    vh_hub.login("alice")
    assert vh_hub.fire("OnParsedMsgChat", "alice", "darn it").value == "**** it"
    for _ in range(2):
        assert not vh_hub.fire("OnParsedMsgChat", "alice", "spam.example").allowed
    assert [c["text"] for c in vh_hub.calls_of("usermc")] == [
        "Links to spam.example are not allowed here (warning 1 of 2).",
        "Links to spam.example are not allowed here (warning 2 of 2).",
    ]
    vh_hub.fire("OnParsedMsgChat", "alice", "spam.example")
    (close,) = vh_hub.calls_of("CloseConnection")
    assert close.args == ("alice", 0, 2)


def test_paste_bot_keeps_a_paste_and_sends_it_back(vh_hub: Any) -> None:
    vh_hub.load(HERE / "paste_bot.py")
    assert "PasteBot" in vh_hub.users
    vh_hub.login("alice")
    assert not vh_hub.fire("OnParsedMsgPM", "alice", "one\r\ntwo", "PasteBot").allowed
    vh_hub.clear_calls()
    vh_hub.fire("OnUserCommand", "alice", "+paste 1")
    (pm,) = vh_hub.calls_of("pm")
    assert pm.args == ("Paste #1 by alice:\r\none\r\ntwo", "alice", "PasteBot", None)
