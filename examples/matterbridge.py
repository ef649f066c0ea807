"""Chat bridge between the hub's main chat and Matterbridge (Slack, IRC, Matrix, ...).

What it does:
  * hub -> bridge: every main-chat message (``OnParsedMsgChat``) is posted to Matterbridge's
    API, ``POST /api/message`` with ``{"text": "<nick> message", "username": nick,
    "gateway": "verlihub"}`` (the text through ``hub_to_bridge_format``); the hook only
    queues it, a sender thread does the HTTP, so the hub never waits for the network;
  * bridge -> hub: a thread reads ``GET /api/stream`` (one JSON message per line) and says
    each message in main chat as ``[Bridge]``: ``[irc] <alice> hi`` (``bridge_to_hub_format``),
    calling ``vh.strict.mc`` straight from that thread (vh-runner runs it at the hub's next entry
    into the shim; the in-process original needed a queue drained by ``OnTimer``). Each call
    waits for its entry, so on an idle hub a burst arrives at about one line per timer tick
    (1 s); Matterbridge buffers meanwhile;
  * reconnects when the stream breaks or cannot be opened: at once after a working
    connection drops, then after ``retry_interval`` seconds, doubling up to ``max_backoff``;
    it gives up after ``max_retries`` failed attempts in a row (0 = never). The stream is
    quiet while chat is; TCP keepalive finds a dead peer within about 90 s;
  * ``!bridge start|stop|status|config [url]|token <t>|gateway <g>|channel <c>|help`` for
    operators (class >= 3), in main chat or PM, answered the same way.

As in the original, messages are relayed only while the stream is connected, Matterbridge
messages from API accounts (``api.*``, that is ourselves) are not echoed back, nor are
``api_connected`` events and empty texts. The bridge runs after ``!bridge start`` or, with
``MATTERBRIDGE_AUTOSTART=1``, from load. A changed URL, token or gateway applies at the next
connection.

Text: hub chat arrives NMDC-escaped (``&#124;``) and is unescaped (``vh.decode``) before
posting; undecodable hub bytes become U+FFFD in the JSON. Text from Matterbridge is escaped
(``vh.encode``) for the hub, and characters the hub encoding lacks become ``?``.

Configuration: ``CONFIG`` below. The worker's environment (vh-runner's own, or ``env`` of
the script's ``[[script]]`` entry in runner.toml) overrides each key as
``MATTERBRIDGE_<KEY>``: ``MATTERBRIDGE_API_URL``, ``MATTERBRIDGE_API_TOKEN``,
``MATTERBRIDGE_RETRY_INTERVAL``, ...; lists are comma-separated.

Matterbridge side (``matterbridge.toml``)::

  [api.verlihub]
  BindAddress="127.0.0.1:4242"
  Buffer=1000
  RemoteNickFormat="{NICK}"
  # Token="secret"          -> !bridge token secret

  [[gateway]]
  name="verlihub"
  enable=true
  [[gateway.inout]]
  account="api.verlihub"
  channel="api"
  [[gateway.inout]]
  account="irc.libera"
  channel="#mychannel"

How to run it: ``!pyload /path/to/examples/matterbridge.py``, then ``!bridge start``. It
needs only the standard library. ``examples/fake_matterbridge.py`` is a stand-in server for
trying it without Matterbridge.

Sandboxed (runner.toml ``sandbox = true``, docs/admin.md "Sandbox") it keeps the network (it
calls the API over TCP) and, for an API reached by host name or over https, needs
``sandbox_read = ["/etc/ssl", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf"]``
(packaging/runner.toml). ``make demo`` runs it sandboxed against ``127.0.0.1``.
"""

import codecs
import http.client
import json
import os
import queue
import re
import socket
import threading
import urllib.parse
from typing import Any, Optional

import vh

VERSION = "2.0.0"

