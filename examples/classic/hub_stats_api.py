"""Hub statistics over HTTP, with the cache pattern of python_pi scripts.

What it does:
  * a background thread serves JSON at ``http://127.0.0.1:<port>/stats``
    (``HUB_STATS_PORT``, default 8089): hub name, topic, users online, their
    nicks, the operators and the total share, and when they were read;
  * the thread reads only a cache. ``OnTimer`` refreshes the cache from the
    hub (``vh.GetConfig``, ``vh.Topic``, ``vh.GetUsersCount``,
    ``vh.GetNickList``, ``vh.GetOpList``, ``vh.GetTotalShareSize``) at
    most every ``REFRESH`` seconds, on the hub's thread;
  * ``UnLoad`` stops the server.

This is the queue/cache pattern the plugin's documentation asks for,
because in python_pi a ``vh.*`` call from another thread is unsafe. Under
vh-runner such calls are safe (they wait for the hub's next turn), but the
script keeps the classic pattern so that it runs unchanged in either. Load
it with ``!pyload /path/to/hub_stats_api.py``.
"""

import json
import os
import threading
import time

try:  # Python 3
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # Python 2, as python_pi 1.6 ran it
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer

import vh

PORT = int(os.environ.get("HUB_STATS_PORT", "8089"))
REFRESH = 5.0

cache = {"updated": 0}
cache_lock = threading.Lock()
last_refresh = 0.0


def refresh(now):
    """Reads the hub into the cache (hub thread only)."""
    global last_refresh
    stats = {
        "hub": vh.GetConfig("config", "hub_name") or "",
        "topic": vh.Topic() or "",
        "users": vh.GetUsersCount() or 0,
        "nicks": vh.GetNickList() or [],
        "ops": vh.GetOpList() or [],
        "share": int(vh.GetTotalShareSize() or 0),
        "updated": now,
    }
    with cache_lock:
        cache.clear()
        cache.update(stats)
    last_refresh = now


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/stats":
            self.send_error(404)
            return
        with cache_lock:
            body = json.dumps(cache, sort_keys=True).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the hub's output quiet


server = HTTPServer(("127.0.0.1", PORT), Handler)
thread = threading.Thread(target=server.serve_forever, name="hub-stats-api")
thread.daemon = True
thread.start()
refresh(time.time())
print("hub_stats_api: serving http://127.0.0.1:%d/stats" % server.server_address[1])


def OnTimer(now=0):
    if now - last_refresh >= REFRESH:
        refresh(now)
    return 1


def UnLoad():
    server.shutdown()
    server.server_close()
