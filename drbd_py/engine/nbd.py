"""NBD server for one volume, on a unix socket, inside the engine's asyncio loop.

Transmission is the hot path, so it bypasses asyncio streams: the socket is driven by
add_reader/add_writer callbacks, request headers are parsed out of one reused receive
buffer, large write payloads are received straight into the buffer the backend gets,
and all replies ready in one loop iteration leave in one sendmsg(). Each request runs as
its own task, so up to MAX_INFLIGHT requests per connection progress concurrently and
complete in whatever order the backend finishes them (NBD allows it).

The backend protocol (the engine implements it; FileBackend is a plain-file one):
    size: int                       bytes
    read_only: bool
    async read(offset, length) -> bytes-like of exactly `length` bytes
    async write(offset, data, fua=False)   completes per the replication protocol; `data`
                                    is a memoryview valid only until write() returns
    async flush()
    async trim(offset, length)
    optional: async write_zeroes(offset, length)
    optional: start_write(offset, data, fua, done) -> bool: the same write without a
                                    task: started now, `done(error)` (None or an
                                    OSError) runs once when it completes; False: not
                                    started, write() is awaited instead.  Most writes
                                    take this path: a task, its coroutines and a
                                    future per request cost more than the write.
"""
import asyncio
import errno
import logging
import os
import socket
import stat
from dataclasses import dataclass

from . import nbd_proto as P
from .nbd_buffers import BufferPool
from .nbd_handshake import ExportView, HandshakeClosed, negotiate

log = logging.getLogger("drbd_py.engine.nbd")

RECV_BUFFER = 64 * 1024        # headers and small payloads; bounds what large writes copy
MAX_INFLIGHT = 128             # per connection; beyond it we stop reading the socket
OUT_HIGH_WATER = 16 * 1024 * 1024
MAX_CLIENTS = 64
HANDSHAKE_TIMEOUT = 30.0
IOV_MAX = 1024
ZERO_CHUNK = bytes(1024 * 1024)

_WRITE_KINDS = (P.CMD_WRITE, P.CMD_TRIM, P.CMD_WRITE_ZEROES)
_ALLOWED_FLAGS = {
    P.CMD_READ: P.CMD_FLAG_FUA | P.CMD_FLAG_DF,
    P.CMD_WRITE: P.CMD_FLAG_FUA,
    P.CMD_FLUSH: P.CMD_FLAG_FUA,
    P.CMD_TRIM: P.CMD_FLAG_FUA,
    P.CMD_WRITE_ZEROES: P.CMD_FLAG_FUA | P.CMD_FLAG_NO_HOLE,
}


@dataclass
class _Request:
    kind: int
    flags: int
    cookie: int
    offset: int
    length: int


