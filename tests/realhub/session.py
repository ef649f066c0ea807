"""One NMDC session against a real hub, in one of two modes:

* ``inproc``: the plugin's own wrapper, scripts inside the hub;
* ``runner``: the shim in the wrapper's place, scripts in vh-runner workers.

Each session gets a fresh copy of the hub folder and of its database, so
both modes start from the same state. It returns everything that can be
compared: what each client received, what each script wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import hubs
from hubs import SHIM_PATH as SHIM
from nmdc import Client
from vhbuild import Built

SCRIPTS = Path(__file__).resolve().parent / "scripts"
OP = b"op"
OP_PASS = b"op-secret"
# a CP1251 nick ("Привет") and a Latin-1 one ("Jürgen"): hub bytes that are
# not UTF-8
CP1251_NICK = b"\xcf\xf0\xe8\xe2\xe5\xf2"
LATIN1_NICK = b"J\xfcrgen"


def gen_scripts(gen: str) -> list[Path]:
    """The differential scripts of a generation, in load order. Python 2
    ones are kept as `.py2` (ruff cannot parse Python 2); the session
    installs every script as `.py`, as the plugin's autoload wants."""
    return sorted((SCRIPTS / gen.lower()).glob("*.py*"))


@dataclass
class Env:
    """What every session of one generation shares."""

    built: Built
    template: hubs.HubTemplate
    python: Path  # Python 3 with the vh package (workers)
    python2: Path | None  # Python 2.7 (Python 2 workers)


@dataclass
class Result:
    mode: str
    received: dict[bytes, list[bytes]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    hub_err: str = ""
    hub_log: str = ""  # the hub's stdout, where its plugins' `PY:` lines go
    runner_log: str = ""
    hub_stop_s: float = 0.0
    runner_stop_s: float | None = None
    hub_alive_at_end: bool = True
    # the hub's exit status if it had exited by itself before the stop
    # (vh.StopHub), else None
    hub_exit_code: int | None = None
    # every wrapper file the hub process has mapped: (path, inode, what it
    # is: "shim", "original" or "other")
    wrapper_maps: set = field(default_factory=set)


class Session:
    """A hub (and, in runner mode, a runner) with scripts autoloaded from
    the hub's scripts folder; `async with` starts and always stops both."""

    def __init__(
        self,
        env: Env,
        mode: str,
        name: str,
        scripts: list[Path],
        runner_config: str = "",
        hook_deadline_ms: int = 5000,
        hub_env: dict | None = None,
    ):
        self.env = env
        self.mode = mode
        self.name = name
        # every session runs in the same folder (paths the hub and the
        # scripts print are the same in both modes); stop() moves it aside
        # to <name>-<mode> for a look afterwards
        self.keep_as = name + "-" + mode
        self.dir, self.dbname = env.template.session_dir("session")
        self.out = self.dir / "out"
        self.out.mkdir()
        for s in scripts:
            shutil.copy(s, self.dir / "scripts" / (s.stem + ".py"))
        self.port = hubs.free_port()
        self.result = Result(mode)
        penv = hubs.base_env(env.built, env.template.db, self.dir)
        penv["VH_REALHUB_OUT"] = str(self.out)
        # for the scripts, in the hub and (through the runner) the workers
        penv.update(hub_env or {})
        self.runner: hubs.Runner | None = None
        if mode == "runner":
            self.runner = hubs.Runner(self.dir, env.python, env.python2, penv, runner_config)
            penv = dict(penv)
            penv.update(
                VH_RUNNER_SOCKET=str(self.runner.socket),
                # a debug build on a busy machine: generous, so that a slow
                # hook is never answered by the deadline (which would differ)
                VH_HOOK_DEADLINE_MS=str(hook_deadline_ms),
                VH_LOAD_DEADLINE_MS="60000",
            )
        hubs.install_wrapper(env.built, mode, SHIM)
        self.hub = hubs.HubProcess(env.built, self.dir, self.port, penv)
        self.clients: list[Client] = []

    def start(self):
        if self.runner is not None:
            self.runner.start()
        self.hub.start()
        # 127.0.0.1 (little-endian hex in /proc/net/tcp), nothing else
        assert self.hub.listening_addresses() == {"0100007F"}, self.hub.listening_addresses()

    def stop(self):
        """Stops the hub (SIGQUIT, as vh_daemon does), then the runner
        (SIGTERM); both are reaped whatever happens."""
        try:
            self.result.hub_alive_at_end = self.hub.alive()
            if self.hub.proc is not None:
                self.result.hub_exit_code = self.hub.proc.poll()
            self.result.hub_stop_s = self.hub.stop()
            if self.runner is not None and self.runner.proc is not None:
                # A hub that exits runs no UnLoad(), in-process or not (the
                # hub unloads nothing on SIGQUIT); the runner stops the
                # workers of a hub that went away. Wait for that before the
                # runner's own stop, which would run every UnLoad().
                hubs.wait_until(
                    lambda: not self.runner.children(),
                    30,
                    "the runner stopped the workers of the hub that went away",
                    self.runner.logtext,
                )
        finally:
            if self.runner is not None:
                self.result.runner_stop_s = self.runner.stop(signal.SIGTERM)
                self.runner.cleanup()
        self.collect()
        keep = self.dir.parent / self.keep_as
        shutil.rmtree(keep, ignore_errors=True)
        self.dir.rename(keep)

    def collect(self):
        for c in self.clients:
            self.result.received[c.nick] = list(c.received)
            # for a look afterwards: one message per line, as Python bytes
            name = c.nick.decode("latin-1").encode("ascii", "backslashreplace").decode()
            with open(self.dir / f"received-{name}.txt", "w") as f:
                f.writelines(repr(m) + "\n" for m in c.received)
        for f in sorted(self.out.iterdir()):
            self.result.files[f.name] = f.read_bytes()
        with contextlib.suppress(OSError):
            self.result.hub_err = (self.dir / "err").read_text(errors="replace")
        with contextlib.suppress(OSError):
            self.result.hub_log = (self.dir / "log").read_text(errors="replace")
        if self.runner is not None:
            self.result.runner_log = self.runner.logtext()

    async def __aenter__(self):
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.start)
        except BaseException:
            # whatever started is stopped and reaped
            await asyncio.get_running_loop().run_in_executor(None, self.stop)
            raise
        return self

    async def __aexit__(self, *exc):
        for c in self.clients:
            await c.close()
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def record_wrapper_maps(self):
        """Which wrapper the hub has mapped (python_pi has loaded it by
        now): each file by path and inode, and whether it is the shim."""
        shim = SHIM.read_bytes()
        for line in Path(f"/proc/{self.hub.proc.pid}/maps").read_text().splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].endswith("libvh_python_wrapper.so"):
                path = Path(parts[5])
                st = path.stat()
                same = st.st_ino == int(parts[4])
                body = path.read_bytes() if same else b""
                what = "shim" if body == shim else "original" if same else "other"
                self.result.wrapper_maps.add((str(path), int(parts[4]), what))

    async def wait_output(self, name: str, text: str, timeout: float = 30.0):
        """Waits until a script's output file `name` holds `text`."""

        def has():
            try:
                return text in (self.out / name).read_text(errors="replace")
            except FileNotFoundError:
                return False

        await asyncio.to_thread(hubs.wait_until, has, timeout, f"{text!r} in {name}")

    async def login(self, nick: bytes, password: bytes | None = None) -> Client:
        c = Client(nick, password)
        self.clients.append(c)
        await c.login(self.port)
        return c

    async def barrier(self, by: Client, tag: str, timeout: float = 30.0):
        """Everything the hub sent any live client before it handled this
        chat line of `by` (so after every earlier line of `by`) arrives
        before the line's echo: wait for the echo on every client still
        connected."""
        line = b".sync " + tag.encode()
        # not a client the hub is closing (it gets nothing more)
        live = [
            c
            for c in self.clients
            if not c.closed
            and not c.expect_close
            and c._writer is not None
            and not c._writer.is_closing()
        ]
        starts = [len(c.received) for c in live]
        by.chat(line)
        want = b"<" + by.nick + b"> " + line
        for c, start in zip(live, starts):
            try:
                await c.wait_for(lambda m: m == want, timeout, start)
            except ConnectionError:
                if not c.expect_close:
                    raise


