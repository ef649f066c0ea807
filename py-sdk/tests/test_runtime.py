"""Unit tests of the vh package's pure-Python parts, with a stand-in for the
transport (the end-to-end tests in tests/hubsim drive real workers)."""

from __future__ import annotations

import pytest

import vh
from vh import _runtime


class FakeChannel:
    """Answers every hub call with a canned result and records it."""

    def __init__(self, results: dict[str, tuple[bool, list]]) -> None:
        self.results = results
        self.calls: list[tuple[str, list]] = []
        self.hook_results: list[tuple[int, bool, list]] = []
        self._last = 0

    def start_call(self, callback: str, args: list) -> int:
        self.calls.append((callback, args))
        self._last += 1
        self._pending = callback
        return self._last

    def recv_main(self, timeout=None):
        ok, values = self.results.get(self._pending, (True, [1]))
        return ("result", self._last, ok, values, "")

    def send_hook_result(self, call_id: int, no_opinion: bool, values: list) -> None:
        self.hook_results.append((call_id, no_opinion, values))


@pytest.fixture
def channel():
    ch = FakeChannel({})
    _runtime.install(_runtime.Runtime(ch, "cp1251"))
    yield ch
    _runtime._runtime = None


def test_arguments_are_encoded_and_defaults_filled(channel):
    assert vh.usermc("привет", "Дмитрий") is True
    assert channel.calls == [
        ("usermc", ["привет".encode("cp1251"), "Дмитрий".encode("cp1251"), None])
    ]
    vh.CloseConnection("bob")
    assert channel.calls[-1] == ("CloseConnection", [b"bob", 0, 0])
    vh.SQL("select 1")
    assert channel.calls[-1] == ("SQL", [b"select 1", 100])


def test_undecodable_bytes_round_trip_with_surrogateescape(channel):
    rt = _runtime.get()
    nick = rt.from_hub(b"J\xfcrgen\x98")
    assert rt.to_hub(nick) == b"J\xfcrgen\x98"


def test_wrong_argument_count_and_type_raise(channel):
    with pytest.raises(TypeError):
        vh.mc()
    with pytest.raises(TypeError):
        vh.GetUserClass(5)
    assert channel.calls == []


def test_results_are_converted(channel):
    channel.results["GetNickList"] = (True, [b"$NickList a$$\xc4\xec$$"])
    assert vh.GetNickList() == ["a", "Дм"]
    channel.results["GetNickList"] = (True, [b'["x","\xc4"]'])
    assert vh.GetNickList() == ["x", "Д"]
    channel.results["GetUserClass"] = (True, [-2])
    assert vh.GetUserClass("nobody") == -2
    channel.results["GetConfig"] = (False, [])
    assert vh.GetConfig("config", "nope") is None
    channel.results["UserRestrictions"] = (True, [1 | 8])
    assert vh.UserRestrictions("bob", chat="1h") == {
        "chat": True,
        "pm": False,
        "search": False,
        "ctm": True,
    }
    assert channel.calls[-1] == ("UserRestrictions", [b"bob", b"1h"] + [None] * 3)
    channel.results["SQL"] = (True, [1, 2, 1, b"a", None])
    assert vh.SQL("q", 5) == (1, [["a"], ["NULL"]])


def test_hook_results_map_as_generation_a(channel):
    rt = _runtime.get()
    assert rt.map_result(35, "OnUserLogin", None) == [1]
    assert rt.map_result(35, "OnUserLogin", False) == [0]
    assert rt.map_result(3, "OnParsedMsgChat", "new text") == [None, b"new text"]
    assert rt.map_result(3, "OnParsedMsgChat", ("nick", None)) == [b"nick", None]
    assert rt.map_result(3, "OnParsedMsgChat", ("reply", 0)) == [b"reply", 0]
    assert rt.map_result(8, "OnParsedMsgMyINFO", ("d", None, None, None, "1")) == [
        b"d",
        None,
        None,
        None,
        b"1",
    ]
    assert rt.map_result(4, "OnParsedMsgPM", [1, 2]) == [1]
    assert rt.map_result(4, "OnParsedMsgPM", 2**70) == [2**63 - 1]


def test_encode_decode_are_inverse():
    raw = "a$b|c`d~e\x05"
    assert vh.encode(raw) == "a&#36;b&#124;c&#96;d&#126;e&#5;"
    assert vh.decode(vh.encode(raw)) == raw
    assert vh.decode("&#65;") == "&#65;"


def test_calls_outside_a_worker_say_how_to_run():
    _runtime._runtime = None
    with pytest.raises(vh.NotConnectedError, match="vh-runner"):
        vh.mc("hi")


def test_constants_have_the_hub_values():
    assert (vh.eCR_KICKED, vh.eCR_NOREDIR) == (2, 20)
    assert (vh.eBF_NICKIP, vh.eBF_IP, vh.eBF_HOSTR1) == (1, 2, 512)
    assert vh.eBOT_API_ERROR == 5
