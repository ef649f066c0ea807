"""The test harness itself: ``vh.testing.FakeHub`` and the ``vh_hub``
pytest fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

import vh
from vh.testing import FakeHub

Script = Callable[..., Path]


@pytest.fixture
def script(tmp_path: Path) -> Script:
    """Writes a script file (dedented) and returns its path."""

    def write(source: str, name: str = "script.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


def test_load_runs_the_script_as_the_worker_does_and_close_restores(script: Script) -> None:
    script("VALUE = 42\n", name="helper_mod.py")
    path = script(
        """
        import sys, vh, helper_mod
        seen = (__name__, sys.argv, sys.path[0], vh.myid, vh.name, vh.botname, vh.opchatname)
        """
    )
    main_before, path_before = sys.modules["__main__"], list(sys.path)
    with FakeHub(script_id=5, botname="Sec", opchatname="Ops", now=1000.0) as hub:
        module = hub.load(path)
        assert module.seen == (
            "__main__",
            [str(path)],
            str(path.parent),
            5,
            "script.py",
            "Sec",
            "Ops",
        )
        assert vh.starttime == 1000 and sys.modules["__main__"] is module
        assert "helper_mod" in sys.modules
    assert sys.modules["__main__"] is main_before and sys.path == path_before
    assert "helper_mod" not in sys.modules
    assert (vh.myid, vh.name) == (-1, "")
    with pytest.raises(vh.NotConnectedError):
        vh.mc("after close")


def test_a_failing_load_raises_and_leaves_nothing_behind(script: Script) -> None:
    hub = FakeHub()
    with pytest.raises(ZeroDivisionError):
        hub.load(script("import vh\nvh.mc('loading')\n1 / 0\n"))
    assert [c.callback for c in hub.calls] == ["mc"]
    with FakeHub() as other:  # the process is free again
        other.load(script("x = 1\n"))


def test_one_hub_at_a_time(script: Script) -> None:
    with FakeHub() as hub:
        hub.load(script("x = 1\n"))
        with pytest.raises(RuntimeError, match="another FakeHub"):
            FakeHub().load(script("y = 1\n", name="other.py"))
        with pytest.raises(RuntimeError, match="already runs"):
            hub.load(script("y = 1\n", name="other.py"))


def test_fire_checks_the_hook_and_its_arguments(vh_hub: FakeHub, script: Script) -> None:
    vh_hub.load(script("def OnUserLogin(nick):\n    return None\n"))
    with pytest.raises(ValueError, match="unknown hook"):
        vh_hub.fire("OnUserLogon", "bob")
    with pytest.raises(ValueError, match=r"OnUserLogin takes \(nick: s\)"):
        vh_hub.fire("OnUserLogin", "bob", "extra")
    with pytest.raises(ValueError):
        vh_hub.fire("OnTimer", "now")
    missing = vh_hub.fire("OnUserLogout", "bob")
    assert (missing.called, missing.result, missing.allowed) == (False, None, True)
    done = vh_hub.fire("OnUserLogin", "bob")
    assert (done.called, done.value, done.result) == (True, None, [1])


def test_hook_errors_raise_by_default_or_are_reported(script: Script) -> None:
    path = script("def OnUserLogin(nick):\n    raise KeyError(nick)\n")
    with FakeHub() as hub:
        hub.load(path)
        with pytest.raises(KeyError, match="bob"):
            hub.fire("OnUserLogin", "bob")
    with FakeHub(raise_hook_errors=False) as hub:
        hub.load(path)
        outcome = hub.fire("OnUserLogin", "bob")
        assert isinstance(outcome.error, KeyError) and outcome.result == [1]


def test_an_async_hook_is_awaited_and_a_slow_one_times_out(script: Script) -> None:
    path = script(
        """
        import asyncio, threading

        async def OnParsedMsgChat(nick, message):
            await asyncio.sleep(float(message))
            return (nick, threading.current_thread().name)
        """
    )
    with FakeHub(hook_timeout=0.5) as hub:
        hub.load(path)
        outcome = hub.fire("OnParsedMsgChat", "bob", "0.01")
        assert outcome.value == ("bob", "vh-asyncio")
        assert outcome.substitution == ("bob", "vh-asyncio")
        with pytest.raises(TimeoutError, match="OnParsedMsgChat did not answer"):
            hub.fire("OnParsedMsgChat", "bob", "2")


def test_set_config_fires_on_set_config_which_may_veto(vh_hub: FakeHub, script: Script) -> None:
    vh_hub.load(
        script(
            """
            import vh, vh.strict

            def OnSetConfig(nick, conf, var, new, old, type_id):
                return new != "forbidden"

            def OnUserLogin(nick):
                vh.strict.SetConfig("config", "motd", "hello")  # never raises
                return vh.SetConfig("config", "motd", "forbidden")
            """
        )
    )
    outcome = vh_hub.fire("OnUserLogin", "bob")
    assert outcome.value is False  # the plugin never reports success
    assert vh_hub.get_config("config", "motd") == "hello"
    nested = [o.value for o in vh_hub.fired if o.hook == "OnSetConfig"]
    assert nested == [True, False]


def test_kick_parse_command_and_script_commands_reenter(vh_hub: FakeHub, script: Script) -> None:
    vh_hub.load(
        script(
            """
            import vh
            log = []

            def OnOperatorKicks(op, nick, reason):
                log.append(("kick", nick))
                return nick != "boss"

            def OnHubCommand(nick, command, uclass, in_pm, prefix):
                log.append(("hub", command, uclass, in_pm, prefix))

            def OnOperatorCommand(nick, command):
                log.append(("op", command))

            def OnUserCommand(nick, command):
                log.append(("user", command))

            def OnScriptCommand(command, data, plugin, path):
                log.append(("script", command, data, plugin))

            def OnTimer(now):
                log.append(("timer", now))
            """
        )
    )
    module = vh_hub.module
    vh_hub.add_user("op", uclass=3)
    vh_hub.add_user("boss")
    vh_hub.add_user("troll")
    assert vh.KickUser("op", "troll", "bye") and "troll" not in vh_hub.users
    assert not vh.KickUser("op", "boss", "no") and "boss" in vh_hub.users
    assert not vh.KickUser("nobody", "boss", "not an online op")
    assert vh.ParseCommand("op", "!stats", 1) and vh.ParseCommand("boss", "+help", 0)
    assert vh.ScriptCommand("later", "x") and vh.ScriptCommand("now", "y", 1)
    assert module is not None and module.log == [
        ("kick", "troll"),
        ("kick", "boss"),
        ("hub", "stats", 3, 1, "!"),
        ("op", "!stats"),
        ("hub", "help", 0, 0, "+"),
        ("user", "+help"),
        ("script", "now", "y", "python"),
    ]
    vh_hub.tick(2.5)
    assert module.log[-2:] == [("script", "later", "x", "python"), ("timer", vh_hub.now)]


def test_state_queries_follow_the_hub(script: Script) -> None:
    with FakeHub(generation="B", now=0.0) as hub:
        hub.load(script("x = 1\n"))
        hub.add_user("ann", uclass=3, ip="10.0.0.1", desc="hi", share="100", speed="DSL\x01")
        hub.add_user("ben", share="23")
        assert vh.GetNickList() == ["Verlihub", "OpChat", "ann", "ben"]
        assert vh.GetOpList() == ["Verlihub", "OpChat", "ann"]
        assert vh.GetRawNickList() is None  # generation B has no raw lists
        assert (vh.GetUsersCount(), vh.GetTotalShareSize()) == (2, "123")
        assert (vh.GetUserClass("ann"), vh.GetUserClass("nobody")) == (3, -2)
        # Generation B's semantics (docs/compatibility.md): None for ''.
        assert (vh.GetUserIP("ann"), vh.GetUserIP("nobody")) == ("10.0.0.1", None)
        assert vh.GetMyINFO("ann") == ("ann", "hi", "", "DSL\x01", "", "100")
        assert vh.SetMyINFOFlag("ann", 2) and hub.users["ann"].speed == "DSL\x03"
        assert vh.UserRestrictions("ben", nochat="2h") is True
        assert vh.UserRestrictions("ben", nochat="nonsense") is False
    # A script written for A on the same hub (runner.toml's semantics).
    with FakeHub(generation="B", semantics="A", now=0.0) as hub:
        hub.load(script("x = 1\n"))
        hub.add_user("ann", uclass=3, ip="10.0.0.1")
        hub.add_user("ben", share="23")
        assert vh.GetUserIP("nobody") == ""
        assert vh.UserRestrictions("ben", chat="2h") == {
            "chat": True,
            "pm": False,
            "search": False,
            "ctm": False,
        }
        assert vh.UserRestrictions("ben", chat="nonsense") is None
        hub.tick(7201)
        assert vh.UserRestrictions("ben")["chat"] is False
        assert vh.Ban("ann", "ben", "spam", 60, vh.eBF_NICK) and hub.bans[0].ip == "127.0.0.1"
        assert (
            vh.AddRegUser("ben", 1, "pw") and not vh.AddRegUser("ben", 1) and hub.regs == {"ben": 1}
        )
        assert vh.IsRobotNickBad("Verlihub") == vh.eBOT_RESERVED_NICK
        assert vh.AddRobot("Bot", 0, "d", "s", "e", "0") and vh.GetBotList()[-1] == "Bot"
        assert vh.Topic("news") == "news" == hub.topic
        assert vh.GetConfig("config", "hub_encoding") == "cp1252"
        assert vh.GetConfig("config", "nope") is None and vh.GetConfig("c", "n", "dflt") == "dflt"
        assert vh.SQL("select 1") == (0, [])
        assert not vh.usermc("hi", "nobody")
        assert [c.ok for c in hub.calls_of("usermc")] == [False]


def test_answer_replaces_the_fake_hub_for_one_callback(vh_hub: FakeHub, script: Script) -> None:
    vh_hub.load(script("x = 1\n"))
    vh_hub.answer("SQL", lambda query, limit: (True, [1, 2, 1, "a", "b"]))
    assert vh.SQL("select nick from reglist", 5) == (1, [["a"], ["b"]])
    assert vh_hub.calls[-1]["limit"] == 5
    with pytest.raises(ValueError):
        vh_hub.answer("NoSuchCallback", lambda: (True, []))
    with pytest.raises(KeyError):
        vh_hub.calls[-1]["nick"]


def test_undecodable_bytes_round_trip_through_the_fake(script: Script) -> None:
    nick = b"J\xfcrgen\x98".decode("cp1251", "surrogateescape")  # 0x98 is not CP1251
    with FakeHub(encoding="cp1251") as hub:
        hub.load(script("import vh\ndef OnUserLogin(nick):\n    vh.usermc(nick, nick, nick)\n"))
        hub.login(nick)
        (echo,) = hub.calls
        assert echo.args == (nick, nick, nick) and echo.ok
        assert echo.args[0].encode("cp1251", "surrogateescape") == b"J\xfcrgen\x98"


def test_calls_from_script_threads_are_recorded_with_their_thread(
    vh_hub: FakeHub, script: Script
) -> None:
    vh_hub.load(
        script(
            """
            import threading, vh

            def OnUserLogin(nick):
                threading.Thread(target=vh.mc, args=("hi " + nick,), name="greeter").start()
            """
        )
    )
    vh_hub.login("bob")
    (call,) = vh_hub.wait_for(lambda: vh_hub.calls_of("mc"))
    assert (call.args, call.thread, call.ok) == (("hi bob", None), "greeter", True)
    with pytest.raises(TimeoutError):
        vh_hub.wait_for(lambda: vh_hub.calls_of("pm"), timeout=0.05)


def test_the_vh_hub_fixture_comes_from_the_installed_plugin(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text("import vh\ndef OnUserLogin(nick):\n    vh.mc('hi')\n")
    (tmp_path / "test_bot.py").write_text(
        textwrap.dedent(
            """
            import vh

            def test_one(vh_hub):
                vh_hub.load("bot.py")
                vh_hub.login("a")
                assert vh_hub.calls[0].args == ("hi", None)

            def test_two_sees_a_clean_process():
                assert vh.myid == -1
            """
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_bot.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