#: Settings (the original's names); ``MATTERBRIDGE_<KEY>`` in the environment overrides each
#: (see the module doc).
CONFIG = {
    "api_url": "http://127.0.0.1:4242",  # Matterbridge API (BindAddress of [api.*])
    "api_token": "",  # Token of [api.*], sent as "Authorization: Bearer ..."
    "gateway": "verlihub",  # [[gateway]] name
    "channel": "#sublevels",  # shown by !bridge status only: the API's channel is "api"
    "bot_nick": "[Bridge]",  # who says bridged messages in main chat
    # {nick} {message} {hub} {class} (class name) {user_class} (number)
    "hub_to_bridge_format": "<{nick}> {message}",
    # {username} {text} {protocol} {channel} {gateway} {account}
    "bridge_to_hub_format": "[{protocol}] <{username}> {text}",
    "retry_interval": 5.0,  # seconds before the first retry; doubles per failure
    "max_backoff": 60.0,  # longest wait between two attempts, seconds
    "max_retries": 10,  # failed attempts in a row before giving up; 0 = never
    "ignore_nicks": [],  # hub nicks whose chat is not relayed
    "min_class_to_send": 0,  # lowest user class whose chat is relayed
    "min_class_to_control": 3,  # lowest user class allowed to use !bridge
    "autostart": False,  # start at load instead of waiting for !bridge start
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
CONNECT_TIMEOUT_S = 10.0
POST_TIMEOUT_S = 5.0
#: Messages waiting for the sender thread; beyond this the oldest is dropped.
OUTBOX_SIZE = 1000
#: Longest stream line accepted (one JSON message).
MAX_LINE = 1 << 20


def load_env(config: dict, prefix: str) -> None:
    """Overrides ``config`` from ``<prefix><KEY>`` variables, keeping each value's type."""
    for key, default in config.items():
        raw = os.environ.get(prefix + key.upper())
        if raw is None:
            continue
        try:
            if isinstance(default, bool):
                config[key] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, (int, float)):
                config[key] = type(default)(raw)
            elif isinstance(default, list):
                config[key] = [x for x in re.split(r"[,\s]+", raw) if x]
            else:
                config[key] = raw
        except ValueError:
            print(f"matterbridge: ignoring {prefix}{key.upper()}={raw!r}", flush=True)


load_env(CONFIG, "MATTERBRIDGE_")


