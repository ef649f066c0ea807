"""Real MariaDB, real Verlihub hubs and a real vh-runner for the tests.

Everything binds to 127.0.0.1, lives in private 0700 folders, and every
child process is killed and reaped by the object that started it, also
when a test fails. Nothing here sleeps to let something start: each start
waits for its event (a socket that accepts, a file that appears) with a
deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from vhbuild import REPO, Built

#: cargo's profile folder the shim and the runner come from: debug for the
#: tests, release for the bench (VH_REALHUB_PROFILE=release)
PROFILE_DIR = REPO / "target" / os.environ.get("VH_REALHUB_PROFILE", "debug")
#: the shim as cargo builds it (the drop-in libvh_python_wrapper.so)
SHIM_PATH = PROFILE_DIR / "libvh_python_wrapper.so"
RUNNER_PATH = PROFILE_DIR / "vh-runner"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, what: str, diag=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s\n{diag()}")
        time.sleep(0.02)


def port_accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_child(p: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> float:
    """Signals `p`, waits up to `timeout`, then SIGKILLs; always reaps.
    Returns how long it took to exit after the signal."""
    t = time.monotonic()
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return time.monotonic() - t


def tool(*names: str) -> str:
    for n in names:
        for d in ("", "/usr/sbin/", "/usr/bin/"):
            p = shutil.which(d + n) if d else shutil.which(n)
            if p:
                return p
    raise FileNotFoundError(f"none of {names} found (Debian: mariadb-server mariadb-client)")


class MariaDB:
    """A private mariadbd on a loopback port, its own datadir and socket."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vh-realhub-db-"))
        os.chmod(self.dir, 0o700)
        self.datadir = self.dir / "data"
        self.sock = self.dir / "mysqld.sock"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.user = "vhtest"
        self.password = "vhtest-pw"

    def start(self, timeout: float = 60.0):
        as_root = os.geteuid() == 0
        user = ["--user=mysql"] if as_root else []
        if as_root:
            shutil.chown(self.dir, "mysql", "mysql")
        r = subprocess.run(
            [
                tool("mariadb-install-db", "mysql_install_db"),
                *user,
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{r.stdout}\n{r.stderr}")
        self.err = open(self.dir / "mariadbd.err", "wb")
        self.proc = subprocess.Popen(
            [
                tool("mariadbd", "mysqld"),
                "--no-defaults",
                *user,
                f"--datadir={self.datadir}",
                f"--socket={self.sock}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                f"--pid-file={self.dir / 'mariadbd.pid'}",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ],
            stdout=self.err,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: (
                self.proc.poll() is not None or (self.sock.exists() and port_accepts(self.port))
            ),
            timeout,
            "mariadbd listening",
            self.errlog,
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited:\n{self.errlog()}")
        self.root_sql(
            f"CREATE USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}';"
            f"GRANT ALL ON *.* TO '{self.user}'@'127.0.0.1';"
        )

    def errlog(self) -> str:
        try:
            return (self.dir / "mariadbd.err").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def root_sql(self, sql: str, db: str | None = None) -> str:
        cmd = [
            tool("mariadb", "mysql"),
            "--no-defaults",
            f"--socket={self.sock}",
            "-uroot",
            "-N",
            "-B",
        ]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"SQL failed: {sql}\n{r.stderr}")
        return r.stdout

    def dump(self, db: str, path: Path):
        with open(path, "wb") as f:
            subprocess.run(
                [
                    tool("mariadb-dump", "mysqldump"),
                    "--no-defaults",
                    f"--socket={self.sock}",
                    "-uroot",
                    "--skip-dump-date",
                    db,
                ],
                stdout=f,
                check=True,
            )

    def load(self, db: str, path: Path):
        self.root_sql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
        with open(path, "rb") as f:
            subprocess.run(
                [tool("mariadb", "mysql"), "--no-defaults", f"--socket={self.sock}", "-uroot", db],
                stdin=f,
                check=True,
            )

    def stop(self):
        if self.proc is not None:
            stop_child(self.proc, signal.SIGTERM, 30)
            self.proc = None
        if hasattr(self, "err"):
            self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# settings of a test hub (NOTES on standing up the hubs): nothing leaves the
# machine, no flood bans for quick test clients, TLS off the login path
HUB_SETTINGS = {
    # loopback only; the TLS address must differ from it, else every local
    # client is taken for the TLS proxy and its login hangs
    "listen_ip": "127.0.0.1",
    "tls_listen_ip": "127.0.0.2",
    "tls_listen_port": "0",
    "int_login": "0",
    "int_chat_ms": "0",
    "max_class_proto_flood": "-1",
    "min_share": "0",
    "timer_hublist_period": "0",
    "hublist_host": "",
    "send_crash_report": "0",
    "update_check_git": "0",
    "update_check_period": "0",
    "dns_lookup": "0",
    "hub_name": "realhub",
    "hub_security": "VerliHub",
    "opchat_name": "OpChat",
}


def base_env(built: Built, db: MariaDB, home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        USER=env.get("USER") or "root",
        TERM=env.get("TERM") or "dumb",
        LD_LIBRARY_PATH=built.ld_library_path,
        LC_ALL="C.UTF-8",
        # the hub's dbconfig has no port: the client library takes it from here
        MYSQL_TCP_PORT=str(db.port),
    )
    env.pop("VH_RUNNER_SOCKET", None)
    return env


class HubTemplate:
    """A hub folder and a database dump, set up once per generation: tables
    created by the hub's first start, the settings, the operator. Each
    session copies both, so every session starts from the same state."""

    def __init__(
        self,
        built: Built,
        db: MariaDB,
        workdir: Path,
        op: bytes,
        op_pass: bytes,
        settings: dict | None = None,
    ):
        self.built = built
        self.db = db
        self.workdir = workdir
        self.dir = workdir / "template"
        self.dbname = f"vh_{built.gen.lower()}_template"
        self.dump = workdir / "template.sql"
        self.op = op
        self.op_pass = op_pass
        self.settings = dict(HUB_SETTINGS, **(settings or {}))

    def write_dbconfig(self, hubdir: Path, dbname: str):
        (hubdir / "dbconfig").write_text(
            f"db_host = 127.0.0.1\n"
            f"db_data = {dbname}\n"
            f"db_user = {self.db.user}\n"
            f"db_pass = {self.db.password}\n"
            "db_charset = cp1250\n"
        )

    def create(self):
        b = self.built
        self.dir.mkdir(parents=True)
        os.chmod(self.workdir, 0o700)
        shutil.copytree(b.prefix / "share" / "verlihub" / "config", self.dir, dirs_exist_ok=True)
        (self.dir / "plugins").mkdir(exist_ok=True)
        os.symlink(b.prefix / "lib" / "libplug_pi.so", self.dir / "plugins" / "libplug_pi.so")
        (self.dir / "scripts").mkdir(exist_ok=True)
        self.write_dbconfig(self.dir, self.dbname)
        self.db.root_sql(f"CREATE DATABASE {self.dbname};")
        # The first start creates the tables. The settings table is made
        # first, as the hub makes it, so that the hub finds the settings
        # (loopback only, nothing leaves the machine) at that start too.
        sets = "".join(
            f"REPLACE INTO SetupList (file, var, val) VALUES ('config', '{k}', '{v}');"
            for k, v in self.settings.items()
        )
        self.db.root_sql(
            "CREATE TABLE SetupList (file varchar(30) NOT NULL, var varchar(50) NOT NULL, "
            "val text DEFAULT NULL, PRIMARY KEY (file, var)) DEFAULT CHARSET=latin1;" + sets,
            self.dbname,
        )
        port = free_port()
        hub = HubProcess(b, self.dir, port, base_env(b, self.db, self.workdir))
        hub.start()
        hub.stop()
        self.db.root_sql(sets, self.dbname)
        env = base_env(b, self.db, self.workdir)
        r = subprocess.run(
            [str(b.vh), "--adduser", self.op.decode(), self.op_pass.decode(), "10", str(self.dir)],
            input="y\n",
            capture_output=True,
            text=True,
            env=env,
        )
        # python_pi starts with the hub and autoloads DIR/scripts/*.py
        self.db.root_sql("UPDATE pi_plug SET autoload=1 WHERE nick='python';", self.dbname)
        got = self.db.root_sql(
            f"SELECT class FROM reglist WHERE nick='{self.op.decode()}';", self.dbname
        ).strip()
        if got != "10":
            raise RuntimeError(
                f"vh --adduser did not register the operator ({got!r}):\n{r.stdout}\n{r.stderr}"
            )
        self.db.dump(self.dbname, self.dump)

    def session_dir(self, name: str) -> tuple[Path, str]:
        """A fresh copy of the hub folder and database for one session."""
        d = self.workdir / name
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(self.dir, d, symlinks=True)
        for f in ("err", "log", "pid"):
            (d / f).unlink(missing_ok=True)
        dbname = f"vh_{self.built.gen.lower()}_{name.replace('-', '_')}"
        self.db.load(dbname, self.dump)
        self.write_dbconfig(d, dbname)
        return d, dbname


class HubProcess:
    """The hub binary as our own child (no vh_daemon, which restarts it on
    a crash and hides the exit), `-d DIR PORT`; stdout and stderr into
    DIR/log and DIR/err as `vh --run` puts them."""

    def __init__(self, built: Built, hubdir: Path, port: int, env: dict):
        self.built = built
        self.dir = hubdir
        self.port = port
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0):
        out = open(self.dir / "log", "ab")
        err = open(self.dir / "err", "ab")
        self.proc = subprocess.Popen(
            [str(self.built.prefix / "bin" / "verlihub"), "-d", str(self.dir), str(self.port)],
            cwd=self.dir,
            env=self.env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        out.close()
        err.close()
        try:
            wait_until(
                lambda: self.proc.poll() is not None or port_accepts(self.port),
                timeout,
                f"hub {self.built.gen} listening on {self.port}",
                self.diag,
            )
        except BaseException:
            stop_child(self.proc, signal.SIGKILL)
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.diag()}")

    def listening_addresses(self) -> set[str]:
        """Every address:port this hub's port is listened on (IPv4 and v6)."""
        out = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    addr, port = local.split(":")
                    if state == "0A" and int(port, 16) == self.port:
                        out.add(addr)
        return out

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def diag(self) -> str:
        out = []
        for f in ("log", "err"):
            with contextlib.suppress(OSError):
                out.append(f"--- {f}:\n" + (self.dir / f).read_text(errors="replace")[-4000:])
        return "\n".join(out)

    def stop(self, timeout: float = 20.0) -> float:
        """SIGQUIT, as vh_daemon stops it (the hub unloads its plugins)."""
        if self.proc is None:
            return 0.0
        t = stop_child(self.proc, signal.SIGQUIT, timeout)
        self.proc = None
        wait_until(lambda: not port_accepts(self.port), 10, "hub port free")
        return t


class Runner:
    """`vh-runner serve` on a socket in a private 0700 folder."""

    def __init__(
        self, workdir: Path, python: Path, python2: Path | None, env: dict, extra_config: str = ""
    ):
        self.dir = Path(tempfile.mkdtemp(prefix="vh-realhub-run-"))
        os.chmod(self.dir, 0o700)
        self.socket = self.dir / "runner.sock"
        self.log = workdir / "runner.log"
        self.config = self.dir / "runner.toml"
        conf = "[defaults]\n"
        if python2:
            conf += f"python2 = {str(python2)!r}\n".replace("'", '"')
        self.config.write_text(conf + extra_config)
        self.python = python
        self.env = dict(env)
        self.env.update(VH_RUNNER_LOG="debug", STATE_DIRECTORY=str(self.dir))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0):
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [
                str(RUNNER_PATH),
                "serve",
                "--socket",
                str(self.socket),
                "--python",
                str(self.python),
                "--config",
                str(self.config),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def up():
            if self.proc.poll() is not None:
                return True
            s = socket.socket(socket.AF_UNIX)
            try:
                return s.connect_ex(str(self.socket)) == 0
            finally:
                s.close()

        try:
            wait_until(up, timeout, "vh-runner listening", self.logtext)
        except BaseException:
            stop_child(self.proc, signal.SIGKILL)
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"vh-runner exited:\n{self.logtext()}")

    def logtext(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-6000:]
        return ""

    def children(self) -> list[int]:
        """Pids of the runner's child processes (its workers)."""
        out: list[int] = []
        if self.proc is None:
            return out
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                out += [int(p) for p in (task / "children").read_text().split()]
        return out

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(RUNNER_PATH), *args, "--socket", str(self.socket)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> float:
        if self.proc is None:
            return 0.0
        t = stop_child(self.proc, sig, timeout)
        self.proc = None
        return t

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- which wrapper the plugin loads -------------------------------------


def wrapper_paths(built: Built) -> list[Path]:
    """Every file python_pi of this build would load as its wrapper: the
    installed one (A and B; B's DT_NEEDED resolves to it through the hub's
    LD_LIBRARY_PATH) and, for B, the build-tree copy it tries first."""
    paths = [built.prefix / "lib" / "libvh_python_wrapper.so"]
    if built.gen == "B":
        paths.insert(0, built.build / "plugins" / "python" / "libvh_python_wrapper.so")
    return paths


def _write_rename(src: Path, dst: Path):
    """Replaces dst by a copy of src: write a new file beside it, fsync,
    rename over. A mapped library is never rewritten in place."""
    tmp = dst.with_name(f".{dst.name}.new-{os.getpid()}")
    with open(src, "rb") as i, open(tmp, "wb") as o:
        shutil.copyfileobj(i, o)
        o.flush()
        os.fsync(o.fileno())
    os.chmod(tmp, 0o755)
    os.rename(tmp, dst)


def keep_originals(built: Built):
    """Keeps each original wrapper once, as built, under <root>/orig."""
    for p in wrapper_paths(built):
        keep = built.root / "orig" / p.relative_to(built.root)
        if not keep.exists():
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, keep)


def install_wrapper(built: Built, mode: str, shim: Path):
    """mode 'inproc': the plugin's own wrapper(s); 'runner': the shim."""
    keep_originals(built)
    for p in wrapper_paths(built):
        src = shim if mode == "runner" else built.root / "orig" / p.relative_to(built.root)
        _write_rename(src, p)
