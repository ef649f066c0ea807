"""Faults on the real hub through vh-runner (docs/reliability.md): a script
in an endless loop, a SIGKILLed worker, a SIGTERMed runner. The hub must
keep answering its users throughout; scripts come back; a stopping runner
runs every UnLoad() and exits within 3 s.

Both generations; under A the scripts are Python 2 (Python 2.7 workers),
under B Python 3.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import time

from hubs import wait_until
from session import OP, OP_PASS, SCRIPTS, Session

HOOK_DEADLINE_MS = 1000
KILL_AFTER_MS = 3000
RUNNER_CONFIG = f"hook_kill_timeout_ms = {KILL_AFTER_MS}\n"


def fault_scripts(env, tmp_path):
    """Two copies of the generation's fault script, `one.py` and `two.py`."""
    src = SCRIPTS / "faults" / ("fault_py2.py2" if env.built.gen == "A" else "fault_py3.py")
    out = []
    for name in ("one.py", "two.py"):
        shutil.copy(src, tmp_path / name)
        out.append(tmp_path / name)
    return out


def events(s: Session) -> list[tuple[str, str, int]]:
    try:
        text = (s.out / "faults.txt").read_text()
    except FileNotFoundError:
        return []
    return [(a, b, int(c)) for a, b, c in (ln.split() for ln in text.splitlines())]


def loaded_pid(s: Session, name: str, after: int = 0) -> int | None:
    """The pid of `name`'s latest load, if it differs from `after`."""
    pids = [p for n, what, p in events(s) if n == name and what == "loaded"]
    return pids[-1] if pids and pids[-1] != after else None


async def ping(s: Session, op, name: str, timeout: float = 20.0) -> int:
    """`.ping` until `name` answers (a restarting script may miss one);
    returns the pid it answered from."""
    deadline = time.monotonic() + timeout
    rx = re.compile(rb"^<VerliHub> pong " + name.encode() + rb" (\d+)$")
    while True:
        start = len(op.received)
        op.chat(b".ping")
        await s.barrier(op, "ping")
        for m in op.received[start:]:
            got = rx.match(m)
            if got:
                return int(got.group(1))
        assert time.monotonic() < deadline, (
            f"{name} did not answer .ping in {timeout} s: {op.received[-6:]}"
        )


def test_loop_kill_and_runner_stop_leave_the_hub_answering(gen_env, tmp_path):
    s = Session(
        gen_env,
        "runner",
        "faults",
        fault_scripts(gen_env, tmp_path),
        runner_config=RUNNER_CONFIG,
        hook_deadline_ms=HOOK_DEADLINE_MS,
    )

    async def go():
        async with s:
            op = await s.login(OP, OP_PASS)
            user = await s.login(b"plain")
            one = await asyncio.to_thread(
                wait_until, lambda: loaded_pid(s, "one.py"), 30, "one.py loaded"
            )
            two = await asyncio.to_thread(
                wait_until, lambda: loaded_pid(s, "two.py"), 30, "two.py loaded"
            )
            assert await ping(s, op, "one.py") == one
            assert await ping(s, op, "two.py") == two

            # 1. an endless loop in one.py's hook: the hub answers within
            # the hook deadline, every line, for every user
            t = time.monotonic()
            op.chat(b".loop one.py")
            await s.barrier(op, "loop")
            took = time.monotonic() - t
            user.chat(b"still here")
            await s.barrier(user, "user-after-loop")
            assert took < HOOK_DEADLINE_MS / 1000 * 3 + 2, f"hub blocked {took:.1f} s"
            assert s.hub.alive()
            # the runner kills the looping worker and starts it again
            new_one = await asyncio.to_thread(
                wait_until,
                lambda: loaded_pid(s, "one.py", one),
                30,
                "one.py reloaded",
                s.runner.logtext,
            )
            assert await ping(s, op, "one.py") == new_one
            assert await ping(s, op, "two.py") == two

            # 2. SIGKILL of two.py's worker: it comes back, the hub runs on
            os.kill(two, signal.SIGKILL)
            user.chat(b"during the restart")
            await s.barrier(user, "user-after-kill")
            new_two = await asyncio.to_thread(
                wait_until,
                lambda: loaded_pid(s, "two.py", two),
                30,
                "two.py restarted",
                s.runner.logtext,
            )
            assert await ping(s, op, "two.py") == new_two
            assert s.hub.alive()

            # 3. SIGTERM of the runner with the hub attached: it exits 0
            # within 3 s and every script's UnLoad() ran
            proc = s.runner.proc
            took = s.runner.stop(signal.SIGTERM, timeout=10)
            assert proc.returncode == 0, s.runner.logtext()
            assert took <= 3.0, f"runner took {took:.2f} s to stop"
            unloads = {(n, p) for n, what, p in events(s) if what == "unload"}
            assert unloads == {("one.py", new_one), ("two.py", new_two)}, events(s)
            # the hub goes on without its scripts
            user.chat(b"after the runner")
            await s.barrier(user, "user-after-runner")
            assert s.hub.alive()

    asyncio.run(go())
