"""The engine's NBD server, spoken to byte by byte: handshake, requests, errors, garbage."""
import asyncio
import logging
import os
import random
import socket
import struct
import time

import pytest

from drbd_py.engine import nbd_proto as P
from drbd_py.engine.nbd_client import NbdClient, NbdError, NbdProtocolError
from drbd_py.engine.nbd_file_backend import FileBackend
from drbd_py.engine.nbd_serve import ServerThread

SIZE = 8 * 1024 * 1024


class RecordingBackend(FileBackend):
    """A file backend that notes calls and can hold writes at chosen offsets."""

    def __init__(self, path):
        super().__init__(path)
        self.calls = []
        self.hold = {}            # offset -> asyncio.Event set by the test

    async def write(self, offset, data, fua=False):
        self.calls.append(("write", offset, len(data), fua))
        if offset in self.hold:
            await self.hold[offset].wait()
        await super().write(offset, data, fua)
        self.calls.append(("written", offset))

    async def flush(self):
        self.calls.append(("flush",))
        await super().flush()


@pytest.fixture
def served(tmp_path):
    srv = ServerThread.over_new_file(str(tmp_path / "disk"), SIZE, str(tmp_path / "nbd.sock"),
                                     RecordingBackend, export_name="r0")
    yield srv
    srv.stop()


