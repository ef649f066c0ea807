"""Runs the main job (``examples/demo.py --short``) end to end: a real
runner, real workers, the shim driven by hubsim over the real session, the
REST API queried over HTTP, a message through the fake Matterbridge, and a
worker killed mid-replay; then checks its summary against the transcript."""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent


def landlock_abi() -> int:
    """The kernel's Landlock ABI (0: none), asked as the runner does."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) on x86-64/arm64.
    return max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def test_short_demo_does_real_work_on_the_real_session():
    python2 = os.environ.get("VH_TEST_PYTHON2")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--short"]
        + (["--python2", python2] if python2 else []),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads((REPO / ".demo" / "summary.json").read_text("utf-8"))
    transcript = (EXAMPLES / "sessions" / "2007-01-11_12.short.transcript").read_text("utf-8")
    logins = sum(1 for line in transcript.splitlines() if "\tlogin\t" in line)

    # Every login was greeted, once.
    assert summary["logins"] == logins
    assert summary["greeted"] == logins

    # The REST API answered during the replay with users of the session,
    # their 8-bit nicks decoded (the Cyrillic ones as real Cyrillic).
    assert summary["api_answers"] >= 2 and not summary["api_errors"]
    assert summary["api_nicks_unknown"] == []
    assert any(re.search("[А-Яа-яЁё]", n) for n in summary["api_non_ascii_nicks"])
    # The summary shows them as the clients that typed them see them: the
    # Latin-1 nicks the CP1251 hub reads as "Franзois" and "Jьrgen" as
    # "François" and "Jürgen", the Cyrillic ones unchanged.
    typed = summary["api_non_ascii_nicks_as_typed"]
    assert len(typed) == len(summary["api_non_ascii_nicks"])
    for hub_reads, client_shows in [("Franзois", "François"), ("Jьrgen", "Jürgen")]:
        if hub_reads in summary["api_non_ascii_nicks"]:
            assert client_shows in typed and hub_reads not in typed, typed
    assert any(re.search("[А-Яа-яЁё]", n) for n in typed)

    # The bridge carried messages both ways.
    assert summary["bridge_pushed"] and summary["bridge_to_hub"] >= 1
    assert summary["hub_to_bridge"] > 0

    # The API and the bridge ran sandboxed, the others not.
    sandbox = {name: row.get("SANDBOX") for name, row in summary["scripts"].items()}
    want = "fs" if landlock_abi() else "-"
    py2 = summary["python2_counted"] is not None
    assert sandbox == {
        "greeter.py": "-",
        "chat_filter.py": "-",
        "hub_api.py": want,
        "matterbridge.py": want,
        **({"chat_stats.py": "-"} if py2 else {}),
    }, sandbox

    # The classic Python 2 script was loaded by the automatic
    # choice in a Python 2.7 worker and saw every chat hook the hub made, as
    # every script does (docs/abi.md §4.2), the blocked lines included.
    if os.environ.get("CI") == "true":
        assert py2, "no Python 2.7 for the demo's Python 2 script under CI"
    if py2:
        assert summary["scripts"]["chat_stats.py"]["PY"] == "2.7"
        assert summary["python2_counted"] == summary["chat_hooks"] > 0

    # The killed worker came back.
    assert summary["killed_pid"] and summary["filter_restarts"] >= 1
    assert summary["filter_state"] == "running"

    # Every message the filter blocked contains one of its listed words.
    words = [
        w.split("#")[0].strip().lower()
        for w in (EXAMPLES / "chat_filter_words.txt").read_text("utf-8").splitlines()
    ]
    words = [w for w in words if w]
    hub_output = (REPO / ".demo" / "hub-output.txt").read_text("utf-8")
    for line in hub_output.splitlines():
        if "Your message was not sent" in line:
            assert any(repr(w) in line for w in words), line