def backoff_delay(failures: int, first: float, cap: float) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row: ``first``, doubling,
    at most ``cap``."""
    return min(first * 2 ** min(max(failures - 1, 0), 30), cap)


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, **fields: Any) -> str:
    """``template`` with ``{name}`` fields filled; unknown names stay as written."""
    try:
        return template.format_map(_Missing(fields))
    except (ValueError, IndexError):
        return template


_SURROGATES = re.compile("[\ud800-\udfff]")


def json_text(s: str) -> str:
    """``s`` with every undecodable hub byte (a lone surrogate) replaced by U+FFFD."""
    return s if s.isascii() else _SURROGATES.sub("\ufffd", s)


class Bridge:
    """One bridge run: the stream thread, the sender thread and their shared state."""

    def __init__(self, hub_encoding: str) -> None:
        self.hub_encoding = hub_encoding
        self.stop_event = threading.Event()
        self.connected = False
        self.last_error = ""
        self.outbox: queue.Queue[dict] = queue.Queue(OUTBOX_SIZE)
        self._conn: Optional[http.client.HTTPConnection] = None
        self.stream_thread = threading.Thread(
            target=self._stream_loop, name="bridge-stream", daemon=True
        )
        self.send_thread = threading.Thread(target=self._send_loop, name="bridge-send", daemon=True)
        self.stream_thread.start()
        self.send_thread.start()

    # -- HTTP -------------------------------------------------------------------------

    @staticmethod
    def _connect(timeout: float) -> tuple:
        """A connection to the configured API and its base path."""
        url = urllib.parse.urlsplit(CONFIG["api_url"])
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {CONFIG['api_url']!r}")
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        return kind(url.hostname, url.port, timeout=timeout), url.path.rstrip("/")

    @staticmethod
    def _headers() -> dict:
        headers = {"Accept": "application/json"}
        if CONFIG["api_token"]:
            headers["Authorization"] = "Bearer " + CONFIG["api_token"]
        return headers

    def post(self, message: dict) -> None:
        conn, base = self._connect(POST_TIMEOUT_S)
        try:
            body = json.dumps(message, ensure_ascii=False).encode("utf-8")
            headers = dict(self._headers(), **{"Content-Type": "application/json"})
            conn.request("POST", base + "/api/message", body=body, headers=headers)
            resp = conn.getresponse()
            detail = resp.read(500)
            if resp.status != 200:
                raise OSError(f"HTTP {resp.status} {resp.reason}: {detail!r}")
        finally:
            conn.close()

    # -- hub -> bridge -----------------------------------------------------------------

    def relay(self, message: dict) -> None:
        """Queues ``message`` for the sender thread; never blocks the hook."""
        while True:
            try:
                self.outbox.put_nowait(message)
                return
            except queue.Full:
                try:
                    self.outbox.get_nowait()
                    print("matterbridge: outbox full, dropped the oldest message", flush=True)
                except queue.Empty:
                    pass

    def _send_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                message = self.outbox.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self.post(message)
            except Exception as e:  # refused, timed out, HTTP error: drop it, as the original
                print(f"matterbridge: message not delivered: {e!r}", flush=True)

    # -- bridge -> hub -----------------------------------------------------------------

    def say(self, text: str) -> None:
        """Main chat as the bridge bot: NMDC-escaped, fitted to the hub encoding."""
        fitted = text.encode(self.hub_encoding, "replace").decode(self.hub_encoding)
        # vh.strict: the same mc(text, from_nick) under both plugin
        # generations' semantics (B's classic vh.mc takes no nick).
        try:
            vh.strict.mc(vh.encode(fitted), CONFIG["bot_nick"])
        except vh.VhError as e:
            print(f"matterbridge: not said in main chat: {e}", flush=True)

    def _open_stream(self) -> Any:
        conn, base = self._connect(CONNECT_TIMEOUT_S)
        self._conn = conn
        conn.request("GET", base + "/api/stream", headers=self._headers())
        resp = conn.getresponse()
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status} {resp.reason}")
        sock = conn.sock
        # Matterbridge sends nothing while chat is quiet: wait without a timeout and let
        # TCP keepalive notice a dead peer.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        return resp

    def _read_stream(self, resp: Any) -> None:
        while not self.stop_event.is_set():
            line = resp.readline(MAX_LINE)
            if not line:
                raise OSError("the stream ended")
            if line.strip():
                self._deliver(line)

    def _deliver(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError as e:
            print(f"matterbridge: bad stream line ({e}): {line[:200]!r}", flush=True)
            return
        if not isinstance(msg, dict) or msg.get("event") == "api_connected":
            return
        account = str(msg.get("account") or "")
        text = str(msg.get("text") or "")
        if account.split(".", 1)[0] == "api" or not text.strip():
            return  # from an API account (our own side), or nothing to say
        fields = {k: str(msg.get(k) or "") for k in ("username", "protocol", "channel")}
        fields.update(gateway=str(msg.get("gateway") or ""), account=account, text=text)
        try:
            self.say(fill(CONFIG["bridge_to_hub_format"], **fields))
        except Exception as e:  # a hub-side failure must not look like a broken stream
            print(f"matterbridge: message not said in the hub: {e!r}", flush=True)

    def _stream_loop(self) -> None:
        failures = 0
        gave_up = False
        while not self.stop_event.is_set():
            try:
                resp = self._open_stream()
            except Exception as e:  # refused, timed out, HTTP error, bad URL...
                self._close()
                failures += 1
                self.last_error = str(e) or type(e).__name__
                if CONFIG["max_retries"] and failures >= CONFIG["max_retries"]:
                    print(f"matterbridge: giving up after {failures} attempts", flush=True)
                    self._announce(f"Bridge disconnected (gave up after {failures} attempts)")
                    gave_up = True
                    self.stop_event.set()
                    break
                delay = backoff_delay(failures, CONFIG["retry_interval"], CONFIG["max_backoff"])
                print(f"matterbridge: {self.last_error}; retrying in {delay:g} s", flush=True)
                self.stop_event.wait(delay)
                continue
            if self.stop_event.is_set():
                self._close()
                break
            failures = 0
            self.connected = True
            self.last_error = ""
            print(f"matterbridge: connected to {CONFIG['api_url']}", flush=True)
            self._announce("Bridge connection established")
            try:
                self._read_stream(resp)
            except Exception as e:  # reset, ended, or a broken chunk
                self.last_error = str(e) or type(e).__name__
            finally:
                self.connected = False
                self._close()
            if not self.stop_event.is_set():
                print(f"matterbridge: connection lost ({self.last_error})", flush=True)
                self._announce("Bridge connection lost; reconnecting")
        if not gave_up:
            self._announce("Bridge disconnected")

    def _announce(self, text: str) -> None:
        try:
            self.say(text)
        except Exception as e:  # the hub link may be gone at unload
            print(f"matterbridge: could not tell the hub {text!r}: {e!r}", flush=True)

    def _close(self) -> None:
        """Closes the stream connection (stream thread only: http.client is not
        thread-safe)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def running(self) -> bool:
        return not self.stop_event.is_set() and self.stream_thread.is_alive()

    def stop(self) -> None:
        """Ends both threads without waiting for them (a hook must return fast)."""
        self.stop_event.set()
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the stream thread's readline
            except OSError:
                pass