def raw(srv, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(srv.socket_path)
    return s


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def closed_by_peer(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def greet(s, client_flags=P.FLAG_C_FIXED_NEWSTYLE | P.FLAG_C_NO_ZEROES):
    magic, opt, flags = P.SERVER_GREETING.unpack(recv_exactly(s, 18))
    assert (magic, opt) == (P.NBDMAGIC, P.IHAVEOPT)
    assert flags == P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES
    s.sendall(struct.pack(">I", client_flags))


def option(s, opt, data=b""):
    s.sendall(P.OPTION_HEADER.pack(P.IHAVEOPT, opt, len(data)) + data)


def option_reply(s):
    magic, opt, reply, length = P.OPTION_REPLY.unpack(recv_exactly(s, 20))
    assert magic == P.OPTION_REPLY_MAGIC
    return opt, reply, recv_exactly(s, length)


def go_payload(name, infos=()):
    n = name.encode()
    return struct.pack(">I", len(n)) + n + struct.pack(f">H{len(infos)}H", len(infos), *infos)


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def still_serving(srv):
    with NbdClient(srv.socket_path) as c:
        c.write(4096, b"alive" * 10)
        return c.read(4096, 50) == b"alive" * 10


# --- handshake ----------------------------------------------------------------------

def test_go_reports_size_flags_and_requested_infos(served):
    with raw(served) as s:
        greet(s)
        option(s, P.OPT_GO, go_payload("r0", [P.INFO_NAME, P.INFO_BLOCK_SIZE, P.INFO_DESCRIPTION]))
        infos = {}
        while True:
            opt, reply, data = option_reply(s)
            assert opt == P.OPT_GO
            if reply == P.REP_ACK:
                break
            assert reply == P.REP_INFO
            infos[struct.unpack_from(">H", data)[0]] = data[2:]
        size, flags = struct.unpack(">QH", infos[P.INFO_EXPORT])
        assert size == SIZE
        assert flags & P.TFLAG_SEND_FLUSH and flags & P.TFLAG_SEND_TRIM
        assert not flags & P.TFLAG_READ_ONLY
        assert infos[P.INFO_NAME] == b"r0"
        assert struct.unpack(">III", infos[P.INFO_BLOCK_SIZE]) == (1, 4096, P.MAX_PAYLOAD)
        assert infos[P.INFO_DESCRIPTION]


def test_list_unknown_option_starttls_and_bad_lengths_then_go(served):
    with raw(served) as s:
        greet(s)
        option(s, P.OPT_LIST)
        _, reply, data = option_reply(s)
        assert reply == P.REP_SERVER and data == struct.pack(">I", 2) + b"r0"
        assert option_reply(s)[1] == P.REP_ACK
        option(s, P.OPT_LIST, b"junk")
        assert option_reply(s)[1] == P.REP_ERR_INVALID
        option(s, 4242, b"whatever")
        assert option_reply(s)[1] == P.REP_ERR_UNSUP
        option(s, P.OPT_STARTTLS)
        assert option_reply(s)[1] == P.REP_ERR_UNSUP
        option(s, P.OPT_INFO, b"\x00\x00\x00\x09r0")          # name length lies
        assert option_reply(s)[1] == P.REP_ERR_INVALID
        option(s, P.OPT_GO, go_payload("no-such-volume"))
        assert option_reply(s)[1] == P.REP_ERR_UNKNOWN
        option(s, P.OPT_SET_META_CONTEXT, b"\x00" * 8)        # before structured replies
        assert option_reply(s)[1] == P.REP_ERR_INVALID
        option(s, P.OPT_GO, go_payload(""))                   # "" is the default export
        replies = [option_reply(s)[1]]
        while replies[-1] != P.REP_ACK:
            replies.append(option_reply(s)[1])
        assert replies == [P.REP_INFO, P.REP_ACK]


def test_structured_reply_negotiated_once_and_used_for_reads(served):
    with raw(served) as s:
        greet(s)
        option(s, P.OPT_STRUCTURED_REPLY)
        assert option_reply(s)[1] == P.REP_ACK
        option(s, P.OPT_STRUCTURED_REPLY)
        assert option_reply(s)[1] == P.REP_ERR_INVALID
        option(s, P.OPT_SET_META_CONTEXT, b"\x00" * 8)
        assert option_reply(s)[1] == P.REP_ACK            # no contexts offered
        option(s, P.OPT_GO, go_payload("r0"))
        while option_reply(s)[1] != P.REP_ACK:
            pass
        s.sendall(P.REQUEST.pack(P.REQUEST_MAGIC, 0, P.CMD_READ, 77, 512, 16))
        magic, flags, rtype, cookie, length = P.STRUCTURED_REPLY.unpack(recv_exactly(s, 20))
        assert (magic, flags, rtype, cookie, length) == (
            P.STRUCTURED_REPLY_MAGIC, P.REPLY_FLAG_DONE, P.REPLY_TYPE_OFFSET_DATA, 77, 24)
        assert recv_exactly(s, 24) == struct.pack(">Q", 512) + bytes(16)
        s.sendall(P.REQUEST.pack(P.REQUEST_MAGIC, 0, P.CMD_READ, 78, SIZE, 16))
        magic, flags, rtype, cookie, length = P.STRUCTURED_REPLY.unpack(recv_exactly(s, 20))
        assert rtype == P.REPLY_TYPE_ERROR and cookie == 78
        assert struct.unpack_from(">I", recv_exactly(s, length))[0] == P.EINVAL


def test_export_name_with_and_without_zero_padding(served):
    for client_flags, tail in ((P.FLAG_C_FIXED_NEWSTYLE | P.FLAG_C_NO_ZEROES, 0),
                               (P.FLAG_C_FIXED_NEWSTYLE, 124), (0, 124)):
        with raw(served) as s:
            greet(s, client_flags)
            option(s, P.OPT_EXPORT_NAME, b"r0")
            size, flags = struct.unpack(">QH", recv_exactly(s, 10))
            assert size == SIZE and flags & P.TFLAG_HAS_FLAGS
            assert recv_exactly(s, tail) == bytes(tail)
            s.sendall(P.REQUEST.pack(P.REQUEST_MAGIC, 0, P.CMD_FLUSH, 5, 0, 0))
            assert recv_exactly(s, 16) == P.simple_reply(5)


def test_abort_is_acknowledged_then_closed(served):
    with raw(served) as s:
        greet(s)
        option(s, P.OPT_ABORT)
        assert option_reply(s)[:2] == (P.OPT_ABORT, P.REP_ACK)
        assert closed_by_peer(s)


@pytest.mark.parametrize("case", ["unknown client flags", "bad option magic", "huge option",
                                  "unknown export name", "non-fixed client other option"])
def test_handshake_violations_close_only_that_connection(served, case):
    with raw(served) as s:
        if case == "unknown client flags":
            greet(s, 0x80)
        elif case == "bad option magic":
            greet(s)
            s.sendall(b"NOTMAGIC" + struct.pack(">II", P.OPT_GO, 0))
        elif case == "huge option":
            greet(s)
            s.sendall(P.OPTION_HEADER.pack(P.IHAVEOPT, P.OPT_GO, 0xFFFFFFF0))
        elif case == "unknown export name":
            greet(s)
            option(s, P.OPT_EXPORT_NAME, b"nope")
        else:
            greet(s, 0)
            option(s, P.OPT_LIST)
        assert closed_by_peer(s)
    assert still_serving(served)


# --- transmission ---------------------------------------------------------------------

def test_write_read_flush_trim_zeroes_roundtrip(served):
    data = os.urandom(256 * 1024)
    with NbdClient(served.socket_path, "r0") as c:
        assert c.size == SIZE
        c.write(1 << 20, data)
        assert c.read(1 << 20, len(data)) == data
        c.write_zeroes(1 << 20, 4096)
        assert c.read(1 << 20, 8192) == bytes(4096) + data[4096:8192]
        c.flush()
        c.disconnect()
    with open(served.path, "rb") as f:
        f.seek((1 << 20) + 4096)
        assert f.read(len(data) - 4096) == data[4096:]


def test_trim_punches_holes_in_the_backing_file(served):
    with NbdClient(served.socket_path) as c:
        c.write(0, os.urandom(4 << 20))
        c.flush()
        before = os.stat(served.path).st_blocks
        c.trim(0, 4 << 20)
        assert c.read(0, 4096) == bytes(4096)
    assert os.stat(served.path).st_blocks <= before - (4 << 20) // 512 + 64


def test_unaligned_and_large_multi_recv_write(served):
    data = os.urandom(5 * 1024 * 1024 + 3)
    with NbdClient(served.socket_path, structured=False) as c:
        c.write(1, data)
        assert c.read(1, len(data)) == data
        c.write(7, b"xyz")
        assert c.read(0, 16)[7:10] == b"xyz"


def test_errors_keep_the_connection_usable(served):
    with NbdClient(served.socket_path, structured=False) as c:
        with pytest.raises(NbdError) as e:
            c.write(SIZE - 2, b"0123")                  # payload is still consumed
        assert e.value.errno == P.ENOSPC
        with pytest.raises(NbdError) as e:
            c.read(SIZE, 1)
        assert e.value.errno == P.EINVAL
        with pytest.raises(NbdError) as e:
            c._call(P.CMD_CACHE, 0, 512)
        assert e.value.errno == P.EINVAL
        with pytest.raises(NbdError) as e:
            c._call(P.CMD_WRITE, 0, 4, b"abcd", flags=0x4000)   # unknown flag
        assert e.value.errno == P.EINVAL
        with pytest.raises(NbdError) as e:
            c._call(42)
        assert e.value.errno == P.EINVAL
        c.write(0, b"fine")
        assert c.read(0, 4) == b"fine"


def test_read_only_refuses_writes_with_eperm(served):
    served.call(served.server.set_read_only, True)
    with NbdClient(served.socket_path) as c:
        assert c.flags & P.TFLAG_READ_ONLY
        for call in (lambda: c.write(0, b"x"), lambda: c.trim(0, 4096),
                     lambda: c.write_zeroes(0, 4096)):
            with pytest.raises(NbdError) as e:
                call()
            assert e.value.errno == P.EPERM
        assert c.read(0, 4) == bytes(4)
        c.flush()
    # A connection made while writable is refused as soon as the server turns read-only.
    served.call(served.server.set_read_only, False)
    with NbdClient(served.socket_path) as c:
        c.write(0, b"ok")
        served.call(served.server.set_read_only, True)
        with pytest.raises(NbdError) as e:
            c.write(0, b"no")
        assert e.value.errno == P.EPERM
        assert c.read(0, 2) == b"ok"


def test_requests_complete_out_of_order_and_flush_waits_for_writes(served):
    backend = served.server.backend
    gate = served.call(asyncio.Event)
    backend.hold[0] = gate
    with NbdClient(served.socket_path) as c:
        slow = c.send(P.CMD_WRITE, 0, 4, b"slow")
        fast = c.send(P.CMD_WRITE, 8192, 4, b"fast", flags=P.CMD_FLAG_FUA)
        assert c.receive()[:2] == (fast, 0)
        flush = c.send(P.CMD_FLUSH)
        # Both the held write and the flush are in the server before the write may end.
        assert wait_until(lambda: served.call(
            lambda: sum(len(conn.tasks) for conn in served.server._connections)) == 2)
        served.loop.call_soon_threadsafe(gate.set)
        replies = {c.receive()[0] for _ in range(2)}
        assert replies == {slow, flush}
    calls = backend.calls
    last_flush = len(calls) - 1 - calls[::-1].index(("flush",))
    assert calls.index(("written", 0)) < last_flush    # the flush covered the held write
    assert ("write", 8192, 4, True) in calls           # FUA reached the backend


def test_disconnect_after_pipelined_writes_finishes_them(served):
    with NbdClient(served.socket_path) as c:
        for i in range(64):
            c.send(P.CMD_WRITE, i * 4096, 4096, bytes([i]) * 4096)
        c.send(P.CMD_DISC)
        got = [c.receive()[1] for _ in range(64)]
        assert got == [0] * 64
        assert closed_by_peer(c.sock)
    with open(served.path, "rb") as f:
        blocks = f.read(64 * 4096)
    assert all(blocks[i * 4096] == i for i in range(64))
    assert wait_until(lambda: served.server.client_count == 0)


def test_eof_without_disc_is_a_quiet_close(served, caplog):
    caplog.set_level(logging.INFO, logger="drbd_py.engine.nbd")
    for _ in range(3):
        c = NbdClient(served.socket_path)
        c.write(0, b"bye")
        c.close()
    assert wait_until(lambda: served.server.client_count == 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_bad_request_magic_closes_that_client_only(served, caplog):
    with NbdClient(served.socket_path) as good, NbdClient(served.socket_path) as bad:
        bad.sock.sendall(b"\xde\xad\xbe\xef" + bytes(24))
        assert closed_by_peer(bad.sock)
        good.write(0, b"still here")
        assert good.read(0, 10) == b"still here"
    assert any("garbage" in r.getMessage() for r in caplog.records)


def test_oversized_write_closes_the_connection(served):
    with NbdClient(served.socket_path) as c:
        c.sock.sendall(P.REQUEST.pack(P.REQUEST_MAGIC, 0, P.CMD_WRITE, 1, 0, P.MAX_PAYLOAD + 1))
        assert closed_by_peer(c.sock)
    assert still_serving(served)


def test_random_garbage_never_crashes_the_server(served):
    rnd = random.Random(7)
    for i in range(60):
        with raw(served, timeout=2.0) as s:
            if i % 2:
                greet(s)                           # garbage in the transmission phase
                option(s, P.OPT_EXPORT_NAME, b"")
                recv_exactly(s, 10)
            try:
                s.sendall(rnd.randbytes(rnd.choice([1, 7, 28, 100, 5000])))
                s.shutdown(socket.SHUT_WR)
                closed_by_peer(s, timeout=2.0)
            except OSError:
                pass
    assert still_serving(served)
    assert wait_until(lambda: served.server.client_count == 0)


def test_stop_closes_clients_and_removes_the_socket(tmp_path):
    path = tmp_path / "disk"
    path.write_bytes(bytes(65536))
    backend = FileBackend(str(path))
    srv = ServerThread(str(tmp_path / "s.sock"), backend)
    try:
        c = NbdClient(str(tmp_path / "s.sock"))
        assert wait_until(lambda: srv.server.client_count == 1)
        srv.run(srv.server.stop())
        assert closed_by_peer(c.sock)
        assert not (tmp_path / "s.sock").exists()
        assert srv.server.client_count == 0
        with pytest.raises((NbdProtocolError, OSError)):
            NbdClient(str(tmp_path / "s.sock"))
    finally:
        srv.stop()
        backend.close()


def test_socket_is_private_and_replaces_a_stale_one(tmp_path):
    sock_path = tmp_path / "run" / "0.sock"
    sock_path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock_path))
    stale.close()
    (tmp_path / "disk").write_bytes(bytes(4096))
    backend = FileBackend(str(tmp_path / "disk"))
    with ServerThread(str(sock_path), backend):
        assert os.stat(sock_path).st_mode & 0o777 == 0o600
        with NbdClient(str(sock_path)) as c:
            assert c.size == 4096
    backend.close()
