"""Unit tests of the vh package's pure-Python parts, with a stand-in for the
transport (the end-to-end tests in tests/hubsim drive real workers)."""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
import time

import pytest

import vh
import vh.aio
import vh.strict
from vh import _runtime
from vh._fake.transport import ResultEvent


class FakeChannel:
    """Answers every hub call with a canned result and records it. Calls
    from threads other than the main one answer after a short random
    delay, so that threads overtake each other."""

    def __init__(self, results: dict[str, tuple[bool, list]]) -> None:
        self.results = results
        self.calls: list[tuple[str, list]] = []
        self.threads: list[str] = []
        self.hook_results: list[tuple[int, bool, list]] = []
        self.main_events: list[tuple] = []
        self.answer = lambda callback, args: self.results.get(callback, (True, [1]))
        self._last = 0
        self._lock = threading.Lock()

    def _record(self, callback: str, args: list) -> int:
        with self._lock:
            self.calls.append((callback, args))
            self.threads.append(threading.current_thread().name)
            self._last += 1
            return self._last

    def start_call(self, callback: str, args: list) -> int:
        call_id = self._record(callback, args)
        ok, values = self.answer(callback, args)
        self.main_events.append(ResultEvent(call_id, ok, values, "the reason" if not ok else ""))
        return call_id

    def recv_main(self, timeout=None):
        return self.main_events.pop(0) if self.main_events else None

    def call_blocking(self, callback: str, args: list, timeout=None):
        self._record(callback, args)
        time.sleep(random.random() / 500)
        ok, values = self.answer(callback, args)
        return ok, values, "" if ok else "the reason"

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
    for call in (lambda: vh.mc("hi"), lambda: vh.strict.mc("hi"), lambda: vh.aio.loop()):
        with pytest.raises(vh.NotConnectedError, match="vh.testing"):
            call()
    with pytest.raises(vh.NotConnectedError):
        asyncio.run(vh.aio.mc("hi"))
    assert issubclass(vh.NotConnectedError, vh.VhError)
    assert issubclass(vh.NotConnectedError, RuntimeError)


def test_constants_have_the_hub_values():
    assert (vh.eCR_KICKED, vh.eCR_NOREDIR) == (2, 20)
    assert (vh.eBF_NICKIP, vh.eBF_IP, vh.eBF_HOSTR1) == (1, 2, 512)
    assert vh.eBOT_API_ERROR == 5


