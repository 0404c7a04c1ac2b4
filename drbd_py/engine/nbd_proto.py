"""NBD wire constants and the fixed-size message layouts (newstyle fixed handshake).

Numbers are those of the public NBD protocol description (doc/proto.md of the nbd
project); names follow it so that a reader can look each one up there.
"""
import struct

# --- handshake -------------------------------------------------------------------
NBDMAGIC = 0x4E42444D41474943          # "NBDMAGIC"
IHAVEOPT = 0x49484156454F5054          # "IHAVEOPT"
OPTION_REPLY_MAGIC = 0x0003E889045565A9

FLAG_FIXED_NEWSTYLE = 1 << 0           # handshake flags, server -> client
FLAG_NO_ZEROES = 1 << 1
FLAG_C_FIXED_NEWSTYLE = 1 << 0         # client flags
FLAG_C_NO_ZEROES = 1 << 1
KNOWN_CLIENT_FLAGS = FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERR_UNSUP = 0x80000001
REP_ERR_POLICY = 0x80000002
REP_ERR_INVALID = 0x80000003
REP_ERR_UNKNOWN = 0x80000006
REP_ERR_SHUTDOWN = 0x80000007
REP_ERR_TOO_BIG = 0x80000009

INFO_EXPORT = 0
INFO_NAME = 1
INFO_DESCRIPTION = 2
INFO_BLOCK_SIZE = 3

# --- transmission flags (per export) -----------------------------------------------
TFLAG_HAS_FLAGS = 1 << 0
TFLAG_READ_ONLY = 1 << 1
TFLAG_SEND_FLUSH = 1 << 2
TFLAG_SEND_FUA = 1 << 3
TFLAG_SEND_TRIM = 1 << 5
TFLAG_SEND_WRITE_ZEROES = 1 << 6
TFLAG_SEND_DF = 1 << 7
TFLAG_CAN_MULTI_CONN = 1 << 8

# --- requests and replies ------------------------------------------------------------
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_CACHE = 5
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7

CMD_FLAG_FUA = 1 << 0
CMD_FLAG_NO_HOLE = 1 << 1
CMD_FLAG_DF = 1 << 2
CMD_FLAG_FAST_ZERO = 1 << 4

REPLY_FLAG_DONE = 1 << 0
REPLY_TYPE_NONE = 0
REPLY_TYPE_OFFSET_DATA = 1
REPLY_TYPE_ERROR = (1 << 15) | 1

# Error numbers on the wire are fixed by the protocol, not the host's errno table.
EPERM = 1
EIO = 5
ENOMEM = 12
EINVAL = 22
ENOSPC = 28
EOVERFLOW = 75
ENOTSUP = 95
ESHUTDOWN = 108

# --- layouts ----------------------------------------------------------------------------
SERVER_GREETING = struct.Struct(">QQH")     # NBDMAGIC, IHAVEOPT, handshake flags
CLIENT_FLAGS = struct.Struct(">I")
OPTION_HEADER = struct.Struct(">QII")       # IHAVEOPT, option, length
OPTION_REPLY = struct.Struct(">QIII")       # magic, option, reply type, length
EXPORT_NAME_REPLY = struct.Struct(">QH")    # size, transmission flags (+124 zeroes)
INFO_EXPORT_BODY = struct.Struct(">HQH")    # INFO_EXPORT, size, transmission flags
INFO_BLOCK_SIZE_BODY = struct.Struct(">HIII")
REQUEST = struct.Struct(">IHHQQI")          # magic, flags, type, cookie, offset, length
SIMPLE_REPLY = struct.Struct(">IIQ")        # magic, error, cookie
STRUCTURED_REPLY = struct.Struct(">IHHQI")  # magic, flags, type, cookie, length
OFFSET = struct.Struct(">Q")
ERROR_BODY = struct.Struct(">IH")           # error, message length

# Limits that bound what a client can make us allocate.
MAX_OPTION_LENGTH = 64 * 1024
MAX_STRING = 4096
MAX_PAYLOAD = 32 * 1024 * 1024
PREFERRED_BLOCK = 4096


def option_reply(option: int, reply_type: int, payload: bytes = b"") -> bytes:
    return OPTION_REPLY.pack(OPTION_REPLY_MAGIC, option, reply_type, len(payload)) + payload


def simple_reply(cookie: int, error: int = 0) -> bytes:
    return SIMPLE_REPLY.pack(SIMPLE_REPLY_MAGIC, error, cookie)


def structured_error(cookie: int, error: int, message: str = "") -> bytes:
    text = message.encode()[:MAX_STRING]
    body = ERROR_BODY.pack(error, len(text)) + text
    return STRUCTURED_REPLY.pack(STRUCTURED_REPLY_MAGIC, REPLY_FLAG_DONE, REPLY_TYPE_ERROR,
                                 cookie, len(body)) + body


def structured_done(cookie: int) -> bytes:
    return STRUCTURED_REPLY.pack(STRUCTURED_REPLY_MAGIC, REPLY_FLAG_DONE, REPLY_TYPE_NONE,
                                 cookie, 0)


def structured_read_header(cookie: int, offset: int, length: int) -> bytes:
    """Header of a single OFFSET_DATA chunk that completes the read (the data follows)."""
    return STRUCTURED_REPLY.pack(STRUCTURED_REPLY_MAGIC, REPLY_FLAG_DONE,
                                 REPLY_TYPE_OFFSET_DATA, cookie,
                                 length + OFFSET.size) + OFFSET.pack(offset)
