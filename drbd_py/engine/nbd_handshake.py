"""NBD option haggling (fixed newstyle, plus plain newstyle for very old clients).

Runs once per connection before the transmission phase; nothing here is on the I/O hot
path, so it is written as straightforward coroutines over a non-blocking socket.
"""
import asyncio
import logging
import socket
import struct
from dataclasses import dataclass

from . import nbd_proto as P

log = logging.getLogger("drbd_py.engine.nbd")


class HandshakeClosed(Exception):
    """The client went away or broke the protocol: drop the connection, serve others."""


@dataclass(frozen=True)
class ExportView:
    """What a client may learn about the one export, as of the moment it asks."""
    name: str
    description: str
    size: int
    read_only: bool


@dataclass
class Negotiated:
    structured: bool


def transmission_flags(export: ExportView, structured: bool) -> int:
    flags = (P.TFLAG_HAS_FLAGS | P.TFLAG_SEND_FLUSH | P.TFLAG_SEND_FUA | P.TFLAG_SEND_TRIM
             | P.TFLAG_SEND_WRITE_ZEROES | P.TFLAG_CAN_MULTI_CONN)
    if export.read_only:
        flags |= P.TFLAG_READ_ONLY
    if structured:
        # Every read is answered with one chunk, so "don't fragment" always holds.
        flags |= P.TFLAG_SEND_DF
    return flags


class _Wire:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.loop = asyncio.get_running_loop()

    async def recv_exactly(self, n: int) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = await self.loop.sock_recv_into(self.sock, view[got:])
            if k == 0:
                raise HandshakeClosed("client closed the connection during the handshake")
            got += k
        return bytes(buf)

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)


def _name_matches(requested: str, export: ExportView) -> bool:
    # The empty name is the protocol's "default export", which is ours.
    return requested in ("", export.name)


def _parse_info_request(data: bytes) -> tuple[str, list[int]] | None:
    """Payload of OPT_INFO/OPT_GO: name length, name, count, info types. None if malformed."""
    if len(data) < 6:
        return None
    (name_len,) = struct.unpack_from(">I", data)
    if name_len > P.MAX_STRING or 4 + name_len + 2 > len(data):
        return None
    name = data[4:4 + name_len]
    (count,) = struct.unpack_from(">H", data, 4 + name_len)
    rest = data[4 + name_len + 2:]
    if len(rest) != 2 * count:
        return None
    try:
        return name.decode(), list(struct.unpack(f">{count}H", rest))
    except UnicodeDecodeError:
        return None


def _info_replies(option: int, export: ExportView, wanted: list[int], structured: bool) -> bytes:
    out = [P.option_reply(option, P.REP_INFO, P.INFO_EXPORT_BODY.pack(
        P.INFO_EXPORT, export.size, transmission_flags(export, structured)))]
    for info in dict.fromkeys(wanted):
        if info == P.INFO_NAME:
            body = struct.pack(">H", P.INFO_NAME) + export.name.encode()
        elif info == P.INFO_DESCRIPTION:
            body = struct.pack(">H", P.INFO_DESCRIPTION) + export.description.encode()
        elif info == P.INFO_BLOCK_SIZE:
            body = P.INFO_BLOCK_SIZE_BODY.pack(P.INFO_BLOCK_SIZE, 1, P.PREFERRED_BLOCK,
                                               P.MAX_PAYLOAD)
        else:
            continue  # unknown info types are ignored, as the protocol asks
        out.append(P.option_reply(option, P.REP_INFO, body))
    out.append(P.option_reply(option, P.REP_ACK))
    return b"".join(out)


async def negotiate(sock: socket.socket, current_export) -> Negotiated:
    """Haggle options until the client enters transmission; raise HandshakeClosed otherwise.

    `current_export` is a callable returning an ExportView, so that size and read-only
    state are those of the moment the client asks (a demotion may happen meanwhile).
    """
    wire = _Wire(sock)
    await wire.send(P.SERVER_GREETING.pack(P.NBDMAGIC, P.IHAVEOPT,
                                           P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES))
    (client_flags,) = P.CLIENT_FLAGS.unpack(await wire.recv_exactly(4))
    if client_flags & ~P.KNOWN_CLIENT_FLAGS:
        raise HandshakeClosed(f"unknown client flags 0x{client_flags:x}")
    fixed = bool(client_flags & P.FLAG_C_FIXED_NEWSTYLE)
    no_zeroes = bool(client_flags & P.FLAG_C_NO_ZEROES)
    structured = False

    while True:
        magic, option, length = P.OPTION_HEADER.unpack(await wire.recv_exactly(16))
        if magic != P.IHAVEOPT:
            raise HandshakeClosed(f"bad option magic 0x{magic:x}")
        if length > P.MAX_OPTION_LENGTH:
            raise HandshakeClosed(f"option {option} with {length} bytes of data")
        data = await wire.recv_exactly(length) if length else b""

        if option == P.OPT_EXPORT_NAME:
            export = current_export()
            if not _name_matches(data.decode(errors="replace"), export):
                raise HandshakeClosed(f"unknown export {data[:64]!r}")
            reply = P.EXPORT_NAME_REPLY.pack(export.size, transmission_flags(export, structured))
            await wire.send(reply if no_zeroes else reply + bytes(124))
            return Negotiated(structured)
        if not fixed:
            # Plain newstyle knows no other option and has no way to say "unsupported".
            raise HandshakeClosed(f"option {option} from a non-fixed-newstyle client")

        if option == P.OPT_ABORT:
            await wire.send(P.option_reply(option, P.REP_ACK))
            raise HandshakeClosed("client aborted the handshake")
        if option == P.OPT_LIST:
            if length:
                await wire.send(P.option_reply(option, P.REP_ERR_INVALID))
                continue
            name = current_export().name.encode()
            await wire.send(P.option_reply(option, P.REP_SERVER, struct.pack(">I", len(name)) + name)
                            + P.option_reply(option, P.REP_ACK))
        elif option in (P.OPT_INFO, P.OPT_GO):
            parsed = _parse_info_request(data)
            if parsed is None:
                await wire.send(P.option_reply(option, P.REP_ERR_INVALID))
                continue
            name, wanted = parsed
            export = current_export()
            if not _name_matches(name, export):
                await wire.send(P.option_reply(option, P.REP_ERR_UNKNOWN,
                                               f"no export named {name[:64]!r}".encode()))
                continue
            await wire.send(_info_replies(option, export, wanted, structured))
            if option == P.OPT_GO:
                return Negotiated(structured)
        elif option == P.OPT_STRUCTURED_REPLY:
            if length or structured:
                await wire.send(P.option_reply(option, P.REP_ERR_INVALID))
                continue
            structured = True
            await wire.send(P.option_reply(option, P.REP_ACK))
        elif option in (P.OPT_LIST_META_CONTEXT, P.OPT_SET_META_CONTEXT):
            # No metadata contexts are offered: an empty answer tells the client so.
            reply = P.REP_ACK if structured else P.REP_ERR_INVALID
            await wire.send(P.option_reply(option, reply))
        else:
            # STARTTLS included: this socket is local and root-only, TLS is not offered.
            await wire.send(P.option_reply(option, P.REP_ERR_UNSUP))
