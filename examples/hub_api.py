"""Hub REST API: read-only JSON about the hub and its users, served by FastAPI.

What it does:
  * serves ``GET /`` (overview), ``/hub``, ``/stats``, ``/users`` (``?limit=N&offset=N``),
    ``/ops``, ``/bots``, ``/user/{nick}``, ``/geo``, ``/share`` and ``/health``, with
    interactive documentation at ``/docs`` and the schema at ``/openapi.json``;
  * answers ``!api start [port] [origins...]``, ``!api stop``, ``!api status`` and
    ``!api help`` from operators (class >= 3, as the original script) in main chat or in
    PM to the hub-security bot, and replies the same way (``vh.usermc`` / ``vh.pm``).

Start and stop: as in the python_pi original the server runs only after ``!api start``
(or from load with ``HUB_API_AUTOSTART=1``). The command binds the port itself, so "port in
use" is its answer and the API accepts connections as soon as it returns. ``!api stop``
returns at once (a hook must not wait); the server's thread says "API server stopped" when
the port is closed. It binds 127.0.0.1 unless told otherwise: put a reverse proxy in front
of it to publish it.

How it talks to the hub: unlike the original, which copied hub data into a cache from
``OnTimer``, every request calls ``vh.*`` directly. vh-runner runs a call made outside a
hook at the hub's next entry into the shim (any hook, or the 1-second timer), so the async
handlers hand their calls to a pool of threads all at once (:func:`hub`): one request costs
one or two hub entries, not one per call. No ``OnTimer`` hook is needed.

Nicks and other hub strings: the ``vh`` package gives ``str`` decoded with the hub's
encoding and ``surrogateescape``. JSON output follows one rule: every byte the hub encoding
cannot decode (a lone surrogate in Python) becomes U+FFFD, as the original's
``errors='replace'`` did, so responses are always valid UTF-8 JSON and Cyrillic on a CP1251
hub comes out as real Cyrillic. ``/user/{nick}`` finds a user by the exact nick or, failing
that, by this display form, so every nick listed by ``/users`` can be looked up.

Configuration, from the environment of the worker (vh-runner's own, or ``env`` of the
script's ``[[script]]`` entry in runner.toml): ``HUB_API_HOST`` (default 127.0.0.1),
``HUB_API_PORT`` (8000), ``HUB_API_MIN_CLASS`` (3), ``HUB_API_AUTOSTART`` (0),
``HUB_API_CORS_ORIGINS`` (space-separated origins allowed to call it from a browser),
``HUB_API_THREADS`` (32, threads making vh calls). Under an address-space limit
(runner.toml ``memory_limit_mb``) also set ``MALLOC_ARENA_MAX=2``: glibc reserves 64 MB of
address space per thread arena (with it, 32 threads peak near 450 MB of address space).

How to run it:
  pip install -r examples/requirements.txt   # into the Python vh-runner runs scripts with
  !pyload /path/to/examples/hub_api.py
  !api start 8000
  curl 'http://127.0.0.1:8000/users?limit=10'

Sandboxed (runner.toml ``sandbox = true``, docs/admin.md "Sandbox") it needs nothing more:
it reads only its folder and its venv, writes nothing, and keeps the network to bind its port
(so not ``network = false``). ``make demo`` runs it that way.
"""

import asyncio
import os
import queue
import re
import socket
import threading
import time
from concurrent.futures import Executor, Future
from datetime import datetime, timezone
from functools import partial
from typing import Annotated, Any, Optional

import vh

try:
    import uvicorn
    from fastapi import FastAPI, HTTPException, Query
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
except ImportError as exc:
    MISSING = (
        f"hub_api.py needs FastAPI and uvicorn ({exc}); install them into the Python "
        "vh-runner runs scripts with: pip install -r examples/requirements.txt"
    )
    print(MISSING, flush=True)
else:
    MISSING = ""

VERSION = "2.0.0"

#: Settings; the environment variable ``HUB_API_<KEY>`` overrides each.
CONFIG = {
    "host": "127.0.0.1",
    "port": 8000,
    "min_class": 3,
    "autostart": False,
    "cors_origins": "",
    # Threads making vh calls for the (async) request handlers: how many calls can wait
    # for the same hub entry. None run on the event loop's thread.
    "threads": 32,
}

