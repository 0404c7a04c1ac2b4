"""One established replication connection: packets over a non-blocking TCP socket driven
by the event loop's reader/writer callbacks (no asyncio streams, so payloads are not
copied): received bytes land with recv_into in one reused buffer and handlers get a
memoryview of each payload; outgoing packets are queued as buffer views and leave with
sendmsg, several per system call."""
from __future__ import annotations

import asyncio
import collections
import mmap
import socket
import time

from . import wire
from .wire import HEADER, WireError

RECV_BUFFER = 4 << 20
SOCKET_BUFFER = 4 << 20
IOV_MAX = 512
READS_PER_WAKEUP = 8


def receive_buffer(size: int) -> mmap.mmap:
    """An anonymous mapping, not a bytearray: bytearray(n) zero-fills and so makes all
    n bytes resident at once, 4 MiB per connection even when only acks ever arrive;
    a mapping's pages become resident only as data is received into them."""
    return mmap.mmap(-1, size)


def tune_socket(sock: socket.socket) -> None:
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for force, plain in ((getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF),
                         (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force or plain, SOCKET_BUFFER)
        except (OSError, TypeError):
            try:
                sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER)
            except OSError:
                pass


class Channel:
    """`on_packet(ptype, volume, payload)` runs for each packet (payload is a view valid
    only during the call), `on_batch()` after each burst of packets, `on_close(reason)`
    once when the connection ends.  Until handlers are installed, packets are queued
    (copied) for recv() — the handshake reads them that way."""

    def __init__(self, sock: socket.socket, peer: str = ""):
        tune_socket(sock)
        self.sock = sock
        self.peer = peer
        self.loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._buf = receive_buffer(RECV_BUFFER)
        self._start = 0
        self._end = 0
        self._out: collections.deque = collections.deque()
        self.out_bytes = 0
        self._writing = False
        self._burst = False
        self._drain_waiters: list[tuple[int, asyncio.Future]] = []
        self.on_packet = None
        self.on_batch = None
        self.on_close = None
        self._queue: asyncio.Queue | None = asyncio.Queue()
        self.closed = False
        self._closing = False
        self.close_reason = ""
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.last_rx = time.monotonic()
        self.loop.add_reader(self._fd, self._on_readable)

    # --- receiving ---------------------------------------------------------------
    def attach(self, on_packet, on_batch=None, on_close=None) -> None:
        """Switch from queued (handshake) mode to dispatching; queued packets first."""
        queued = []
        while self._queue is not None and not self._queue.empty():
            queued.append(self._queue.get_nowait())
        self._queue = None
        self.on_packet, self.on_batch, self.on_close = on_packet, on_batch, on_close
        # packets that arrived before a close are still the peer's last word (a split
        # brain it detected first, say): dispatch them, stop at the close
        for item in queued:
            if item is None:
                break
            try:
                on_packet(*item)
            except WireError as e:
                self.close(f"protocol error: {e}")
                break
        if queued and on_batch and not self.closed:
            on_batch()
        if self.closed and on_close:
            on_close(self.close_reason)

    async def recv(self, timeout: float) -> tuple[int, int, bytes]:
        """Next packet in handshake mode; raises ConnectionError on close or timeout."""
        if self._queue is None:
            raise RuntimeError("channel is dispatching")
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            raise ConnectionError("timeout waiting for the peer") from None
        if item is None:
            raise ConnectionError(self.close_reason or "connection closed")
        return item

    def _on_readable(self) -> None:
        for _ in range(READS_PER_WAKEUP):
            if self.closed:
                return
            if len(self._buf) - self._end < 65536:
                self._make_room(65536)
            room = len(self._buf) - self._end
            try:
                n = self.sock.recv_into(memoryview(self._buf)[self._end:])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.close(f"receive error: {e.strerror}")
                return
            if n == 0:
                self._parse()
                self.close("connection closed by peer")
                return
            self._end += n
            self.rx_bytes += n
            self.last_rx = time.monotonic()
            need = self._parse()
            if need:
                self._make_room(need)
            if n < room:
                break               # drained: no second recv() just to see EAGAIN
        if not self.closed and self.on_batch is not None:
            try:
                self.on_batch()
            except WireError as e:
                self.close(f"protocol error: {e}")

    def trim_receive_buffer(self) -> None:
        """After a burst (a resync), give the receive buffer's pages back: received
        data had made all of it resident, for the rest of the connection's life.
        Only when nothing unparsed is in it; the pages come back as data does."""
        if self.closed or self._start != self._end:
            return
        self._start = self._end = 0
        if len(self._buf) > RECV_BUFFER:
            self._buf = receive_buffer(RECV_BUFFER)
            return
        try:
            self._buf.madvise(mmap.MADV_DONTNEED)
        except (AttributeError, OSError):
            pass                    # not Linux: the pages stay, nothing is lost

    def _make_room(self, need: int) -> None:
        """Move the unparsed tail to the front, growing the buffer if one packet
        needs more than it holds."""
        pending = self._end - self._start
        if self._start == 0 and len(self._buf) - self._end >= need:
            return
        size = max(len(self._buf), need + HEADER.size)
        if size != len(self._buf):
            new = receive_buffer(size)
            new[:pending] = self._buf[self._start:self._end]
            self._buf = new
        else:
            self._buf[:pending] = self._buf[self._start:self._end]
        self._start, self._end = 0, pending

    def _parse(self) -> int:
        """Dispatch every complete packet; returns bytes still needed for the next."""
        view = memoryview(self._buf)
        try:
            while not self.closed:
                avail = self._end - self._start
                if avail < HEADER.size:
                    return 0
                ptype, volume, length = wire.parse_header(self._buf, self._start)
                total = HEADER.size + length
                if avail < total:
                    return total if total > len(self._buf) - self._start else 0
                body = view[self._start + HEADER.size:self._start + total]
                self._start += total
                if self._queue is not None:
                    self._queue.put_nowait((ptype, volume, bytes(body)))
                else:
                    self.on_packet(ptype, volume, body)
            return 0
        except WireError as e:
            self.close(f"protocol error: {e}")
            return 0
        finally:
            view.release()
            if self._start == self._end:
                self._start = self._end = 0

    # --- sending -----------------------------------------------------------------
    def send(self, ptype: int, volume: int, *parts) -> None:
        if self.closed:
            return
        length = sum(len(p) for p in parts)
        self._out.append(wire.header(ptype, volume, length))
        for part in parts:
            if len(part):
                self._out.append(part)
        self.out_bytes += HEADER.size + length
        if self._writing:
            return                  # the writer callback sends when the socket has room
        if not self._burst:
            # the first packet of a loop turn leaves at once (latency); what the same
            # turn adds later leaves together in one sendmsg at its end (throughput)
            self._burst = True
            self.loop.call_soon(self._end_burst)
            self._flush()

    def _end_burst(self) -> None:
        self._burst = False
        if self._out and not self._writing and not self.closed:
            self._flush()

    def send_owning(self, ptype: int, volume: int, head: bytes, data) -> None:
        """Send a packet whose `data` the caller will reuse right after: whatever part
        of it could not leave yet is copied."""
        self.send(ptype, volume, head, data)
        if self._out and not self._writing:
            self._flush()
        if self._out and not isinstance(self._out[-1], bytes):
            self._out[-1] = bytes(self._out[-1])

    def _flush(self) -> None:
        while self._out and not self.closed:
            batch = [self._out[i] for i in range(min(IOV_MAX, len(self._out)))]
            try:
                sent = self.sock.sendmsg(batch)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.close(f"send error: {e.strerror}")
                return
            self.out_bytes -= sent
            self.tx_bytes += sent
            while sent:
                head = self._out[0]
                size = len(head)
                if sent >= size:
                    self._out.popleft()
                    sent -= size
                else:
                    self._out[0] = memoryview(head)[sent:]
                    sent = 0
        if self._out and not self.closed:
            if not self._writing:
                self._writing = True
                self.loop.add_writer(self._fd, self._flush)
        elif self._writing:
            self._writing = False
            self.loop.remove_writer(self._fd)
        self._wake_drained()

    def _wake_drained(self) -> None:
        if not self._drain_waiters:
            return
        still = []
        for limit, fut in self._drain_waiters:
            if self.closed or self.out_bytes <= limit:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((limit, fut))
        self._drain_waiters = still

    async def drain(self, limit: int = 0) -> None:
        """Wait until at most `limit` bytes are queued (or the channel closed)."""
        if self.closed or self.out_bytes <= limit:
            return
        fut = self.loop.create_future()
        self._drain_waiters.append((limit, fut))
        await fut

    # --- end ---------------------------------------------------------------------
    def close(self, reason: str = "closed") -> None:
        if self.closed or self._closing:
            return
        self._closing = True
        if self._out and not self._writing:
            # what we said last (a split-brain verdict, our state) should still leave
            self._flush()
        self.closed = True
        self.close_reason = reason
        try:
            self.loop.remove_reader(self._fd)
            if self._writing:
                self.loop.remove_writer(self._fd)
        except (ValueError, OSError):
            pass
        self._writing = False
        self._out.clear()
        self.out_bytes = 0
        try:
            self.sock.close()
        except OSError:
            pass
        self._wake_drained()
        if self._queue is not None:
            self._queue.put_nowait(None)
        elif self.on_close is not None:
            self.on_close(reason)
