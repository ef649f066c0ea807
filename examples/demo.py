"""The main job: a real chat session replayed through vh-runner.

Starts ``vh-runner`` on a private socket and a stand-in for Matterbridge,
then ``hubsim`` (the simulated hub, which loads the shim exactly as
Verlihub's python_pi does) with all the example scripts: greeter, chat
filter, the hub REST API and the Matterbridge bridge, each in its own
worker. It replays a real ``#ubuntu`` IRC session (``examples/sessions/``,
CC-BY-4.0) as hub events: logins with MyINFO, main chat, PMs and logouts in
a CP1251 hub with Cyrillic and Latin-1 nicks. While it plays, the demo
queries the REST API over HTTP, pushes a message in through Matterbridge
and kills the chat filter's worker to show the restart. At the end it
prints a summary; everything is kept in ``.demo/`` (hub output, runner
log, ``summary.json``).

Run it with ``make demo``, which builds release binaries and the release
``vh`` package (in ``target/demo-venv``) first, so that the latencies shown
are what a hub would see; or ``.venv/bin/python examples/demo.py [--short]
[--speed X]`` after ``make build`` for the debug binaries (hooks some 30
times slower).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parent.parent
# Binaries used: target/debug, or target/release with --release.
TARGET = REPO / "target" / "debug"
EXAMPLES = REPO / "examples"
SESSIONS = EXAMPLES / "sessions"
SCRIPTS = ["greeter.py", "chat_filter.py", "hub_api.py", "matterbridge.py"]
#: A classic Python 2 script, loaded when a Python 2.7 is found.
PY2_SCRIPT = "python2/chat_stats.py"
ENCODING = "cp1251"
BRIDGE_TOKEN = "demo-token"


def find_python2(given: Optional[str]) -> Optional[str]:
    """``--python2``, else ``python2.7``/``python2`` on ``PATH``, else
    pyenv's 2.7.18: the first that really is a Python 2.7."""
    import shutil

    candidates = [given] if given else []
    candidates += [shutil.which(n) or "" for n in ("python2.7", "python2")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates.append(os.path.join(root, "versions", "2.7.18", "bin", "python2.7"))
    for c in filter(None, candidates):
        check = [c, "-c", "import sys; sys.exit(sys.version_info[:2] != (2, 7))"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return c
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_socket(path: Path, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vh-runner exited with code {proc.returncode}; see its log")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"vh-runner did not listen on {path} within {timeout_s:.0f} s")


def as_typed(field: str) -> str:
    """A transcript nick as its own client shows it. A ``\\xNN`` escape is a
    byte a Western client sent (CP1252, Latin-1's Windows superset:
    ``Fran\\xe7ois`` is "François", ``Zo\\x98e`` "Zo˜e"); the rest is text a
    CP1251 client typed. The hub, whose encoding is CP1251, keeps the bytes
    and reads them as "Franзois"; so does the REST API."""

    def byte(m: re.Match) -> str:
        if not m.group(1):
            return "\\"
        raw = bytes([int(m.group(1), 16)])
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    return re.sub(r"\\x([0-9a-fA-F]{2})|\\\\", byte, field)


def unescape(field: str) -> bytes:
    """A transcript field as the hub's bytes (``\\xNN`` raw, the rest CP1251)."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field.startswith("\\x", i):
            out.append(int(field[i + 2 : i + 4], 16))
            i += 4
        elif field.startswith("\\\\", i):
            out += b"\\"
            i += 2
        else:
            out += field[i].encode(ENCODING)
            i += 1
    return bytes(out)


class Session:
    """What the transcript holds: event counts, duration, nicks as the API
    should show them (hub bytes decoded, undecodable bytes as U+FFFD), and
    each such nick as the client that typed it shows it."""

    def __init__(self, path: Path) -> None:
        self.events: Counter = Counter()
        self.duration = 0.0
        self.nicks: set[str] = set()
        self.typed: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            f = line.split("\t")
            self.events[f[1]] += 1
            self.duration = max(self.duration, float(f[0]))
            if f[1] == "login":
                nick = unescape(f[2]).decode(ENCODING, "replace")
                self.nicks.add(nick)
                self.typed[nick] = as_typed(f[2])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode("utf-8"))


def post_json(url: str, body: dict) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(req, timeout=5).read()


def runner_status(sock: Path) -> str:
    out = subprocess.run(
        [str(TARGET / "vh-runner"), "status", "--socket", str(sock)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout


def status_rows(text: str) -> dict[str, dict[str, str]]:
    """`vh-runner status` rows by script name."""
    rows: dict[str, dict[str, str]] = {}
    lines = text.splitlines()
    header = next((line for line in lines if line.startswith("ID ")), None)
    if header is None:
        return rows
    cols = header.split()
    for line in lines[lines.index(header) + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[1]] = dict(zip(cols, cells))
    return rows


class Driver(threading.Thread):
    """Acts on the hub from outside while the session plays: REST API
    queries, a message in through Matterbridge, a killed worker."""

    def __init__(self, session: Session, speed: float, api: str, bridge: str, sock: Path):
        super().__init__(daemon=True)
        self.session, self.speed, self.api, self.bridge, self.sock = (
            session,
            speed,
            api,
            bridge,
            sock,
        )
        self.started = time.monotonic()
        self.api_answers: list[dict] = []
        self.api_errors: list[str] = []
        self.killed_pid: Optional[int] = None
        self.pushed = False
        self.stop = threading.Event()
        #: The last `vh-runner status` row seen of each script (they are gone
        #: from the runner once hubsim exits).
        self.rows: dict[str, dict[str, str]] = {}
        self.watcher = threading.Thread(target=self.watch_status, daemon=True)

    def watch_status(self) -> None:
        while not self.stop.wait(0.5):
            # Merged: each script keeps its last row while hubsim unloads them.
            self.rows.update(status_rows(runner_status(self.sock)))

    def progress(self) -> float:
        played = (time.monotonic() - self.started) * self.speed
        return min(1.0, played / max(self.session.duration, 1.0))

    def wait_for(self, fraction: float) -> bool:
        while self.progress() < fraction:
            if self.stop.wait(0.05):
                return False
        return True

    def query_api(self) -> None:
        try:
            users = get_json(self.api + "/users?limit=1000")
            stats = get_json(self.api + "/stats")
            self.api_answers.append({"users": users, "stats": stats})
        except Exception as e:
            self.api_errors.append(repr(e))

    def run(self) -> None:
        self.watcher.start()
        plan = [(0.15, self.query_api), (0.3, self.push), (0.45, self.query_api)]
        plan += [(0.5, self.kill_filter), (0.7, self.query_api), (0.9, self.query_api)]
        for fraction, act in plan:
            if not self.wait_for(fraction):
                return
            act()

    def push(self) -> None:
        try:
            post_json(
                self.bridge + "/_fake/push",
                {"text": "hello from IRC", "username": "ircfriend", "protocol": "irc"},
            )
            self.pushed = True
        except Exception as e:
            self.api_errors.append("bridge push: %r" % e)

    def kill_filter(self) -> None:
        row = status_rows(runner_status(self.sock)).get("chat_filter.py", {})
        if row.get("PID", "-").isdigit():
            self.killed_pid = int(row["PID"])
            os.kill(self.killed_pid, signal.SIGKILL)


def bar(fraction: float, width: int = 30) -> str:
    done = int(fraction * width)
    return "[" + "#" * done + "." * (width - done) + "] %3d%%" % (fraction * 100)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="replay the 200-event excerpt")
    parser.add_argument(
        "--speed", type=float, help="transcript seconds per real second (default: ~60 s total)"
    )
    parser.add_argument(
        "--release",
        action="store_true",
        help="use the release binaries in target/release (`make demo` builds them)",
    )
    parser.add_argument(
        "--python2", help="the Python 2.7 for the classic Python 2 script (default: found)"
    )
    args = parser.parse_args()
    global TARGET
    profile = "release" if args.release else "debug"
    TARGET = REPO / "target" / profile

    stem = "2007-01-11_12.short" if args.short else "2007-01-11_12"
    transcript = SESSIONS / f"{stem}.transcript"
    for needed in (TARGET / "vh-runner", TARGET / "hubsim", TARGET / "libvh_python_wrapper.so"):
        if not needed.exists():
            raise SystemExit(
                f"{needed} is missing: run `make build` (debug) or `make demo` (release) first"
            )
    session = Session(transcript)
    speed = args.speed or max(1.0, session.duration / (8.0 if args.short else 60.0))

    out = REPO / ".demo"
    out.mkdir(exist_ok=True)
    sock = out / "runner.sock"
    runner_log, hub_log = out / "runner.log", out / "hub-output.txt"
    api_port, bridge_port = free_port(), free_port()
    api, bridge = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bridge_port}"
    python2 = find_python2(args.python2)
    scripts = SCRIPTS + ([PY2_SCRIPT] if python2 else [])
    stats_file = out / "state" / "chat_stats" / "stats.json"
    stats_file.unlink(missing_ok=True)
    if not python2:
        print(f"no Python 2.7 found: {PY2_SCRIPT} is left out (--python2 PATH to add it)")
    config = out / "runner.toml"
    config.write_text(
        f"""# Written by examples/demo.py.
python = {json.dumps(sys.executable)}
# Each script's state folder (vh.state_dir) under .demo/state/.
state_root = {json.dumps(str(out / "state"))}

[defaults]
# Generous for a busy 2-core machine; a hub would keep the 200 ms default.
hook_deadline_ms = 1000
restart_initial_ms = 300
# The Python 2.7 that scripts written for python_pi 1.6 fall back to.
{"python2 = " + json.dumps(python2) if python2 else "# (no Python 2.7 found)"}

# The two scripts with servers and clients run sandboxed (docs/admin.md
# "Sandbox"): they read only their folder and their Python, write only their
# state folder; both need the network (a port to serve, an API to call).
[[script]]
match = "hub_api.py"
env = {{ HUB_API_PORT = "{api_port}", HUB_API_AUTOSTART = "1" }}
sandbox = true

[[script]]
match = "matterbridge.py"
env = {{ MATTERBRIDGE_API_URL = "{bridge}", MATTERBRIDGE_API_TOKEN = "{BRIDGE_TOKEN}", \
MATTERBRIDGE_AUTOSTART = "1", MATTERBRIDGE_RETRY_INTERVAL = "0.2" }}
sandbox = true
""",
        encoding="utf-8",
    )
    print(
        f"replaying {transcript.relative_to(REPO)} ({session.duration / 60:.0f} min of chat) "
        f"at {speed:.0f}x: " + ", ".join(f"{n} {k}" for k, n in sorted(session.events.items()))
    )
    env = dict(os.environ, VH_RUNNER_SOCKET=str(sock))
    procs: list[subprocess.Popen] = []
    try:
        fake = subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLES / "fake_matterbridge.py"),
                "--port",
                str(bridge_port),
                "--token",
                BRIDGE_TOKEN,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(fake)
        assert fake.stdout is not None
        fake.stdout.readline()
        with open(runner_log, "wb") as log:
            runner = subprocess.Popen(
                [
                    str(TARGET / "vh-runner"),
                    "serve",
                    "--socket",
                    str(sock),
                    "--config",
                    str(config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        procs.append(runner)
        wait_for_socket(sock, runner)
        cmd = [
            str(TARGET / "hubsim"),
            "--shim",
            str(TARGET / "libvh_python_wrapper.so"),
            "--gen",
            "A",
            "--encoding",
            ENCODING.upper(),
            "--speed",
            str(speed),
        ]
        for script in scripts:
            cmd += ["--script", str(EXAMPLES / script)]
        cmd.append(str(transcript))
        driver = Driver(session, speed, api, bridge, sock)
        kinds: Counter = Counter()
        greeted = blocked = bridged_in = shim_events = 0
        # Chat hooks the hub made, per script id (every script sees each).
        chat_hooks: Counter = Counter()
        summary_line = ""
        tty = sys.stdout.isatty()
        last_shown = -1
        with open(hub_log, "w", encoding="utf-8") as hub_out:
            hub = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, env=env, text=True, encoding="utf-8", errors="replace"
            )
            procs.append(hub)
            assert hub.stdout is not None
            for line in hub.stdout:
                if line.startswith("loaded ") and not driver.is_alive():
                    driver.started = time.monotonic()
                    driver.start()
                hub_out.write(line)
                line = line.rstrip("\n")
                if line.startswith("hubsim:"):
                    summary_line = line
                    driver.stop.set()
                    continue
                kind = line.split(" ", 1)[0]
                kinds[kind] += 1
                greeted += line.startswith("MC Verlihub\tWelcome, ")
                blocked += "Your message was not sent" in line
                if line.startswith("HOOK OnParsedMsgChat\t"):
                    chat_hooks[line.split("\t")[1]] += 1
                bridged_in += line.startswith("MC [Bridge]\t")
                shim_events += line.startswith("PY: vh-shim: script #") and (
                    "stopped" in line or "crashed" in line or "is back" in line
                )
                shown = int(driver.progress() * 100)
                if tty:
                    sys.stdout.write(
                        "\r" + bar(driver.progress()) + f"  {sum(kinds.values())} records"
                    )
                    sys.stdout.flush()
                elif shown // 10 != last_shown // 10:
                    print(bar(driver.progress()), f"{sum(kinds.values())} records", flush=True)
                last_shown = shown
            code = hub.wait()
        driver.stop.set()
        if tty:
            print("\r" + bar(1.0))
        bridge_state = urllib.request.urlopen(bridge + "/_fake/state", timeout=5).read().decode()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()

    rows = driver.rows
    to_bridge = int(re.search(r"messages (\d+)", bridge_state).group(1))  # type: ignore[union-attr]
    api_nicks = [u["nick"] for a in driver.api_answers for u in a["users"]["users"]]
    unknown = sorted(set(api_nicks) - session.nicks)
    filter_row = rows.get("chat_filter.py", {})
    summary = {
        "build": profile,
        "exit_code": code,
        "hubsim": summary_line,
        "logins": session.events["login"],
        "greeted": greeted,
        "chat_lines": session.events["chat"],
        "blocked": blocked,
        "records": dict(kinds),
        "api_answers": len(driver.api_answers),
        "api_errors": driver.api_errors,
        "api_nicks_seen": len(set(api_nicks)),
        "api_nicks_unknown": unknown,
        "api_non_ascii_nicks": sorted({n for n in api_nicks if not n.isascii()}),
        "api_non_ascii_nicks_as_typed": sorted(
            {session.typed.get(n, n) for n in api_nicks if not n.isascii()}
        ),
        "bridge_pushed": driver.pushed,
        "bridge_to_hub": bridged_in,
        "hub_to_bridge": to_bridge,
        "killed_pid": driver.killed_pid,
        "filter_restarts": int(filter_row.get("RESTARTS", "0")),
        "filter_state": filter_row.get("STATE", "?"),
        "scripts": rows,
    }

    print()
    print(f"{profile} build ({TARGET.relative_to(REPO)}); hubsim exit code {code}; {summary_line}")
    print(f"  logins in the session: {summary['logins']}, greeted by greeter.py: {greeted}")
    print(f"  chat lines: {summary['chat_lines']}, blocked by chat_filter.py: {blocked}")
    print(
        f"  REST API: {len(driver.api_answers)} answers during the replay, "
        f"{len(set(api_nicks))} distinct nicks (non-ASCII, as their clients typed them: "
        f"{', '.join(summary['api_non_ascii_nicks_as_typed']) or 'none'}); "
        f"errors: {len(driver.api_errors)}"
    )
    print(f"  Matterbridge: {to_bridge} hub messages out, {bridged_in} bridge message(s) in")
    print(
        f"  chat_filter.py worker {driver.killed_pid} killed mid-replay: "
        f"now {summary['filter_state']}, restarts {summary['filter_restarts']}"
    )
    stats: dict[str, Any] = {}
    # Chat lines the hub turned into OnParsedMsgChat: as a hub, hubsim passes
    # no hook for a hub command or a line of a user who is no longer in.
    chat_dispatched = max(chat_hooks.values(), default=0)
    if python2:
        if stats_file.exists():
            stats = json.loads(stats_file.read_text())
        top = sorted(stats.get("lines", {}).items(), key=lambda kv: -kv[1])[:3]
        busiest = ", ".join(
            f"{session.typed.get(hub_nick, hub_nick)} {c}"
            for n, c in top
            for hub_nick in [n.encode("latin-1").decode(ENCODING, "replace")]
        )
        print(
            f"  chat_stats.py, Python 2 (PY {rows.get('chat_stats.py', {}).get('PY', '?')}): "
            f"counted {stats.get('total', 0)} of the hub's {chat_dispatched} chat hooks; "
            f"busiest: {busiest or 'none'}"
        )
    summary["python2_counted"] = stats.get("total")
    summary["chat_hooks"] = chat_dispatched
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print("  per script (hooks served, hook round trip as the hub measured it):")
    for name in (Path(s).name for s in scripts):
        r = rows.get(name, {})
        print(
            f"    {name:16} {r.get('STATE', '?'):8} hooks {r.get('HOOKS', '?'):>6}  "
            f"p50 {r.get('P50', '?'):>7}  p99 {r.get('P99', '?'):>7}  "
            f"restarts {r.get('RESTARTS', '?')}  sandbox {r.get('SANDBOX', '?')}  "
            f"python {r.get('PY', '?')}"
        )
    print(
        f"full hub output: {hub_log.relative_to(REPO)}; runner log: "
        f"{runner_log.relative_to(REPO)}; summary: .demo/summary.json"
    )
    ok = (
        code == 0
        and greeted == summary["logins"]
        and not unknown
        and driver.api_answers
        and bridged_in > 0
        and to_bridge > 0
        and summary["filter_restarts"] >= 1
        and summary["filter_state"] == "running"
        and (not python2 or stats.get("total") == chat_dispatched > 0)
    )
    if not ok:
        print("demo: something did not work as expected; see the summary above", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