async def main_session(s: Session) -> None:
    """The session every differential test runs: logins of the registered
    operator and a plain user, chat (allowed, blocked, replaced), PMs,
    search, MyINFO, an unknown command, user and operator commands, the
    scripts' own commands, CP1251 and Latin-1 nicks, logouts. Lines of two
    clients are never in flight together (the hub would take them in either
    order): each client's group ends with its own barrier."""
    op = await s.login(OP, OP_PASS)
    user = await s.login(b"plain")
    await s.barrier(op, "logins")
    s.record_wrapper_maps()
    op.chat(b"hello all")
    await s.barrier(op, "op-chat")
    user.chat(b"hello op")
    user.chat(b"block me")
    user.chat(b"replace me")
    await s.barrier(user, "user-chat")
    op.pm(b"plain", b"secret")
    await s.barrier(op, "op-pm")
    user.pm(b"op", b"answer")
    user.pm(b"op", b"block pm")
    user.search(b"foo")
    user.search(b"longer pattern")
    user.send(user.myinfo(b"changed description", 0))
    await s.barrier(user, "user-pm-search-myinfo")
    op.chat(b".api")
    await s.barrier(op, "api", timeout=60)
    # the scripts' own commands ("!" and "+" lines go to the hub's commands)
    op.chat(b".stats")
    op.chat(b".div 0")
    op.chat(b".div 7")
    op.chat(b".ops")
    op.chat(b".whoami")
    await s.barrier(op, "op-script-commands")
    user.chat(b".stats")
    user.chat(b"+myinfo")
    user.send(b"$UnknownCommand x|")
    await s.barrier(user, "user-commands")
    op.chat(b"!pylist")
    op.chat(b"!help")
    await s.barrier(op, "op-commands")
    # the plugin's own unload: the script's UnLoad() runs (under A)
    op.chat(b"!pyunload " + str(s.dir / "scripts" / "20_api_calls.py").encode())
    await s.barrier(op, "pyunload")
    cp = await s.login(CP1251_NICK)
    lat = await s.login(LATIN1_NICK)
    await s.barrier(op, "8bit-logins")
    cp.chat(b"\xc7\xe4\xf0\xe0\xe2\xf1\xf2\xe2\xf3\xe9\xf2\xe5")  # "Здравствуйте"
    await s.barrier(cp, "cp1251-chat")
    lat.chat(b"Gr\xfc\xdfe")  # "Grüße"
    await s.barrier(lat, "latin1-chat")
    op.pm(CP1251_NICK, b"pm to \xcf\xf0\xe8\xe2\xe5\xf2")
    await s.barrier(op, "8bit-pm")
    left = [op, user, lat, cp]
    for c in (cp, lat, user):
        await c.close()
        left.remove(c)
        # the hub has seen the close once the others get its $Quit (and
        # each of them gets it before it closes in turn)
        for other in left:
            await other.wait_for(lambda m, n=c.nick: m == b"$Quit " + n, 30)
    await s.barrier(op, "logouts")
