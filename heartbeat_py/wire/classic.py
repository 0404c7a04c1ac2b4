"""The classic (heartbeat 1.x) form: `>>>\\n`, one `name=value\\n` per field, `<<<\\n`.

The same rendering, without the head, tail and `auth` lines, is what the inner
`auth=IDX HEX` field signs, so netstring packets need it too (cl_msg.c, msg2string_buf).
Newlines cannot appear inside a line: a string's newlines travel as byte 0x13, and a
nested message's line ends as a per-depth symbol (cl_msg_types.c).
"""
import base64
import binascii

from .errors import Garbled, Truncated
from .fields import F_AUTH
from .message import Field, FieldType, Message, to_bytes
from .netstring import MAX_DEPTH, expect, field_name, nested, pack_list, text, unpack_list

START = b">>>\n"
END = b"<<<\n"
STRING_NEWLINE = 0x13
# The symbol that stands for a newline of a message nested at each depth.
DEPTH_NEWLINE = (20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 15, 16, 17, 18)


# ---------------------------------------------------------------- encoding
def _render_value(field, depth):
    t = field.type
    if t == FieldType.STRING:
        return to_bytes(field.value).replace(b"\n", bytes((STRING_NEWLINE,)))
    if t in (FieldType.BINARY, FieldType.COMPRESS):
        return base64.b64encode(field.value)
    if t == FieldType.LIST:
        if any("\n" in item for item in field.value):
            # heartbeat writes such an item raw and breaks its own line: refuse
            raise ValueError(f"field {field.name}: newline inside a list item")
        return pack_list(field.value)
    if depth >= MAX_DEPTH - 1:
        raise ValueError("message nested too deep")
    nested = encode(field.value, depth + 1)
    symbol = bytes((DEPTH_NEWLINE[depth],))
    if symbol in nested:
        # heartbeat refuses this too: the symbol would read back as a newline
        raise ValueError(f"field {field.name}: nested message contains byte {symbol!r}")
    return nested.replace(b"\n", symbol)


def render_fields(msg, depth=0, skip_auth=False):
    """`name=value\\n` lines; with skip_auth, the text the inner auth field signs."""
    out = bytearray()
    for field in msg:
        if skip_auth and field.name == F_AUTH:
            continue
        if field.type != FieldType.STRING:
            out += b"(%d)" % int(field.type)
        out += to_bytes(field.name) + b"=" + _render_value(field, depth) + b"\n"
    return bytes(out)


def encode(msg, depth=0):
    return START + render_fields(msg, depth) + END


# ---------------------------------------------------------------- decoding
def _parse_line(line, depth):
    eq = line.find(b"=")
    if eq <= 0:
        raise Garbled(f"classic line without name=value: {line[:24]!r}")
    name, raw = line[:eq], line[eq + 1:]
    ftype = FieldType.STRING
    if name[:1] == b"(":
        if len(name) < 4 or name[2:3] != b")" or not 49 <= name[1] <= 53:
            raise Garbled(f"bad type prefix in classic field {name[:8]!r}")
        ftype = FieldType(name[1] - 48)
        name = name[3:]
    name = field_name(name)
    if ftype == FieldType.STRING:
        value = text(raw.replace(bytes((STRING_NEWLINE,)), b"\n"))
    elif ftype in (FieldType.BINARY, FieldType.COMPRESS):
        try:
            value = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise Garbled(f"bad base64 in classic field {name}") from None
    elif ftype == FieldType.LIST:
        value = unpack_list(raw)
    else:
        value = nested(decode, raw.replace(bytes((DEPTH_NEWLINE[depth],)), b"\n"), depth, name)
    return Field(name, ftype, value)


def decode(data, pos=0, depth=0):
    """Parse `>>>\\n ... <<<\\n` starting at `pos`; returns (Message, end position)."""
    pos = expect(data, pos, START, "classic")
    msg = Message()
    while True:
        # heartbeat skips blank lines between fields
        while data[pos:pos + 1] == b"\n":
            pos += 1
        if data[pos:pos + len(END)] == END:
            return msg, pos + len(END)
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise Truncated("packet ends inside a classic line")
        msg.fields.append(_parse_line(data[pos:nl], depth))
        pos = nl + 1
