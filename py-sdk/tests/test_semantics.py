"""Generation B's ``vh`` (``vh._semantics``): what a script run
with ``semantics = "B"`` gets, through ``vh.testing.FakeHub``, and that
leaving it gives A's module back. The same rows run through the real shim,
runner and worker in tests/hubsim/tests/conformance_api.rs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

import vh
from vh.testing import FakeHub

Script = Callable[[str], Path]


@pytest.fixture
def script(tmp_path: Path) -> Script:
    """Writes ``b_script.py`` (dedented) and returns its path."""

    def write(source: str) -> Path:
        path = tmp_path / "b_script.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


def test_empty_strings_are_none_and_null_fields_empty(script: Script) -> None:
    with FakeHub(generation="B") as hub:
        hub.load(script("x = 1\n"))
        hub.add_user("ann", ip="10.0.0.1")
        hub.set_config("config", "hub_desc", "")
        assert vh.GetConfig("config", "hub_desc") is None
        assert vh.GetConfig("config", "nothing", "dfl") == "dfl"
        assert vh.GetUserIP("nobody") is None
        assert vh.GetUserIP("ann") == "10.0.0.1"
        # B's wrapper turned a NULL field of GetMyINFO's answer into ''.
        hub.answer("GetMyINFO", lambda nick: (True, [nick, None, "<t>", None, "", "0"]))
        assert vh.GetMyINFO("ann") == ("ann", "", "<t>", "", "", "0")
        # An empty list is [], never None; no raw lists.
        hub.answer("GetBotList", lambda: (True, ["$BotList "]))
        assert vh.GetBotList() == []
        assert vh.GetRawNickList() is None
    with FakeHub(generation="A") as hub:
        hub.load(script("x = 1\n"))
        hub.answer("GetMyINFO", lambda nick: (True, [nick, None, "<t>", None, "", "0"]))
        assert vh.GetMyINFO("ann") == ("ann", None, "<t>", None, "", "0")
        hub.answer("GetBotList", lambda: (True, ["$BotList "]))
        assert vh.GetBotList() is None
        assert vh.GetUserIP("nobody") == ""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vh.mc("x", "nick"), "Function takes at most 1 arguments, got 2"),
        (lambda: vh.SendToActive(), "Function requires at least 1 arguments, got 0"),
        (lambda: vh.mc(b"x"), "Argument 0 must be str, not bytes"),
        (lambda: vh.SendToActive("x", 1.5), "Argument 1 must be int, not float"),
        (lambda: vh.StopHub(0, 5), "Function takes at most 1 arguments, got 2"),
        (lambda: vh.ScriptCommand("c", "d", 1), "Argument 2 must be str, not int"),
        (lambda: vh.GetGeoIP("1.2.3.4", None), "argument 2 must be str, not None"),
        (lambda: vh.UserRestrictions("ann", chat="1"), "got an unexpected keyword"),
    ],
)
def test_b_argument_rules_and_texts(script: Script, call: Callable[[], Any], message: str) -> None:
    with FakeHub(generation="B") as hub:
        hub.load(script("x = 1\n"))
        with pytest.raises(TypeError, match=message):
            call()
        assert hub.calls == []


def test_b_signatures_reach_the_hub_with_its_formats(script: Script) -> None:
    with FakeHub(generation="B") as hub:
        hub.load(script("x = 1\n"))
        hub.add_user("ann")
        assert vh.mc("hello") is True
        assert vh.ScriptCommand("cmd", "data", "python") is True
        assert vh.UserRestrictions("ann", nopm="1") is True
        assert vh.GetServFreq() == int(vh.GetServFreq())
        got = [(c.callback, c.args) for c in hub.calls if c.callback != "GetServFreq"]
        assert got == [
            ("mc", ("hello", None)),
            ("ScriptCommand", ("cmd", "data", 0)),
            ("UserRestrictions", ("ann", "", "1", "", "")),
        ]


def test_b_module_and_back_to_a(script: Script) -> None:
    path = script("""
        import vh
        RAN_AS_MAIN = False
        if __name__ == "__main__":
            RAN_AS_MAIN = True
        """)
    before = (list(vh.__all__), {n: v for n, v in vars(vh).items() if callable(v)})
    with FakeHub(generation="B") as hub:
        module = hub.load(path)
        assert (module.__name__, module.RAN_AS_MAIN, vh.name) == ("b_script", False, "b_script")
        assert not hasattr(vh, "__version__")
        assert vh.Decode("&#65;&#36;&#300;") == "A$,"
        assert sys.modules["b_script"] is module
    # Closed: A's module again, exactly.
    assert (list(vh.__all__), {n: v for n, v in vars(vh).items() if callable(v)}) == before
    assert vh.__version__ == (1, 6, 0, 0)
    assert vh.mc.__text_signature__ == "(text, from_nick=None, /)"
    assert vh.Decode("&#65;&#36;") == "&#65;$"
    with FakeHub(generation="B", semantics="A") as hub:
        module = hub.load(path)
        assert (module.__name__, module.RAN_AS_MAIN, vh.name) == ("__main__", True, "b_script.py")


def test_b_chat_str_result_replaces_nothing(script: Script) -> None:
    source = "def OnParsedMsgChat(nick, message):\n    return 'new text'\n"
    with FakeHub(generation="B") as hub:
        hub.load(script(source))
        # B's wrapper answered 's', which B's chat handler does not read.
        outcome = hub.fire("OnParsedMsgChat", "ann", "hi")
        assert outcome.result == [b"new text"]
        assert (outcome.allowed, outcome.substitution) == (True, None)
    with FakeHub(generation="A") as hub:
        hub.load(script(source))
        assert hub.fire("OnParsedMsgChat", "ann", "hi").result == [None, b"new text"]


def test_semantics_is_checked() -> None:
    with pytest.raises(ValueError, match="semantics"):
        FakeHub(semantics="C")