CLASS_NAMES = {
    0: "Guest",
    1: "Regular",
    2: "VIP",
    3: "Operator",
    4: "Cheef",
    5: "Admin",
    10: "Master",
}


def load_env(config: dict, prefix: str) -> None:
    """Overrides ``config`` from ``<prefix><KEY>`` variables, keeping each value's type."""
    for key, default in config.items():
        raw = os.environ.get(prefix + key.upper())
        if raw is None:
            continue
        try:
            if isinstance(default, bool):
                config[key] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                config[key] = int(raw)
            else:
                config[key] = raw
        except ValueError:
            print(f"hub_api: ignoring {prefix}{key.upper()}={raw!r}: not a number", flush=True)


load_env(CONFIG, "HUB_API_")

# -- JSON rule for hub strings -------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")


def json_text(s: str) -> str:
    """``s`` with every undecodable hub byte (a lone surrogate) replaced by U+FFFD."""
    return s if s.isascii() else _SURROGATES.sub("\ufffd", s)


def json_safe(value: Any) -> Any:
    """``value`` with :func:`json_text` applied to every string in it."""
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# -- hub access ----------------------------------------------------------------------


class CallThreads(Executor):
    """Up to ``size`` daemon threads running submitted calls, started as needed.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, and one still
    waiting for the hub then would hold the worker's exit until the runner kills it."""

    def __init__(self, size: int) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._size = max(1, size)
        self._threads = 0
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("hub_api: the vh call threads were shut down")
            self._jobs.put((future, fn, args, kwargs))
            start = self._threads < self._size
            if start:
                self._threads += 1
        if start:
            name = "hub-api-vh-%d" % self._threads
            threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, fn, args, kwargs = self._jobs.get()
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:
                future.set_exception(e)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Ends the threads once the calls already queued have run."""
        with self._lock:
            self._closed = True
            for _ in range(self._threads):
                self._jobs.put((None, None, None, None))


_pool: Optional[CallThreads] = None
_pool_lock = threading.Lock()


def pool() -> CallThreads:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CallThreads(CONFIG["threads"])
        return _pool


async def hub(*calls: tuple) -> list:
    """Runs the vh calls ``(fn, *args), ...`` at once, each on a pool thread, and returns
    their results in order. vh-runner runs them at the hub's next entry into the shim, so
    together they cost about one entry instead of one each."""
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(*(loop.run_in_executor(pool(), partial(*c)) for c in calls)))


def class_name(uclass: Optional[int]) -> str:
    if uclass is None or uclass < 0:
        return "Offline"
    return CLASS_NAMES.get(uclass, "Class%d" % uclass)


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024.0
    return f"{size:.2f} EB"


def to_int(text: Optional[str]) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def config(var: str) -> str:
    return vh.GetConfig(vh.config_name or "config", var) or ""


#: The vh calls behind one user summary, in the order :func:`summary` takes them.
SUMMARY_CALLS = ("GetUserClass", "GetUserIP", "GetMyINFO", "GetUserCC")


def summary(nick: str, uclass: Optional[int], ip: Optional[str], info: Any, cc: Any) -> dict:
    """One user as listed by ``/users``: class, address, MyINFO fields, share."""
    fields = list(info[1:6]) if info and len(info) >= 6 else ["", "", "", "", "0"]
    share = to_int(fields[4])
    return {
        "nick": nick,
        "class": uclass,
        "class_name": class_name(uclass),
        "ip": ip or "",
        "country_code": cc or "",
        "description": fields[0] or "",
        "tag": fields[1] or "",
        "share": share,
        "share_formatted": format_bytes(share),
    }


async def summaries(nicks: list) -> list:
    """Summaries of ``nicks`` (all vh calls at once); users gone meanwhile are left out."""
    results = await hub(*((getattr(vh, f), nick) for nick in nicks for f in SUMMARY_CALLS))
    width = len(SUMMARY_CALLS)
    out = []
    for i, nick in enumerate(nicks):
        got = results[i * width : (i + 1) * width]
        if got[0] is None or got[0] < 0:
            continue
        out.append(summary(nick, *got))
    return out


async def user_lists() -> tuple:
    """``(users, ops, bots)``: nicks in hub order; bots are in neither of the first two."""
    nicks, ops, bots = await hub((vh.GetNickList,), (vh.GetOpList,), (vh.GetBotList,))
    bot_set = set(bots or [])
    users = [n for n in nicks or [] if n not in bot_set]
    return users, [n for n in ops or [] if n not in bot_set], list(bots or [])


async def find_nick(requested: str) -> Optional[str]:
    """The online nick for ``requested``: the exact nick, else the one nick whose JSON
    display form (undecodable bytes as U+FFFD) equals it."""
    try:
        (uclass,) = await hub((vh.GetUserClass, requested))
        if uclass is not None and uclass >= 0:
            return requested
    except UnicodeEncodeError:
        pass  # not expressible in the hub encoding; try the display forms
    nicks, bots = await hub((vh.GetNickList,), (vh.GetBotList,))
    matches = {n for n in (nicks or []) + (bots or []) if json_text(n) == requested}
    return matches.pop() if len(matches) == 1 else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def uptime() -> dict:
    """Time since the hub started (``vh.starttime``), or None where unknown."""
    if not vh.starttime:
        return {"uptime_seconds": None, "uptime": None}
    seconds = max(0, int(time.time() - vh.starttime))
    days, rest = divmod(seconds, 86400)
    text = "%dd %dh %dm %ds" % (days, rest // 3600, rest % 3600 // 60, rest % 60)
    return {"uptime_seconds": seconds, "uptime": text}


# -- the FastAPI application ------------------------------------------------------------


def make_app(origins: list) -> "FastAPI":
    """A new application (one per start, so that CORS origins can change)."""

    class HubJSONResponse(JSONResponse):
        """UTF-8 JSON that never fails on undecodable hub bytes (see the module doc)."""

        def render(self, content: Any) -> bytes:
            return super().render(json_safe(content))

    app = FastAPI(
        title="Verlihub hub API",
        description="Read-only hub information, served by a vh-runner script.",
        version=VERSION,
        default_response_class=HubJSONResponse,
    )
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET"])

    @app.exception_handler(ConnectionError)
    @app.exception_handler(vh.NotConnectedError)
    async def hub_gone(request: Any, exc: Exception) -> JSONResponse:
        return HubJSONResponse({"detail": f"hub unavailable: {exc}"}, status_code=503)

    @app.get("/")
    async def root() -> dict:
        """What this API serves."""
        return {
            "service": "Verlihub hub API",
            "version": VERSION,
            "endpoints": [
                "/hub",
                "/stats",
                "/users",
                "/ops",
                "/bots",
                "/user/{nick}",
                "/geo",
                "/share",
                "/health",
                "/docs",
                "/openapi.json",
            ],
        }

    @app.get("/hub")
    async def hub_info() -> dict:
        """Hub name, description, topic, user limit, version and uptime."""
        name, desc, max_users, version, topic = await hub(
            (config, "hub_name"),
            (config, "hub_desc"),
            (config, "max_users"),
            (config, "hub_version"),
            (vh.Topic,),
        )
        return {
            "name": name,
            "description": desc,
            "topic": topic or "",
            "max_users": to_int(max_users),
            "version": version,
            **uptime(),
        }

    @app.get("/stats")
    async def stats() -> dict:
        """Users online, total share and uptime, now."""
        count, total, name, max_users = await hub(
            (vh.GetUsersCount,),
            (vh.GetTotalShareSize,),
            (config, "hub_name"),
            (config, "max_users"),
        )
        total = to_int(total)
        return {
            "timestamp": now_iso(),
            "hub_name": name,
            "users_online": count or 0,
            "max_users": to_int(max_users),
            "total_share": total,
            "total_share_formatted": format_bytes(total),
            **uptime(),
        }

    @app.get("/users")
    async def users(
        limit: Annotated[Optional[int], Query(ge=1, description="page size")] = None,
        offset: Annotated[int, Query(ge=0, description="users to skip")] = 0,
    ) -> dict:
        """Online users (not bots) in hub order, one page."""
        nicks = (await user_lists())[0]
        page = nicks[offset : offset + limit] if limit else nicks[offset:]
        listed = await summaries(page)
        return {"total": len(nicks), "offset": offset, "count": len(listed), "users": listed}

    @app.get("/ops")
    async def ops() -> dict:
        """Online operators (class >= 3), bots left out."""
        listed = await summaries((await user_lists())[1])
        return {"count": len(listed), "ops": listed}

    @app.get("/bots")
    async def bots() -> dict:
        """The hub's bots."""
        listed = await summaries((await user_lists())[2])
        return {"count": len(listed), "bots": listed}

    @app.get("/user/{nick:path}")
    async def user(nick: str) -> dict:
        """One user in detail: class, address, country, MyINFO, share."""
        found = await find_nick(nick)
        got = None
        if found is not None:
            got = await hub(
                *((getattr(vh, f), found) for f in SUMMARY_CALLS),
                (vh.GetUserHost, found),
                (vh.GetUserHubURL, found),
            )
        if got is None or got[0] is None or got[0] < 0:
            raise HTTPException(404, detail=f"user {json_text(nick)!r} is not online")
        uclass, ip, info, cc, host, hub_url = got
        (country,) = await hub((vh.GetIPCN, ip)) if ip else ("",)
        fields = list(info[1:6]) if info and len(info) >= 6 else ["", "", "", "", ""]
        return {
            **summary(found, uclass, ip, info, cc),
            "host": host or "",
            "country": country or "",
            "hub_url": hub_url or "",
            "speed": fields[2] or "",
            "email": fields[3] or "",
        }

    @app.get("/geo")
    async def geo() -> dict:
        """Users per country code (GeoIP); users without one count as unknown."""
        codes = await hub(*((vh.GetUserCC, n) for n in (await user_lists())[0]))
        counts: dict = {}
        for cc in codes:
            counts[cc or "--"] = counts.get(cc or "--", 0) + 1
        unknown = counts.pop("--", 0)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "total_countries": len(ranked),
            "unknown": unknown,
            "distribution": [{"country_code": cc, "users": n} for cc, n in ranked],
        }

    @app.get("/share")
    async def share() -> dict:
        """Total and average share of the online users."""
        total, count = await hub((vh.GetTotalShareSize,), (vh.GetUsersCount,))
        total, count = to_int(total), count or 0
        average = total // count if count else 0
        return {
            "total": total,
            "total_formatted": format_bytes(total),
            "users": count,
            "average": average,
            "average_formatted": format_bytes(average),
        }

    @app.get("/health")
    async def health() -> Any:
        """Healthy when a vh call reaches the hub and comes back."""
        started = time.monotonic()
        try:
            (count,) = await hub((vh.GetUsersCount,))
        except Exception as e:  # the hub link is gone or broken
            return HubJSONResponse({"status": "unhealthy", "error": str(e)}, status_code=503)
        return {
            "status": "healthy",
            "timestamp": now_iso(),
            "users_online": count or 0,
            "hub_roundtrip_ms": round((time.monotonic() - started) * 1000, 1),
        }

    return app


