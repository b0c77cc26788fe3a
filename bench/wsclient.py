"""A lean Socket.IO v5 / Engine.IO v4 client over a raw websocket (asyncio, standard library only).

Why not python-socketio: one of its clients costs a thread or two and a lot of Python per message;
past about a thousand of them in one process the load generator, not the server, is what gets
measured. This client speaks just what a phone needs:

- websocket handshake on `/socket.io/?EIO=4&transport=websocket` (no polling, no upgrade);
- Engine.IO: open packet `0{...}`, ping `2` answered by pong `3`, message `4...`;
- Socket.IO on the default namespace: connect `40`, events `42[...]`, emits with an ack id
  `42<id>["event",{...}]` and their acks `43<id>[{...}]`.

Broadcasts are not JSON-decoded unless a handler asks for them (a phone only counts them, which
keeps the generator's cost per delivered message at a few microseconds).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from collections.abc import Callable


class SocketIOError(Exception):
    pass


class Conn:
    """One client connection. `raw_handlers[event](data: bytes, t: float)` sees broadcasts."""

    # Offer permessage-deflate as browsers do (EDP_BENCH_DEFLATE=0 turns it off): a server that
    # accepts then compresses every message it sends, which costs it CPU per phone.
    DEFLATE = os.environ.get("EDP_BENCH_DEFLATE", "1") != "0"

    def __init__(self) -> None:
        self.inflater = None  # set when the server accepted permessage-deflate
        self._compressed = False
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.acks: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.counts: Counter = Counter()
        self.bytes: Counter = Counter()
        self.raw_handlers: dict[str, Callable[[bytes, float], None]] = {}
        self.closed = asyncio.Event()
        self.closing = False
        self._connected: asyncio.Future | None = None
        self._task: asyncio.Task | None = None
        self._frag_op = 1

    # ------------------------------------------------------------------ connection

    async def open(self, host: str, port: int, cookie: str | None = None,
                   timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        self._connected = loop.create_future()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=2**22), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        if self.DEFLATE:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except Exception:
            writer.close()
            raise
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise SocketIOError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        if b"permessage-deflate" in head.lower():
            import zlib

            # The server keeps its compression context between messages unless it said
            # server_no_context_takeover: one decompressor for the connection does both.
            self.inflater = zlib.decompressobj(-15)
        self.reader, self.writer = reader, writer
        self._task = asyncio.ensure_future(self._read_loop())
        try:
            await asyncio.wait_for(asyncio.shield(self._connected), timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is None or self.closing:
            return
        self.closing = True
        try:
            self._send_frame(8, b"\x03\xe8")
            self.writer.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ sending

    def _send_frame(self, op: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | op, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
        key = os.urandom(4)
        if n:
            mask = (key * (n // 4 + 1))[:n]
            masked = int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")
            payload = masked.to_bytes(n, "big")
        self.writer.write(head + key + payload)

    def send_text(self, text: str | bytes) -> None:
        if isinstance(text, str):
            text = text.encode()
        self._send_frame(1, text)

    async def call(self, event: str, data, timeout: float = 30.0):
        """Emit with an ack; returns (ack_payload, t_sent, t_acked) in time.monotonic()."""
        if self.closed.is_set():
            raise ConnectionError("closed")
        self.next_id += 1
        aid = self.next_id
        fut = asyncio.get_running_loop().create_future()
        self.acks[aid] = fut
        t0 = time.monotonic()
        self.send_text(f"42{aid}" + json.dumps([event, data], separators=(",", ":")))
        try:
            await self.writer.drain()
            ack, t1 = await asyncio.wait_for(fut, timeout)
        finally:
            self.acks.pop(aid, None)
        return ack, t0, t1

    # ------------------------------------------------------------------ receiving

    async def _read_loop(self) -> None:
        r = self.reader
        frags: list[bytes] = []
        try:
            while True:
                h = await r.readexactly(2)
                b0, b1 = h[0], h[1]
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(await r.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await r.readexactly(8), "big")
                mask = await r.readexactly(4) if b1 & 0x80 else None
                data = await r.readexactly(n) if n else b""
                if mask:
                    m = (mask * (n // 4 + 1))[:n]
                    unmasked = int.from_bytes(data, "big") ^ int.from_bytes(m, "big")
                    data = unmasked.to_bytes(n, "big")
                op, fin = b0 & 0x0F, b0 & 0x80
                if op in (1, 2):
                    self._compressed = bool(b0 & 0x40)  # RSV1 on the first frame
                    if not fin:
                        frags, self._frag_op = [data], op
                        continue
                elif op == 0:
                    frags.append(data)
                    if not fin:
                        continue
                    data, frags = b"".join(frags), []
                elif op == 8:
                    break
                elif op == 9:
                    self._send_frame(10, data)
                    continue
                else:
                    continue
                if self._compressed and self.inflater is not None:
                    data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
                self._on_message(data, time.monotonic())
        except (asyncio.IncompleteReadError, ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            err = ConnectionError("connection closed")
            for fut in self.acks.values():
                if not fut.done():
                    fut.set_exception(err)
            if self._connected is not None and not self._connected.done():
                self._connected.set_exception(err)
            try:
                self.writer.close()
            except Exception:
                pass

    def _on_message(self, data: bytes, t: float) -> None:
        c = data[:1]
        if c == b"4":
            k = data[1:2]
            if k == b"2":
                # 42["name",...]: the server sends no ack ids on broadcasts
                end = data.find(b'"', 4)
                name = data[4:end].decode()
                self.counts[name] += 1
                self.bytes[name] += len(data)
                handler = self.raw_handlers.get(name)
                if handler is not None:
                    handler(data, t)
            elif k == b"3":
                i = data.find(b"[", 2)
                fut = self.acks.get(int(data[2:i]))
                if fut is not None and not fut.done():
                    fut.set_result((json.loads(data[i:])[0], t))
            elif k == b"0":
                if self._connected is not None and not self._connected.done():
                    self._connected.set_result(True)
            elif k == b"4":
                if self._connected is not None and not self._connected.done():
                    self._connected.set_exception(SocketIOError(data[2:].decode(errors="replace")))
            elif k == b"1":
                self.close()
        elif c == b"2":
            self.send_text(b"3" + data[1:])  # pong
        elif c == b"0":
            self.send_text(b"40")  # Engine.IO open: connect the default namespace
        elif c == b"1":
            self.close()
