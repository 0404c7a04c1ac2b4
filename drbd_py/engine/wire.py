"""The replication link's packets (docs/drbd-link.md): a 12-byte header (magic, type,
volume, payload length) followed by a fixed struct per type and, for data packets, the
data itself.  Pure encode/decode; no I/O here."""
from __future__ import annotations

import struct

MAGIC = 0x44525059                  # "DRPY"
PROTO_MIN = 2                       # 2: HELLO carries the link's incarnation
PROTO_MAX = 2
MAX_PAYLOAD = 64 << 20
HEADER = struct.Struct(">IHHI")     # magic, type, volume, payload length
CONN_VOLUME = 0xFFFF                # packets about the connection, not one volume

# handshake
HELLO = 0x01
AUTH_CHALLENGE = 0x02
AUTH_RESPONSE = 0x03
PROTOCOL = 0x04
# per volume, connect-time negotiation and state
SIZES = 0x05
UUIDS = 0x06
STATE = 0x07
SYNC_UUID = 0x08
BITMAP = 0x09
STATE_REQ = 0x0A
STATE_REPLY = 0x0B
# keep-alive
PING = 0x10
PING_ACK = 0x11
# replication
DATA = 0x20
RECV_ACK = 0x21
WRITE_ACK = 0x22
NEG_ACK = 0x23
FLUSH = 0x24
FLUSH_ACK = 0x25
TRIM = 0x26
# resync
RS_REQUEST = 0x30
RS_DATA = 0x31
RS_IS_IN_SYNC = 0x32
RS_WRITE_ACK = 0x33
CSUM_RS_REQUEST = 0x34
RS_NEG = 0x35
# online verify
OV_REQUEST = 0x40
OV_REPLY = 0x41
OV_RESULT = 0x42
# reads served by the peer (a Primary without usable local data for a block)
READ_REQ = 0x50
READ_REPLY = 0x51

_TYPES = ("HELLO AUTH_CHALLENGE AUTH_RESPONSE PROTOCOL SIZES UUIDS STATE SYNC_UUID BITMAP "
          "STATE_REQ STATE_REPLY PING PING_ACK DATA RECV_ACK WRITE_ACK NEG_ACK FLUSH "
          "FLUSH_ACK TRIM RS_REQUEST RS_DATA RS_IS_IN_SYNC RS_WRITE_ACK CSUM_RS_REQUEST "
          "RS_NEG OV_REQUEST OV_REPLY OV_RESULT READ_REQ READ_REPLY").split()
NAMES = {globals()[name]: name for name in _TYPES}

HELLO_S = struct.Struct(">HHI")            # proto min, proto max, feature bits
PROTOCOL_S = struct.Struct(">BBBBBB")      # wire protocol, asb0p, asb1p, asb2p, two-primaries,
#                                            discard-my-data; then csums and verify names
SIZES_S = struct.Struct(">QQQ")            # backing bytes, user size, current size
UUIDS_S = struct.Struct(">QQQQQQ")         # current, bitmap, h0, h1, bits set, flags
STATE_S = struct.Struct(">BBBBBB")         # role, peer, conn, disk, pdsk, flag bits
STATE_REQ_S = struct.Struct(">IB")         # request id, what
STATE_REPLY_S = struct.Struct(">Ii")       # request id, SS result
U64 = struct.Struct(">Q")
DATA_S = struct.Struct(">QQI")             # seq, offset, flags
NEG_ACK_S = struct.Struct(">QQI")          # seq, offset, length
TRIM_S = struct.Struct(">QQQ")             # seq, offset, length
BLOCK_S = struct.Struct(">QI")             # offset, length
BITMAP_S = struct.Struct(">QIB")           # byte offset, raw length, last chunk
READ_REQ_S = struct.Struct(">QQI")         # request id, offset, length
READ_REPLY_S = struct.Struct(">QB")        # request id, 0 ok / 1 failed; then the data

# DATA flags
DF_FUA = 1

# STATE flag bits
SF_SUSP = 1
SF_USER_ISP = 2
SF_AFTR_ISP = 4
SF_NEGOTIATE = 8       # "run the sync handshake on this": connect, attach, forced primary

# STATE_REQ kinds
REQ_PRIMARY = 1        # sender wants to become Primary
REQ_SYNC_SOURCE = 2    # sender becomes SyncSource with a full sync (invalidate-remote)
REQ_SYNC_TARGET = 3    # sender becomes SyncTarget with a full sync (invalidate)
REQ_VERIFY = 4         # sender starts online verify as VerifyS

PROTOCOLS = {"A": 1, "B": 2, "C": 3}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}
AFTER_SB = ["disconnect", "discard-younger-primary", "discard-older-primary",
            "discard-zero-changes", "discard-least-changes", "discard-local",
            "discard-remote", "consensus", "discard-secondary", "call-pri-lost-after-sb",
            "violently-as0p"]


class WireError(Exception):
    """Malformed packet from the peer: the connection is dropped (ProtocolError)."""


def header(ptype: int, volume: int, length: int) -> bytes:
    return HEADER.pack(MAGIC, ptype, volume, length)


def parse_header(buf, offset: int = 0) -> tuple[int, int, int]:
    magic, ptype, volume, length = HEADER.unpack_from(buf, offset)
    if magic != MAGIC:
        raise WireError(f"bad magic 0x{magic:08x}")
    if length > MAX_PAYLOAD:
        raise WireError(f"packet too large ({length} bytes)")
    return ptype, volume, length


def unpack(fmt: struct.Struct, payload, what: str) -> tuple:
    if len(payload) < fmt.size:
        raise WireError(f"short {what} packet ({len(payload)} bytes)")
    return fmt.unpack_from(payload)


def encode_names(*names: str) -> bytes:
    out = bytearray()
    for name in names:
        raw = (name or "").encode()[:255]
        out.append(len(raw))
        out += raw
    return bytes(out)


def decode_names(payload, count: int) -> list[str]:
    names, pos = [], 0
    for _ in range(count):
        if pos >= len(payload):
            raise WireError("truncated name list")
        n = payload[pos]
        names.append(bytes(payload[pos + 1:pos + 1 + n]).decode(errors="replace"))
        pos += 1 + n
    return names


def state_flags(susp: bool, user_isp: bool, aftr_isp: bool, negotiate: bool) -> int:
    return (SF_SUSP * susp) | (SF_USER_ISP * user_isp) | (SF_AFTR_ISP * aftr_isp) | \
           (SF_NEGOTIATE * negotiate)
