"""The netstring body: `###\\n`, then `LEN:(T)name=value,` per field, then `%%%\\n`
(cl_netstring.c). This module knows nothing of authentication: the trailer that
follows the body is packet.py's business.
"""
from .errors import Garbled, Truncated
from .message import Field, FieldType, Message, to_bytes, to_text

START = b"###\n"
END = b"%%%\n"
MAX_DEPTH = 16          # heartbeat's MAXDEPTH for nested messages
_MAX_LEN_DIGITS = 9     # no field can be a gigabyte; refuse before int() does work


# ---------------------------------------------------------------- encoding
def pack_list(items):
    """A string list as one value: `LEN:item,` per item."""
    out = bytearray()
    for item in items:
        raw = to_bytes(item)
        out += b"%d:%s," % (len(raw), raw)
    return bytes(out)


def _value_bytes(field, depth):
    t = field.type
    if t == FieldType.STRING:
        return to_bytes(field.value)
    if t in (FieldType.BINARY, FieldType.COMPRESS):
        return bytes(field.value)
    if t in (FieldType.STRUCT, FieldType.UNCOMPRESS):
        if depth + 1 >= MAX_DEPTH:
            raise ValueError("message nested too deep")
        return encode_body(field.value, depth + 1)
    return pack_list(field.value)


def encode_body(msg, depth=0):
    out = bytearray(START)
    for field in msg:
        item = b"(%d)%s=%s" % (int(field.type), to_bytes(field.name), _value_bytes(field, depth))
        out += b"%d:%s," % (len(item), item)
    out += END
    return bytes(out)


# ---------------------------------------------------------------- decoding
def _need(data, pos, n):
    if pos + n > len(data):
        raise Truncated(f"packet ends inside a field at byte {pos}")


def peel(data, pos):
    """One `LEN:payload,` item at `pos`; returns (payload, position after the comma)."""
    digits_end = pos
    while digits_end < len(data) and 48 <= data[digits_end] <= 57:
        digits_end += 1
    if digits_end == pos:
        if pos >= len(data):
            raise Truncated(f"packet ends at byte {pos} where a length was expected")
        raise Garbled(f"no length at byte {pos}")
    if digits_end - pos > _MAX_LEN_DIGITS:
        raise Garbled(f"absurd length at byte {pos}")
    _need(data, digits_end, 1)
    if data[digits_end] != 0x3A:  # ':'
        raise Garbled(f"length not followed by ':' at byte {digits_end}")
    length = int(data[pos:digits_end])
    start = digits_end + 1
    _need(data, start, length + 1)
    if data[start + length] != 0x2C:  # ','
        raise Garbled(f"item not closed by ',' at byte {start + length}")
    return data[start:start + length], start + length + 1


def expect(data, pos, marker, form):
    """Position after `marker` at `pos`; Truncated if the data stops inside it."""
    head = data[pos:pos + len(marker)]
    if head != marker:
        if marker.startswith(head):
            raise Truncated(f"packet ends inside the {form} header")
        raise Garbled(f"{form} message does not start with {marker[:3].decode()}")
    return pos + len(marker)


def text(raw):
    if 0 in raw:
        raise Garbled("NUL byte inside a text field")
    return to_text(raw)


def field_name(raw):
    name = text(raw)
    # a leading "(" would read back as a type prefix
    if not name or "\n" in name or name[0] == "(":
        raise Garbled(f"bad field name {name!r}")
    return name


def nested(decode, raw, depth, name):
    """A message inside a field: it must fill the field exactly."""
    if depth + 1 >= MAX_DEPTH:
        raise Garbled("message nested too deep")
    try:
        value, end = decode(raw, 0, depth + 1)
    except Truncated as e:
        raise Garbled(f"nested message in field {name}: {e}") from None
    if end != len(raw):
        raise Garbled(f"junk after nested message in field {name}")
    return value


def unpack_list(raw):
    items, pos = [], 0
    while pos < len(raw):
        try:
            item, pos = peel(raw, pos)
        except Truncated as e:
            raise Garbled(f"bad string list: {e}") from None
        if not item:
            raise Garbled("empty string in a string list")
        items.append(text(item))
    return items


def _field(item, depth):
    if len(item) < 4 or item[0] != 0x28 or item[2] != 0x29 or not 48 <= item[1] <= 57:
        raise Garbled(f"field does not start with (TYPE): {item[:8]!r}")
    code = item[1] - 48
    try:
        ftype = FieldType(code)
    except ValueError:
        raise Garbled(f"unknown field type {code}") from None
    eq = item.find(b"=", 3)
    if eq <= 3:
        raise Garbled(f"field without name=value: {item[:16]!r}")
    name = field_name(item[3:eq])
    raw = item[eq + 1:]
    if ftype == FieldType.STRING:
        value = text(raw)
    elif ftype in (FieldType.BINARY, FieldType.COMPRESS):
        value = bytes(raw)
    elif ftype == FieldType.LIST:
        value = unpack_list(raw)
    else:
        value = nested(decode_body, raw, depth, name)
    return Field(name, ftype, value)


def decode_body(data, pos=0, depth=0):
    """Parse `###\\n ... %%%\\n` starting at `pos`; returns (Message, end position)."""
    pos = expect(data, pos, START, "netstring")
    msg = Message()
    while True:
        if data[pos:pos + len(END)] == END:
            return msg, pos + len(END)
        if END.startswith(data[pos:]):
            raise Truncated("packet ends before %%%")
        item, pos = peel(data, pos)
        msg.fields.append(_field(item, depth))
