"""A small blocking NBD client: fixed newstyle, NBD_OPT_GO, simple or structured replies.

For tests and tools that need to talk to an export without nbdfuse or the kernel
(`nbdinfo`/`nbdcopy` cover the rest). Requests may be pipelined with send()/receive().
"""
import errno
import itertools
import os
import socket
import struct

from . import nbd_proto as P


class NbdError(OSError):
    """The server answered a request with a non-zero NBD error."""


class NbdProtocolError(Exception):
    """The server broke the protocol or closed the connection."""


class NbdClient:
    def __init__(self, socket_path: str, export: str = "", structured: bool = True,
                 timeout: float = 10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self._cookies = itertools.count(1)
        self._read_lengths: dict[int, int] = {}
        try:
            self.sock.connect(socket_path)
            self.structured = self._handshake(export, structured)
        except BaseException:
            self.sock.close()
            raise

    # --- handshake --------------------------------------------------------------------
    def recv_exactly(self, n: int) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise NbdProtocolError("server closed the connection")
            got += k
        return bytes(buf)

    def send_option(self, option: int, data: bytes = b"") -> None:
        self.sock.sendall(P.OPTION_HEADER.pack(P.IHAVEOPT, option, len(data)) + data)

    def recv_option_reply(self) -> tuple[int, int, bytes]:
        magic, option, reply, length = P.OPTION_REPLY.unpack(self.recv_exactly(20))
        if magic != P.OPTION_REPLY_MAGIC:
            raise NbdProtocolError(f"bad option reply magic 0x{magic:x}")
        return option, reply, self.recv_exactly(length) if length else b""

    def _handshake(self, export: str, structured: bool) -> bool:
        magic, opt_magic, flags = P.SERVER_GREETING.unpack(self.recv_exactly(18))
        if magic != P.NBDMAGIC or opt_magic != P.IHAVEOPT:
            raise NbdProtocolError("not a newstyle NBD server")
        if not flags & P.FLAG_FIXED_NEWSTYLE:
            raise NbdProtocolError("server is not fixed newstyle")
        self.sock.sendall(P.CLIENT_FLAGS.pack(P.FLAG_C_FIXED_NEWSTYLE | P.FLAG_C_NO_ZEROES))
        negotiated = False
        if structured:
            self.send_option(P.OPT_STRUCTURED_REPLY)
            negotiated = self.recv_option_reply()[1] == P.REP_ACK
        name = export.encode()
        self.send_option(P.OPT_GO, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
        while True:
            _, reply, data = self.recv_option_reply()
            if reply == P.REP_ACK:
                return negotiated
            if reply == P.REP_INFO and struct.unpack_from(">H", data)[0] == P.INFO_EXPORT:
                _, self.size, self.flags = P.INFO_EXPORT_BODY.unpack(data)
            elif reply & 0x80000000:
                raise NbdProtocolError(f"export {export!r} refused: reply 0x{reply:x} "
                                       f"{data.decode(errors='replace')}")

    # --- transmission -----------------------------------------------------------------
    def send(self, kind: int, offset: int = 0, length: int = 0, data: bytes = b"",
             flags: int = 0) -> int:
        cookie = next(self._cookies)
        if kind == P.CMD_READ:
            self._read_lengths[cookie] = length
        self.sock.sendall(P.REQUEST.pack(P.REQUEST_MAGIC, flags, kind, cookie, offset, length)
                          + bytes(data))
        return cookie

    def receive(self) -> tuple[int, int, bytes]:
        """Next reply: (cookie, error, data). Data only for successful reads."""
        (magic,) = struct.unpack(">I", self.recv_exactly(4))
        if magic == P.SIMPLE_REPLY_MAGIC:
            error, cookie = struct.unpack(">IQ", self.recv_exactly(12))
            length = self._read_lengths.pop(cookie, 0)
            return cookie, error, self.recv_exactly(length) if length and not error else b""
        if magic != P.STRUCTURED_REPLY_MAGIC:
            raise NbdProtocolError(f"bad reply magic 0x{magic:x}")
        return self._receive_structured()

    def _receive_structured(self) -> tuple[int, int, bytes]:
        chunks: dict[int, bytes] = {}
        error = 0
        first = True
        while True:
            if not first:
                (magic,) = struct.unpack(">I", self.recv_exactly(4))
                if magic != P.STRUCTURED_REPLY_MAGIC:
                    raise NbdProtocolError(f"bad chunk magic 0x{magic:x}")
            first = False
            flags, rtype, cookie, length = struct.unpack(">HHQI", self.recv_exactly(16))
            payload = self.recv_exactly(length) if length else b""
            if rtype == P.REPLY_TYPE_OFFSET_DATA:
                (offset,) = P.OFFSET.unpack_from(payload)
                chunks[offset] = payload[8:]
            elif rtype & 0x8000:
                error = P.ERROR_BODY.unpack_from(payload)[0]
            if flags & P.REPLY_FLAG_DONE:
                break
        self._read_lengths.pop(cookie, None)
        return cookie, error, b"".join(chunks[o] for o in sorted(chunks))

    def _call(self, kind: int, offset: int = 0, length: int = 0, data: bytes = b"",
              flags: int = 0) -> bytes:
        cookie = self.send(kind, offset, length, data, flags)
        got, error, payload = self.receive()
        if got != cookie:
            raise NbdProtocolError(f"reply for cookie {got}, expected {cookie}")
        if error:
            raise NbdError(error, f"NBD error {error} ({os.strerror(error)})")
        return payload

    def read(self, offset: int, length: int) -> bytes:
        return self._call(P.CMD_READ, offset, length)

    def write(self, offset: int, data: bytes, fua: bool = False) -> None:
        self._call(P.CMD_WRITE, offset, len(data), data, P.CMD_FLAG_FUA if fua else 0)

    def flush(self) -> None:
        self._call(P.CMD_FLUSH)

    def trim(self, offset: int, length: int) -> None:
        self._call(P.CMD_TRIM, offset, length)

    def write_zeroes(self, offset: int, length: int) -> None:
        self._call(P.CMD_WRITE_ZEROES, offset, length)

    def disconnect(self) -> None:
        try:
            self.send(P.CMD_DISC)
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                raise
        self.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
