"""A stand-in for Matterbridge's API, for trying and testing ``matterbridge.py``.

It listens on 127.0.0.1 only and speaks the part of Matterbridge's API the bridge uses:

  ``GET /api/stream``    a chunked stream of JSON messages, one per line, starting with an
                         ``{"event": "api_connected"}`` greeting, as Matterbridge sends
  ``POST /api/message``  a JSON message from the hub; recorded, and echoed back

Both need ``Authorization: Bearer <token>`` when ``--token`` is given (401 otherwise).
Test controls, not part of Matterbridge:

  ``POST /_fake/push``      a JSON message for the stream; it goes to every connected
                            stream, or waits for the next one (like Matterbridge's buffer)
  ``GET /_fake/messages``   every recorded message, one canonical JSON object per line
                            (sorted keys, no spaces, UTF-8)
  ``GET /_fake/state``      ``streams <n>``, ``rejected <n>`` and ``messages <n>`` lines

When ready it prints ``fake-matterbridge listening on 127.0.0.1:<port>``. How to run it::

  python examples/fake_matterbridge.py --port 4242 --token secret
  curl -N -H 'Authorization: Bearer secret' http://127.0.0.1:4242/api/stream
  curl -d '{"text": "hi", "username": "alice", "protocol": "irc"}' \\
      http://127.0.0.1:4242/_fake/push
"""

import argparse
import json
import queue
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GREETING = {"event": "api_connected", "text": "", "username": "", "gateway": ""}


class FakeMatterbridge(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, token: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.token = token
        self.lock = threading.Lock()
        self.streams: list = []  # one queue per connected stream
        self.backlog: list = []  # pushed while no stream was connected
        self.messages: list = []  # POSTed to /api/message
        self.rejected = 0

    def push(self, message: dict) -> int:
        with self.lock:
            for q in self.streams:
                q.put(message)
            if not self.streams:
                self.backlog.append(message)
            return len(self.streams)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeMatterbridge

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; tests read the control endpoints instead

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if not self.server.token or self.headers.get("Authorization") == (
            "Bearer " + self.server.token
        ):
            return True
        with self.server.lock:
            self.server.rejected += 1
        self._send(401, b'{"message":"Unauthorized"}')
        return False

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        if self.path == "/api/stream":
            if self._authorized():
                self._stream()
        elif self.path == "/_fake/messages":
            with self.server.lock:
                lines = "".join(canonical(m) + "\n" for m in self.server.messages)
            self._send(200, lines.encode("utf-8"), "text/plain; charset=utf-8")
        elif self.path == "/_fake/state":
            with self.server.lock:
                state = "streams %d\nrejected %d\nmessages %d\n" % (
                    len(self.server.streams),
                    self.server.rejected,
                    len(self.server.messages),
                )
            self._send(200, state.encode(), "text/plain")
        else:
            self._send(404, b'{"message":"Not Found"}')

    def do_POST(self) -> None:
        if self.path == "/api/message":
            if not self._authorized():
                return
            try:
                message = self._body()
                if not isinstance(message, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self._send(400, canonical({"message": str(e)}).encode())
                return
            with self.server.lock:
                self.server.messages.append(message)
            reply = dict(message, channel="api", protocol="api", account="api.fake")
            self._send(200, canonical(reply).encode("utf-8"))
        elif self.path == "/_fake/push":
            try:
                message = self._body()
                if not isinstance(message, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self._send(400, canonical({"message": str(e)}).encode())
                return
            message.setdefault("timestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self._send(200, b'{"streams":%d}' % self.server.push(message))
        else:
            self._send(404, b'{"message":"Not Found"}')

    def _chunk(self, message: dict) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        mine: queue.Queue = queue.Queue()
        with self.server.lock:
            for message in self.server.backlog:
                mine.put(message)
            self.server.backlog.clear()
            self.server.streams.append(mine)
        try:
            self._chunk(GREETING)
            while not self._client_gone():
                try:
                    self._chunk(mine.get(timeout=0.05))
                except queue.Empty:
                    continue
        except OSError:
            pass
        finally:
            with self.server.lock:
                self.server.streams.remove(mine)
            self.close_connection = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=4242, help="0 picks a free port")
    parser.add_argument("--token", default="", help="required bearer token (default: none)")
    args = parser.parse_args()
    server = FakeMatterbridge(args.port, args.token)
    print("fake-matterbridge listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