class NbdServer:
    """Serves `backend` as the single export of the unix socket `socket_path`."""

    def __init__(self, socket_path: str, backend, export_name: str = "",
                 description: str = "drbd-py volume"):
        self.socket_path = socket_path
        self.backend = backend
        self.export_name = export_name
        self.description = description
        self._read_only = False
        self._listener: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handshakes: set[asyncio.Task] = set()
        self._connections: set[_Connection] = set()
        self._direct_writes: set[_DirectWrite] = set()     # start_write()s in flight
        self._write_barriers: list[tuple[set, asyncio.Future]] = []
        self.pool = BufferPool()
        self.counts = [0] * 8          # answered requests by NBD command number
        self.errors = 0

    # --- public interface ----------------------------------------------------------
    @property
    def client_count(self) -> int:
        return len(self._handshakes) + len(self._connections)

    @property
    def read_only(self) -> bool:
        return self._read_only or bool(self.backend.read_only)

    def stats(self) -> dict[str, int]:
        """Requests answered so far, by kind, and how many of them failed."""
        names = {P.CMD_READ: "read", P.CMD_WRITE: "write", P.CMD_FLUSH: "flush",
                 P.CMD_TRIM: "trim", P.CMD_WRITE_ZEROES: "write_zeroes"}
        out = {name: self.counts[kind] for kind, name in names.items()}
        out["errors"] = self.errors
        return out

    def set_read_only(self, value: bool) -> None:
        """Refuse (EPERM) or allow writes from now on, on current and future connections."""
        self._read_only = bool(value)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        parent = os.path.dirname(self.socket_path) or "."
        os.makedirs(parent, mode=0o700, exist_ok=True)
        _remove_stale_socket(self.socket_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._listener = sock
        self._loop.add_reader(sock.fileno(), self._accept)
        log.info("nbd: serving %s (%d bytes) on %s", self.export_name or "default export",
                 self.backend.size, self.socket_path)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let in-flight requests finish (bounded), close every client."""
        if self._listener is not None:
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass
        for task in list(self._handshakes):
            task.cancel()
        if self._handshakes:
            await asyncio.wait(list(self._handshakes))
        conns = list(self._connections)
        for conn in conns:
            conn.stop_reading()
        if conns:
            await asyncio.wait([c.closed for c in conns], timeout=timeout)
            for conn in conns:
                if not conn.closed.done():
                    conn.abort("server stopping")
        for conn in conns:
            await conn.cancel_requests()

    # --- internals -------------------------------------------------------------------
    def export_view(self) -> ExportView:
        return ExportView(self.export_name, self.description, int(self.backend.size),
                          self.read_only)

    def write_tasks(self) -> list[asyncio.Task]:
        return [t for c in self._connections for t, kind in c.tasks.items() if kind in _WRITE_KINDS]

    async def writes_in_flight_done(self) -> None:
        """Wait until every write in flight now (tasks and start_write()s) completed."""
        earlier = [t for t in self.write_tasks() if not t.done()]
        if earlier:
            await asyncio.wait(earlier)
        if self._direct_writes:
            fut = self._loop.create_future()
            self._write_barriers.append((set(self._direct_writes), fut))
            await fut

    def _direct_write_done(self, op: "_DirectWrite") -> None:
        self._direct_writes.discard(op)
        if self._write_barriers:
            still = []
            for pending, fut in self._write_barriers:
                pending.discard(op)
                if pending:
                    still.append((pending, fut))
                elif not fut.done():
                    fut.set_result(None)
            self._write_barriers = still

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.warning("nbd: accept on %s failed: %s", self.socket_path, e)
                # Out of descriptors, say: the listener stays readable, so pause it
                # rather than spin.
                fd = self._listener.fileno()
                self._loop.remove_reader(fd)
                self._loop.call_later(1.0, self._resume_accepting, fd)
                return
            if self.client_count >= MAX_CLIENTS:
                log.warning("nbd: %s: too many clients, refusing one", self.socket_path)
                sock.close()
                continue
            sock.setblocking(False)
            task = self._loop.create_task(self._handshake(sock))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    def _resume_accepting(self, fd: int) -> None:
        if self._listener is not None and self._listener.fileno() == fd:
            self._loop.add_reader(fd, self._accept)

    async def _handshake(self, sock: socket.socket) -> None:
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                negotiated = await negotiate(sock, self.export_view)
        except HandshakeClosed as e:
            log.debug("nbd: handshake ended: %s", e)
            sock.close()
            return
        except (OSError, TimeoutError, UnicodeDecodeError) as e:
            log.info("nbd: handshake failed: %s", e or type(e).__name__)
            sock.close()
            return
        except asyncio.CancelledError:
            sock.close()
            raise
        except Exception:
            # Whatever a client sends must not take the engine down.
            log.exception("nbd: handshake failed")
            sock.close()
            return
        conn = _Connection(self, sock, negotiated.structured)
        self._connections.add(conn)
        conn.closed.add_done_callback(lambda _f: self._connections.discard(conn))
        conn.start()


def _remove_stale_socket(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise FileExistsError(errno.EEXIST, "exists and is not a socket", path)
    os.unlink(path)


class _Connection:
    """Transmission phase of one client."""

    def __init__(self, server: NbdServer, sock: socket.socket, structured: bool):
        self.server = server
        self.backend = server.backend
        self.loop = server._loop
        self.sock = sock
        self.fd = sock.fileno()
        self.structured = structured
        self.closed = self.loop.create_future()
        self.tasks: dict[asyncio.Task, int] = {}
        self.direct = 0                 # start_write()s in flight
        self._start_write = getattr(self.backend, "start_write", None)
        self._rbuf = bytearray(RECV_BUFFER)
        self._rview = memoryview(self._rbuf)
        self._rstart = 0
        self._rend = 0
        self._payload: tuple[_Request, _Payload] | None = None
        self._payload_pos = 0
        self._reading = False
        self._draining = False          # DISC or EOF seen: finish what is in flight, then close
        self._out: list = []
        self._out_bytes = 0
        self._flush_pending = False
        self._writer_armed = False

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self._resume_reading()

    def stop_reading(self) -> None:
        self._draining = True
        self._pause_reading()
        self._maybe_finish()

    def abort(self, why: str) -> None:
        """Hard disconnect: replies still to come are dropped."""
        if self.closed.done():
            return
        log.debug("nbd: closing connection: %s", why)
        self._pause_reading()
        if self._writer_armed:
            self.loop.remove_writer(self.fd)
            self._writer_armed = False
        self._out.clear()
        self.sock.close()
        self.closed.set_result(None)

    async def cancel_requests(self) -> None:
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.tasks.clear()   # a task cancelled before its first step never reaches _run's end

    def _maybe_finish(self) -> None:
        if self._draining and not self.tasks and not self.direct and not self._out \
                and not self.closed.done():
            self.abort("client finished")

    def _in_flight(self) -> int:
        return len(self.tasks) + self.direct

    # --- receiving ----------------------------------------------------------------------
    def _pause_reading(self) -> None:
        if self._reading:
            self.loop.remove_reader(self.fd)
            self._reading = False

    def _resume_reading(self) -> None:
        if not self._reading and not self._draining and not self.closed.done():
            self.loop.add_reader(self.fd, self._on_readable)
            self._reading = True

    def _on_readable(self) -> None:
        # Keep reading while the socket has data (bounded, to stay fair to other
        # connections): a payload's end and the next header often arrive together.
        try:
            for _ in range(16):
                if self._payload is not None:
                    if self._recv_payload():
                        return
                else:
                    room = len(self._rview) - self._rend
                    n = self.sock.recv_into(self._rview[self._rend:])
                    if n == 0:
                        return self._on_eof()
                    self._rend += n
                    self._parse()
                    if n < room:
                        return      # drained: no second recv() just to see EAGAIN
                if not self._reading:
                    return
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            self.abort(f"socket error: {e}")

    def _on_eof(self) -> None:
        if self._payload is not None or self._rend > self._rstart:
            self.abort("client closed in the middle of a request")
            return
        # EOF without NBD_CMD_DISC is how many clients say goodbye: not an error.
        self.stop_reading()

    def _recv_payload(self) -> bool:
        """Receive more of a large write; True when the socket has nothing more now."""
        req, payload = self._payload
        room = req.length - self._payload_pos
        n = self.sock.recv_into(payload.view[self._payload_pos:])
        if n == 0:
            self._on_eof()
            return True
        self._payload_pos += n
        if self._payload_pos == req.length:
            self._payload = None
            self._dispatch(req, payload)
            self._parse()
            return False
        return n < room

    def _parse(self) -> None:
        rview = self._rview
        start, end = self._rstart, self._rend
        size = P.REQUEST.size
        while end - start >= size and self._payload is None and not self._draining:
            magic, flags, kind, cookie, offset, length = P.REQUEST.unpack_from(rview, start)
            if magic != P.REQUEST_MAGIC:
                log.warning("nbd: %s: garbage from client (request magic 0x%08x), closing",
                            self.server.socket_path, magic)
                self.abort("bad request magic")
                return
            start += size
            req = _Request(kind, flags, cookie, offset, length)
            if kind == P.CMD_WRITE:
                if length > P.MAX_PAYLOAD:
                    log.warning("nbd: %s: write of %d bytes exceeds the %d limit, closing",
                                self.server.socket_path, length, P.MAX_PAYLOAD)
                    self.abort("oversized write")
                    return
                have = end - start
                if have >= length:
                    payload = _Payload(None, rview[start:start + length].tobytes())
                    start += length
                    self._dispatch(req, payload)
                    continue
                payload = _Payload(self.server.pool.take(length))
                payload.view[:have] = rview[start:end]
                start = end
                self._payload = (req, payload)
                self._payload_pos = have
            elif kind == P.CMD_DISC:
                self._draining = True
            else:
                self._dispatch(req, None)
        # Keep the unparsed tail at the front of the buffer for the next recv.
        tail = end - start
        if tail and start:
            rview[:tail] = rview[start:end]
        self._rstart, self._rend = 0, tail
        if self._draining:
            self.stop_reading()

    # --- executing -------------------------------------------------------------------
    def _dispatch(self, req: _Request, payload: "_Payload | None") -> None:
        if req.kind == P.CMD_WRITE and self._start_write is not None and req.length \
                and not self._check(req):
            op = _DirectWrite(self, req, payload)
            self.direct += 1
            self.server._direct_writes.add(op)
            started = self._start_write(req.offset, payload.view,
                                        bool(req.flags & P.CMD_FLAG_FUA), op.done)
            op.starting = False
            if started:
                if self._in_flight() >= MAX_INFLIGHT:
                    self._pause_reading()
                return
            self.direct -= 1
            self.server._direct_writes.discard(op)
        task = self.loop.create_task(self._run(req, payload))
        self.tasks[task] = req.kind
        if self._in_flight() >= MAX_INFLIGHT:
            self._pause_reading()

    def _request_done(self, task: asyncio.Task | None) -> None:
        # Called at the end of _run itself: cheaper than a done-callback per request.
        if task is not None:
            self.tasks.pop(task, None)
        if self._in_flight() < MAX_INFLIGHT // 2 and self._out_bytes < OUT_HIGH_WATER:
            self._resume_reading()
        self._maybe_finish()

    async def _run(self, req: _Request, payload) -> None:
        try:
            await self._serve(req, payload)
        finally:
            self._request_done(asyncio.current_task())

    async def _serve(self, req: _Request, payload) -> None:
        error = self._check(req)
        reply_data = None
        if not error:
            try:
                reply_data = await self._execute(
                    req, payload.view if payload is not None else None)
            except asyncio.CancelledError:
                error = P.ESHUTDOWN
            except OSError as e:
                log.warning("nbd: request %d at %d+%d failed: %s", req.kind, req.offset,
                            req.length, e)
                error = _wire_errno(e)
            except Exception:
                log.exception("nbd: backend failed on request %d at %d+%d", req.kind,
                              req.offset, req.length)
                error = P.EIO
            if req.kind == P.CMD_READ and not error and len(reply_data) != req.length:
                log.error("nbd: backend returned %d bytes for a %d-byte read",
                          len(reply_data), req.length)
                error = P.EIO
        if payload is not None:
            payload.release(self.server.pool)
        self._reply(req, error, reply_data)

    def _check(self, req: _Request) -> int:
        allowed = _ALLOWED_FLAGS.get(req.kind)
        if allowed is None or req.flags & ~allowed:
            return P.EINVAL
        if req.kind == P.CMD_FLUSH:
            return 0
        if req.kind in _WRITE_KINDS and self.server.read_only:
            return P.EPERM
        if req.offset + req.length > self.backend.size:
            return P.ENOSPC if req.kind == P.CMD_WRITE else P.EINVAL
        if req.kind == P.CMD_READ and req.length > P.MAX_PAYLOAD:
            return P.EOVERFLOW if req.flags & P.CMD_FLAG_DF else P.EINVAL
        return 0

    async def _execute(self, req: _Request, data):
        backend = self.backend
        kind = req.kind
        if kind == P.CMD_READ:
            return await backend.read(req.offset, req.length) if req.length else b""
        if kind == P.CMD_WRITE:
            if req.length:
                await backend.write(req.offset, data, fua=bool(req.flags & P.CMD_FLAG_FUA))
        elif kind == P.CMD_FLUSH:
            # Cover writes still in flight too, not only those already answered.
            await self.server.writes_in_flight_done()
            await backend.flush()
        elif kind == P.CMD_TRIM:
            if req.length:
                await backend.trim(req.offset, req.length)
                if req.flags & P.CMD_FLAG_FUA:
                    await backend.flush()
        elif kind == P.CMD_WRITE_ZEROES:
            await self._write_zeroes(req)
        return None

    async def _write_zeroes(self, req: _Request) -> None:
        fua = bool(req.flags & P.CMD_FLAG_FUA)
        write_zeroes = getattr(self.backend, "write_zeroes", None)
        if write_zeroes is not None:
            await write_zeroes(req.offset, req.length)
            if fua:
                await self.backend.flush()
            return
        zeroes = memoryview(ZERO_CHUNK)
        pos, end = req.offset, req.offset + req.length
        while pos < end:
            n = min(len(ZERO_CHUNK), end - pos)
            await self.backend.write(pos, zeroes[:n], fua=fua)
            pos += n

    # --- replying --------------------------------------------------------------------
    def _reply(self, req: _Request, error: int, data) -> None:
        if req.kind < 8:
            self.server.counts[req.kind] += 1
        if self.closed.done():
            return
        if error:
            self.server.errors += 1
            if self.structured:
                self._queue(P.structured_error(req.cookie, error))
            else:
                self._queue(P.simple_reply(req.cookie, error))
        elif req.kind == P.CMD_READ:
            if self.structured:
                if req.length:
                    self._queue(P.structured_read_header(req.cookie, req.offset, req.length), data)
                else:
                    self._queue(P.structured_done(req.cookie))
            else:
                self._queue(P.simple_reply(req.cookie), data)
        else:
            self._queue(P.simple_reply(req.cookie))

    def _queue(self, *bufs) -> None:
        for b in bufs:
            self._out.append(b)
            self._out_bytes += len(b)
        if not self._flush_pending and not self._writer_armed:
            if self._in_flight() <= 1:
                # Nothing else in flight: answer now rather than one loop turn later.
                self._send_out()
                return
            # Replies finished in this loop iteration leave together in one sendmsg().
            self._flush_pending = True
            self.loop.call_soon(self._send_out)
        if self._out_bytes >= OUT_HIGH_WATER:
            self._pause_reading()

    def _send_out(self) -> None:
        self._flush_pending = False
        if self.closed.done():
            return
        out = self._out
        try:
            while out:
                sent = self.sock.sendmsg(out[:IOV_MAX])
                self._out_bytes -= sent
                self._consume(sent)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            self.abort(f"send failed: {e}")
            return
        if out and not self._writer_armed:
            self.loop.add_writer(self.fd, self._send_out)
            self._writer_armed = True
        elif not out:
            if self._writer_armed:
                self.loop.remove_writer(self.fd)
                self._writer_armed = False
            if self._in_flight() < MAX_INFLIGHT // 2:
                self._resume_reading()
            self._maybe_finish()

    def _consume(self, sent: int) -> None:
        out = self._out
        i = 0
        while i < len(out) and sent >= len(out[i]):
            sent -= len(out[i])
            i += 1
        del out[:i]
        if sent:
            out[0] = memoryview(out[0])[sent:]


class _Payload:
    """A write's data: a pooled buffer (large writes) and the one view of it handed to
    the backend, or bytes.  `release` returns the buffer once nothing else holds it."""
    __slots__ = ("buf", "view")

    def __init__(self, buf, data=None):
        self.buf = buf
        self.view = memoryview(buf) if buf is not None else data

    def release(self, pool: BufferPool) -> None:
        # the only references left are these locals: give_back can tell whether the
        # backend kept one
        buf, view = self.buf, self.view
        self.buf = self.view = None
        if buf is not None:
            pool.give_back(buf, view)


class _DirectWrite:
    """A write the backend runs without a task (start_write); `done` ends it."""
    __slots__ = ("conn", "req", "payload", "finished", "starting")

    def __init__(self, conn: _Connection, req: _Request, payload: _Payload):
        self.conn, self.req, self.payload = conn, req, payload
        self.finished = False
        self.starting = True

    def done(self, error) -> None:
        if self.finished:
            return
        self.finished = True
        conn, req = self.conn, self.req
        if self.payload.buf is not None:
            if self.starting:
                # done inside start_write: its frame still holds the view
                conn.loop.call_soon(self.payload.release, conn.server.pool)
            else:
                self.payload.release(conn.server.pool)
        code = 0
        if error is not None:
            if isinstance(error, OSError):
                log.warning("nbd: request %d at %d+%d failed: %s", req.kind, req.offset,
                            req.length, error)
                code = _wire_errno(error)
            else:
                log.error("nbd: backend failed on request %d at %d+%d: %r", req.kind,
                          req.offset, req.length, error)
                code = P.EIO
        conn._reply(req, code, None)
        conn.direct -= 1
        conn.server._direct_write_done(self)
        conn._request_done(None)


def _wire_errno(e: OSError) -> int:
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return P.ENOSPC
    if e.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
        return P.EPERM
    if e.errno == errno.EINVAL:
        return P.EINVAL
    return P.EIO
