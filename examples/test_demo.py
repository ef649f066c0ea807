"""Runs the main job (``examples/demo.py --short``) end to end: a real
runner, real workers, the shim driven by hubsim over the real session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent


def test_short_demo_greets_every_login_and_blocks_listed_words():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--short"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    transcript = (EXAMPLES / "sessions" / "2007-01-11_12.short.transcript").read_text("utf-8")
    logins = sum(1 for line in transcript.splitlines() if "\tlogin\t" in line)
    assert f"logins in the session: {logins}, greeted by greeter.py: {logins}" in out.stdout
    hub_output = (EXAMPLES.parent / ".demo" / "hub-output.txt").read_text("utf-8")
    # Every message the hub broadcast as main chat came from the session.
    chats = [line for line in transcript.splitlines() if "\tchat\t" in line]
    broadcast = [line for line in hub_output.splitlines() if line.startswith("MC ")]
    user_broadcast = [line for line in broadcast if not line.startswith("MC Verlihub\t")]
    assert 0 < len(user_broadcast) <= len(chats)