bridge: Optional[Bridge] = None


def hub_encoding() -> str:
    """The hub's encoding as a Python codec name: the one the worker decodes
    hub strings with (``vh.hub_encoding``)."""
    name = getattr(vh, "hub_encoding", "") or "cp1252"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "cp1252"


def start() -> str:
    global bridge
    if bridge and bridge.running():
        return "Bridge is already running"
    bridge = Bridge(hub_encoding())
    return f"Bridge starting: {CONFIG['api_url']}, gateway {CONFIG['gateway']}"


def status_lines() -> list:
    if not (bridge and bridge.running()):
        lines = ["Bridge is STOPPED"]
    else:
        lines = ["Bridge is " + ("CONNECTED" if bridge.connected else "CONNECTING")]
    lines.append(f"API: {CONFIG['api_url']} (token {'set' if CONFIG['api_token'] else 'not set'})")
    lines.append(f"Gateway: {CONFIG['gateway']}, channel: {CONFIG['channel']}")
    if bridge and bridge.last_error and not bridge.connected:
        lines.append(f"Last error: {bridge.last_error}")
    return lines


HELP = """Matterbridge bridge commands:
  !bridge start            connect to Matterbridge
  !bridge stop             disconnect
  !bridge status           connection state and settings
  !bridge config [url]     show the settings, or set the API URL
  !bridge token <token>    set the API token
  !bridge gateway <name>   set the gateway name
  !bridge channel <name>   set the channel name shown in status
  !bridge help             this text
URL, token and gateway changes apply at the next connection."""


def run_command(words: list) -> list:
    """``!bridge <sub> ...``: the lines to answer."""
    sub = words[1].lower() if len(words) > 1 else "help"
    arg = words[2] if len(words) > 2 else None
    if sub == "start":
        return [start()]
    if sub == "stop":
        if bridge and bridge.running():
            bridge.stop()
            return ["Bridge stopped"]
        return ["Bridge is not running"]
    if sub == "status":
        return status_lines()
    if sub == "config":
        if arg is None:
            return status_lines()[1:]
        url = urllib.parse.urlsplit(arg)
        if url.scheme not in ("http", "https") or not url.hostname:
            return [f"Not an http(s) URL: {arg}"]
        CONFIG["api_url"] = arg.rstrip("/")
        return [f"API URL set to {CONFIG['api_url']}"]
    if sub in ("token", "gateway", "channel"):
        if arg is None:
            return [f"Usage: !bridge {sub} <value>"]
        CONFIG["api_token" if sub == "token" else sub] = arg
        return ["API token set" if sub == "token" else f"{sub.capitalize()} set to {arg}"]
    if sub == "help":
        return [HELP]
    return [f"Unknown subcommand {sub!r}; try !bridge help"]


# -- hooks -----------------------------------------------------------------------------


def OnParsedMsgChat(nick, message):
    if not (bridge and bridge.connected) or nick in CONFIG["ignore_nicks"]:
        return 1
    template = CONFIG["hub_to_bridge_format"]
    fields = {"nick": nick, "message": vh.decode(message)}
    # vh calls in a hook are quick (the hub is waiting), but make only the needed ones.
    if CONFIG["min_class_to_send"] > 0 or "class}" in template:
        uclass = vh.GetUserClass(nick) or 0
        if uclass < CONFIG["min_class_to_send"]:
            return 1
        fields.update(user_class=uclass, **{"class": CLASS_NAMES.get(uclass, "Class%d" % uclass)})
    if "{hub}" in template:
        fields["hub"] = vh.GetConfig(vh.config_name or "config", "hub_name") or "Verlihub"
    text = fill(template, **fields)
    bridge.relay(
        {"text": json_text(text), "username": json_text(nick), "gateway": CONFIG["gateway"]}
    )
    return 1


def OnHubCommand(nick, command, user_class, in_pm, prefix):
    words = command.split()
    if not words or words[0] != "bridge":
        return 1
    if user_class < CONFIG["min_class_to_control"]:
        lines = [f"{prefix}bridge: permission denied (class {CONFIG['min_class_to_control']}+)"]
    else:
        lines = run_command(words)
    for line in lines:
        if in_pm:
            vh.pm(line, nick)
        else:
            vh.usermc(line, nick)
    return 0


def UnLoad():
    if bridge:
        bridge.stop()
        bridge.stream_thread.join(timeout=1.0)
        bridge.send_thread.join(timeout=1.0)


if CONFIG["autostart"]:
    print("matterbridge: " + start(), flush=True)
