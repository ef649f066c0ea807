"""Chat bridge over TCP, written with asyncio: ``async def`` hooks, awaitable
``vh.aio`` calls, and a server on the worker's event loop, without a thread
of the script's own.

What it does:
  * listens on 127.0.0.1, port ``VH_BRIDGE_PORT`` (default 0: a free port,
    printed at load and kept in ``port``);
  * every line a TCP client sends appears in main chat as
    ``[bridge] <line>`` (``await vh.aio.mc``; the hub runs it at its next
    entry, at most one timer period later);
  * every main-chat message is copied to the connected clients as
    ``<nick> message``;
  * ``!bridge`` in main chat tells the sender alone how many clients and
    users there are, and is hidden from everyone else (the hook returns 0).

Load it under vh-runner with ``!pyload /path/to/aio_example.py`` and try
``nc 127.0.0.1 <port>``; it is tested with ``vh.testing`` in
py-sdk/tests/test_examples.py. It needs vh-runner's ``vh`` package (the
in-process plugin has no ``vh.aio``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Optional

import vh
import vh.aio

HOST = "127.0.0.1"
clients: set[asyncio.StreamWriter] = set()
server: Optional[asyncio.Server] = None


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One TCP client: its lines go to main chat until it disconnects."""
    clients.add(writer)
    try:
        while line := await reader.readline():
            text = line.decode("utf-8", "replace").strip()
            if text:
                await vh.aio.mc("[bridge] %s" % text)
    except vh.VhError as e:
        print("bridge: %s" % e)
    finally:
        clients.discard(writer)
        writer.close()


async def start() -> int:
    """Starts the server on the worker's loop; returns its port."""
    global server
    server = await asyncio.start_server(relay, HOST, int(os.environ.get("VH_BRIDGE_PORT", "0")))
    return int(server.sockets[0].getsockname()[1])


# Top-level code runs at load, on the worker's main thread: wait until the
# server listens (on the loop's thread) so that a failure fails the load.
port = vh.aio.run_in_background(start()).result(timeout=5)
print("bridge: listening on %s:%d" % (HOST, port))


async def OnParsedMsgChat(nick: str, message: str) -> int:
    if message.strip() == "!bridge":
        users = await vh.aio.GetUsersCount()
        await vh.aio.usermc("bridge: %d clients, %d users" % (len(clients), users), nick)
        return 0
    line = ("<%s> %s\n" % (nick, message)).encode("utf-8", "replace")
    for writer in list(clients):
        writer.write(line)
    return 1


async def UnLoad() -> None:
    """Stops listening and disconnects the clients (the worker then cancels
    whatever still runs on the loop)."""
    if server is not None:
        server.close()
        for writer in list(clients):
            writer.close()
        await server.wait_closed()
