"""A small NMDC client on asyncio for tests against a real hub.

It logs in as Verlihub expects ($Lock/$Key, $ValidateNick, $MyPass for
registered nicks, $Version/$GetNickList/$MyINFO), sends chat, private
messages, searches and raw commands, and keeps every message it receives,
in order, as bytes (the hub's encoding, never decoded on the way in).
"""

from __future__ import annotations

import asyncio
import time


def lock2key(lock: bytes) -> bytes:
    """The NMDC $Key answer to a $Lock."""
    n = len(lock)
    key = bytearray(n)
    for i in range(1, n):
        key[i] = lock[i] ^ lock[i - 1]
    key[0] = lock[0] ^ lock[-1] ^ lock[-2] ^ 5
    out = bytearray()
    for b in key:
        b = ((b << 4) | (b >> 4)) & 0xFF
        if b in (0, 5, 36, 96, 124, 126):
            out += b"/%%DCN%03d%%/" % b
        else:
            out.append(b)
    return bytes(out)


class LoginFailed(Exception):
    pass


class Client:
    """One NMDC connection. `received` is every message (without the
    trailing `|`) in arrival order."""

    def __init__(self, nick: bytes, password: bytes | None = None, log=None):
        self.nick = nick
        self.password = password
        self.received: list[bytes] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buf = b""
        self._cond = asyncio.Condition()
        self._pump: asyncio.Task | None = None
        self.closed = False
        # set when the hub is about to close this connection (a kick)
        self.expect_close = False
        self._log = log  # a file object or None: "<nick> < msg" lines

    async def connect(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout
        )
        self._pump = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self):
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                self._buf += data
                *msgs, self._buf = self._buf.split(b"|")
                async with self._cond:
                    for m in msgs:
                        self.received.append(m)
                        if self._log is not None:
                            self._log.write("%s < %r\n" % (self.nick.decode("latin-1"), m))
                    self._cond.notify_all()
        except (ConnectionError, OSError):
            pass
        finally:
            async with self._cond:
                self.closed = True
                self._cond.notify_all()

    def send(self, raw: bytes) -> None:
        """Sends raw bytes (the caller adds the `|`)."""
        assert self._writer is not None
        if self._log is not None:
            self._log.write("%s > %r\n" % (self.nick.decode("latin-1"), raw))
        self._writer.write(raw)

    async def wait_for(self, pred, timeout: float = 10.0, start: int = 0) -> int:
        """Waits until a message at index >= start satisfies pred; returns
        its index. Raises TimeoutError with the messages seen so far."""
        deadline = time.monotonic() + timeout
        async with self._cond:
            i = start
            while True:
                while i < len(self.received):
                    if pred(self.received[i]):
                        return i
                    i += 1
                if self.closed:
                    raise ConnectionError(
                        "%r: connection closed while waiting; got %r"
                        % (self.nick, self.received[start:])
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        "%r: nothing matched in %.1f s; got %r"
                        % (self.nick, timeout, self.received[start:])
                    )
                try:
                    await asyncio.wait_for(self._cond.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def login(
        self, port: int, desc: bytes = b"test client", share: int = 0, timeout: float = 15.0
    ) -> None:
        await self.connect(port)
        i = await self.wait_for(lambda m: m.startswith(b"$Lock "), timeout)
        lock = self.received[i][6:].split(b" Pk=")[0]
        self.send(
            b"$Supports NoGetINFO NoHello UserIP2|$Key "
            + lock2key(lock)
            + b"|$ValidateNick "
            + self.nick
            + b"|"
        )
        while True:
            j = await self.wait_for(
                lambda m: m.startswith((b"$GetPass", b"$Hello ", b"$ValidateDenide", b"$BadPass")),
                timeout,
                i + 1,
            )
            m = self.received[j]
            if m.startswith(b"$GetPass"):
                if self.password is None:
                    raise LoginFailed("%r: hub asks for a password" % self.nick)
                self.send(b"$MyPass " + self.password + b"|")
                i = j
                continue
            if m == b"$Hello " + self.nick:
                break
            if m.startswith(b"$Hello "):
                i = j
                continue
            raise LoginFailed("%r: %r; got %r" % (self.nick, m, self.received))
        self.send(b"$Version 1,0091|$GetNickList|" + self.myinfo(desc, share))
        # the hub answers the nick list after MyINFO: our own MyINFO back
        await self.wait_for(lambda m: m.startswith(b"$MyINFO $ALL " + self.nick + b" "), timeout, j)

    def myinfo(self, desc: bytes, share: int = 0) -> bytes:
        return (
            b"$MyINFO $ALL "
            + self.nick
            + b" "
            + desc
            + b"<++ V:0.868,M:A,H:1/0/0,S:3>$ $100\x01$"
            + b"mail@example.org$"
            + str(share).encode()
            + b"$|"
        )

    def chat(self, text: bytes) -> None:
        self.send(b"<" + self.nick + b"> " + text + b"|")

    def pm(self, to: bytes, text: bytes) -> None:
        self.send(b"$To: " + to + b" From: " + self.nick + b" $<" + self.nick + b"> " + text + b"|")

    def search(self, pattern: bytes) -> None:
        self.send(b"$Search Hub:" + self.nick + b" F?T?0?1?" + pattern + b"|")

    async def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
                await asyncio.wait_for(self._writer.wait_closed(), 5)
            except (ConnectionError, OSError, asyncio.TimeoutError):
                pass
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except (asyncio.CancelledError, Exception):
                pass