# -- server lifecycle --------------------------------------------------------------------


class ApiServer:
    """One running uvicorn server on a socket bound by :meth:`start`."""

    def __init__(self, host: str, port: int, origins: list) -> None:
        self.url = "http://%s:%d/" % (f"[{host}]" if ":" in host else host, port)
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # Bound here, on the hook's thread, so that "port in use" is the command's answer
        # and the port accepts connections as soon as the command returns.
        self.sock = socket.socket(family, kind, proto)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(address)
            self.sock.listen(128)
        except OSError:
            self.sock.close()
            raise
        self.origins = origins
        cfg = uvicorn.Config(
            make_app(origins),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(cfg)
        self.notify: Optional[tuple] = None  # (nick, in_pm) to tell when stopped
        self.thread = threading.Thread(target=self._serve, name="hub-api", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as e:  # uvicorn exits with SystemExit on startup errors
            print(f"hub_api: server stopped with an error: {e!r}", flush=True)
        finally:
            self.sock.close()
            print(f"hub_api: stopped serving {self.url}", flush=True)
            if self.notify:
                # A vh call from this thread: it runs at the hub's next entry.
                try:
                    reply(self.notify[0], self.notify[1], f"API server stopped ({self.url})")
                except Exception as e:
                    print(f"hub_api: could not report the stop: {e!r}", flush=True)

    def running(self) -> bool:
        return self.thread.is_alive() and not self.server.should_exit

    def stop(self, notify: Optional[tuple] = None) -> None:
        """Asks uvicorn to stop without waiting (a hook must return fast)."""
        self.notify = notify
        self.server.should_exit = True


server: Optional[ApiServer] = None


def start(port: int, origins: list) -> str:
    """Starts the server; returns the reply text. Raises OSError if the port is taken."""
    global server
    if MISSING:
        return "ERROR: " + MISSING
    if server and server.thread.is_alive():
        state = "running" if server.running() else "still stopping"
        return f"API server is {state} at {server.url}"
    server = ApiServer(CONFIG["host"], port, origins)
    print(f"hub_api: serving {server.url}", flush=True)
    return f"API server listening on {server.url} (docs: {server.url}docs)"


def reply(nick: str, in_pm: int, text: str) -> None:
    if in_pm:
        vh.pm(text, nick)
    else:
        vh.usermc(text, nick)


HELP = """Hub API commands:
  !api start [port] [origins...]  start the API (default port %(port)s; origins for CORS)
  !api stop                       stop it
  !api status                     is it running, and where
  !api help                       this text
Endpoints: / /hub /stats /users?limit=N&offset=N /ops /bots /user/{nick} /geo /share
/health, documentation at /docs"""


def run_command(nick: str, words: list, in_pm: int) -> None:
    """``!api <sub> ...`` from an operator; answers with :func:`reply`."""
    sub = words[1].lower() if len(words) > 1 else "help"
    if sub == "start":
        try:
            port = int(words[2]) if len(words) > 2 else CONFIG["port"]
        except ValueError:
            reply(nick, in_pm, f"ERROR: not a port number: {words[2]}")
            return
        if not 1024 <= port <= 65535:
            reply(nick, in_pm, "ERROR: the port must be between 1024 and 65535")
            return
        origins = CONFIG["cors_origins"].split() + words[3:]
        try:
            reply(nick, in_pm, start(port, origins))
        except OSError as e:
            reply(nick, in_pm, f"ERROR: cannot listen on {CONFIG['host']}:{port}: {e}")
    elif sub == "stop":
        if server and server.running():
            server.stop(notify=(nick, in_pm))
            reply(nick, in_pm, f"API server stopping ({server.url})")
        else:
            reply(nick, in_pm, "API server is not running")
    elif sub == "status":
        if server and server.running():
            extra = f", CORS origins: {' '.join(server.origins)}" if server.origins else ""
            reply(nick, in_pm, f"API server is RUNNING at {server.url}{extra}")
        elif server and server.thread.is_alive():
            reply(nick, in_pm, "API server is STOPPING")
        else:
            reply(nick, in_pm, "API server is STOPPED")
    elif sub == "help":
        reply(nick, in_pm, HELP % CONFIG)
    else:
        reply(nick, in_pm, f"Unknown subcommand {sub!r}; try !api help")


# -- hooks -----------------------------------------------------------------------------


def OnHubCommand(nick, command, user_class, in_pm, prefix):
    words = command.split()
    if not words or words[0] != "api":
        return 1
    if user_class < CONFIG["min_class"]:
        reply(nick, in_pm, f"{prefix}api: permission denied (class {CONFIG['min_class']}+)")
        return 0
    run_command(nick, words, in_pm)
    return 0


def UnLoad():
    global _pool
    if server and server.thread.is_alive():
        server.stop()
        server.thread.join(timeout=2.5)
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


if CONFIG["autostart"]:
    try:
        print("hub_api: " + start(CONFIG["port"], CONFIG["cors_origins"].split()), flush=True)
    except OSError as e:
        print(f"hub_api: cannot listen on {CONFIG['host']}:{CONFIG['port']}: {e}", flush=True)