def test_calls_from_threads_keep_per_thread_order_and_their_own_answers(channel):
    channel.answer = lambda callback, args: (True, [int(args[0].split(b".")[1])])
    wrong: list[str] = []

    def work(t: int) -> None:
        for j in range(50):
            if vh.GetUserClass("%d.%d" % (t, j)) != j:
                wrong.append("%d.%d" % (t, j))

    threads = [threading.Thread(target=work, args=(t,), name="t%d" % t) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert wrong == []
    for t in range(6):
        mine = [a[0] for (_, a), name in zip(channel.calls, channel.threads) if name == "t%d" % t]
        assert mine == [b"%d.%d" % (t, j) for j in range(50)]
    # The threads did interleave (the test would be empty otherwise).
    assert channel.threads[:50] != ["t0"] * 50


def test_a_main_thread_call_inside_a_hook_runs_at_once_on_the_main_thread(channel):
    rt = _runtime.get()
    rt.module = type("M", (), {"OnUserLogin": staticmethod(lambda nick: vh.mc("hi " + nick))})
    rt.run_hook(9, 35, [b"bob"])
    assert channel.calls == [("mc", [b"hi bob", None])]
    assert channel.threads == ["MainThread"]
    assert channel.hook_results == [(9, False, [1])]


def test_strict_forms_raise_instead_of_returning_false_or_none(channel):
    channel.results["pm"] = (False, [])
    with pytest.raises(vh.HubRefusedError, match="the hub refused pm\\(\\): the reason") as e:
        vh.strict.pm("hi", "nobody")
    assert (e.value.callback, e.value.reason) == ("pm", "the reason")
    assert vh.pm("hi", "nobody") is False  # the classic form is unchanged
    assert vh.strict.mc("hi") is None
    channel.results["SetConfig"] = (False, [])  # what the plugin always answers
    assert vh.strict.SetConfig("config", "x", "1") is None
    channel.results["GetNickList"] = (True, [b"$NickList "])
    assert vh.strict.GetNickList() == [] and vh.GetNickList() is None
    channel.results["GetNickList"] = (True, [b'["a"]'])  # generation B's JSON
    assert vh.strict.GetNickList() == ["a"] and vh.GetRawNickList() is None
    with pytest.raises(vh.HubRefusedError, match="no raw lists"):
        vh.strict.GetRawNickList()
    channel.results["SQL"] = (True, [0, 0, 0])
    with pytest.raises(vh.HubRefusedError):
        vh.strict.SQL("select 1")
    channel.results["SQL"] = (True, [1, 1, 2, b"a", b"b"])
    assert vh.strict.SQL("select 1") == [["a", "b"]]
    channel.results["GetMyINFO"] = (True, [b"n", b"d", None, b"s", b"e", b"1"])
    assert vh.strict.GetMyINFO("n") == ("n", "d", "", "s", "e", "1")


def test_a_timeout_raises_hub_timeout_error(channel):
    channel.answer = lambda callback, args: (True, [1])
    channel.start_call = lambda callback, args: 1  # sent, never answered
    with pytest.raises(vh.HubTimeoutError) as e:
        vh.strict.GetUserIP("x", timeout=0.05)
    assert (e.value.callback, e.value.timeout) == ("GetUserIP", 0.05)
    assert isinstance(e.value, TimeoutError)
    channel.call_blocking = lambda callback, args, timeout=None: None
    failed: list[BaseException] = []

    def in_thread() -> None:
        try:
            vh.strict.GetUserIP("x", timeout=0.05)
        except vh.HubTimeoutError as exc:
            failed.append(exc)

    th = threading.Thread(target=in_thread)
    th.start()
    th.join()
    assert len(failed) == 1


def test_a_lost_link_raises_not_connected_error(channel):
    def closed(callback, args, timeout=None):
        raise ConnectionError("the runner link closed")

    channel.call_blocking = closed
    failed: list[BaseException] = []
    th = threading.Thread(
        target=lambda: failed.append(pytest.raises(vh.NotConnectedError, vh.mc, "x").value)
    )
    th.start()
    th.join()
    assert "link closed" in str(failed[0])


def test_aio_calls_run_at_once_on_the_main_thread_and_on_helpers_elsewhere(channel):
    channel.results["GetUserClass"] = (True, [3])
    assert asyncio.run(vh.aio.GetUserClass("bob")) == 3
    assert channel.threads == ["MainThread"]

    async def from_the_loop() -> int:
        return await vh.aio.GetUserClass("bob", timeout=1.0)

    assert _runtime.get().loop_thread().submit(from_the_loop()).result(5) == 3
    assert channel.threads[1].startswith("vh-call")
    _runtime.get().stop_loop()


def test_signatures_are_real_and_keywords_only_where_the_plugin_took_them(channel):
    assert str(inspect.signature(vh.mc)) == "(text, from_nick=None, /)"
    assert str(inspect.signature(vh.strict.SQL)) == "(query, limit=100, /, *, timeout=None)"
    assert inspect.iscoroutinefunction(vh.aio.mc)
    with pytest.raises(TypeError, match="no keyword"):
        vh.mc(text="x")
    with pytest.raises(TypeError, match="unexpected keyword"):
        vh.UserRestrictions("bob", chats="1")
    with pytest.raises(TypeError, match="multiple values"):
        vh.UserRestrictions("bob", "1", chat="1")
    with pytest.raises(TypeError, match="argument 2 \\(min_class\\) must be int"):
        vh.classmc("x", "3", 5)
    assert channel.calls == []


def test_from_vh_import_star_gives_the_classic_names():
    names: dict = {}
    exec("from vh import *", names)
    assert {"mc", "GetNickList", "eCR_KICKED", "eBF_IP", "myid", "encode"} <= set(names)
