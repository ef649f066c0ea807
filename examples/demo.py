"""The main job: a real chat session replayed through vh-runner.

Starts ``vh-runner`` on a private socket, then ``hubsim`` (the simulated
hub, which loads the shim exactly as Verlihub's python_pi does) with the
example scripts, and replays a real ``#ubuntu`` IRC session
(``examples/sessions/``, CC-BY-4.0) as hub events: logins with MyINFO,
main chat, PMs, logouts, in a CP1251 hub with Cyrillic and Latin-1 nicks.
It prints what the hub would send, then a summary. Everything it writes
goes to ``.demo/`` (runner log, hub output).

Run it with ``make demo`` (builds everything first), or
``.venv/bin/python examples/demo.py [--short]`` after ``make build``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "target" / "debug"
SESSIONS = REPO / "examples" / "sessions"
SCRIPTS = [REPO / "examples" / "greeter.py", REPO / "examples" / "chat_filter.py"]


def wait_for_socket(path: Path, runner: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if runner.poll() is not None:
            raise SystemExit(f"vh-runner exited with code {runner.returncode}; see its log")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"vh-runner did not listen on {path} within {timeout_s:.0f} s")


def count_events(transcript: Path) -> Counter:
    events: Counter = Counter()
    for line in transcript.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            events[line.split("\t")[1]] += 1
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="replay the 200-event excerpt")
    args = parser.parse_args()

    stem = "2007-01-11_12.short" if args.short else "2007-01-11_12"
    transcript = SESSIONS / f"{stem}.transcript"
    for needed in (TARGET / "vh-runner", TARGET / "hubsim", TARGET / "libvh_python_wrapper.so"):
        if not needed.exists():
            raise SystemExit(f"{needed} is missing: run `make build` first")

    out = REPO / ".demo"
    out.mkdir(exist_ok=True)
    sock = out / "runner.sock"
    runner_log = out / "runner.log"
    hub_log = out / "hub-output.txt"
    env = dict(os.environ, VH_RUNNER_SOCKET=str(sock))
    events = count_events(transcript)
    print(
        f"replaying {transcript.relative_to(REPO)}: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(events.items()))
    )

    with open(runner_log, "wb") as log:
        runner = subprocess.Popen(
            [str(TARGET / "vh-runner"), "serve", "--socket", str(sock), "--python", sys.executable],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for_socket(sock, runner)
        cmd = [
            str(TARGET / "hubsim"),
            "--shim",
            str(TARGET / "libvh_python_wrapper.so"),
            "--gen",
            "A",
            "--encoding",
            "CP1251",
        ]
        for script in SCRIPTS:
            cmd += ["--script", str(script)]
        cmd.append(str(transcript))
        started = time.monotonic()
        kinds: Counter = Counter()
        greeted = blocked = pongs = 0
        summary = ""
        with open(hub_log, "w", encoding="utf-8") as hub_out:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, env=env, text=True, encoding="utf-8", errors="replace"
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                hub_out.write(line)
                line = line.rstrip("\n")
                if line.startswith("hubsim:"):
                    summary = line
                    continue
                kind = line.split(" ", 1)[0]
                kinds[kind] += 1
                greeted += line.startswith("MC Verlihub\tWelcome, ")
                blocked += "Your message was not sent" in line
                pongs += line.startswith("USERMC") and "pong" in line
                if kind in ("MC", "PM", "USERMC") and kinds[kind] % 50 == 1:
                    print(f"  [{time.monotonic() - started:6.1f} s] {line[:110]}")
            code = proc.wait()
        took = time.monotonic() - started
    finally:
        runner.terminate()
        try:
            runner.wait(timeout=5)
        except subprocess.TimeoutExpired:
            runner.kill()

    print()
    print(f"hubsim exit code {code}; {summary}")
    print(f"  logins in the session: {events['login']}, greeted by greeter.py: {greeted}")
    print(f"  chat lines: {events['chat']}, blocked by chat_filter.py: {blocked}")
    print(f"  PMs: {events['pm']}; !ping answered: {pongs}")
    print(f"  records by kind: {dict(sorted(kinds.items()))}")
    print(f"  replay took {took:.1f} s")
    print(
        f"full hub output: {hub_log.relative_to(REPO)}; runner log: {runner_log.relative_to(REPO)}"
    )
    return 0 if code == 0 and greeted == events["login"] else 1


if __name__ == "__main__":
    sys.exit(main())
