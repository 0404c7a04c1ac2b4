"""Whole packets: detect the form, check every authentication present, or build one.

Netstring packet (what 3.0.6 sends): body, then the trailer `LEN:IDX HEX,` signing the
body bytes from `###\\n` through `%%%\\n`. With `msgfmt classic` (3.0.6's default) the
body also carries an inner `auth=IDX HEX` field that signs the classic rendering of
every other field; with `msgfmt netstring` it does not. A receiver of 3.0.6 checks
only the trailer; we check the inner field as well whenever one is present.

Classic packet (heartbeat 1.x): `>>>\\n`, the fields with `auth=` among them, `<<<\\n`.
"""
from enum import Enum

from . import classic, netstring
from .errors import BadAuth, Garbled, TooLarge, Truncated
from .fields import F_AUTH
from .message import FieldType

# heartbeat refuses to send, and cannot receive, a message of MAXMSG bytes or more.
MAX_PACKET = 256 * 1024


class WireFormat(str, Enum):
    NETSTRING = "netstring"
    CLASSIC = "classic"


def detect_format(data):
    if data.startswith(netstring.START):
        return WireFormat.NETSTRING
    if data.startswith(classic.START):
        return WireFormat.CLASSIC
    if netstring.START.startswith(data[:4]) or classic.START.startswith(data[:4]):
        raise Truncated("packet too short for a header")
    raise Garbled("packet starts with neither ### nor >>>")


def _check_inner_auth(msg, keyring, required):
    f = msg.field(F_AUTH)
    if f is None:
        if required:
            raise BadAuth("classic packet without auth field")
        return
    if f.type != FieldType.STRING:
        raise BadAuth("auth field is not a string")
    try:
        signed = classic.render_fields(msg, skip_auth=True)
    except ValueError as e:
        raise Garbled(f"message has no classic rendering to authenticate: {e}") from None
    keyring.check(f.value, signed)


def decode_packet(data, keyring, max_size=MAX_PACKET):
    """bytes -> Message, or one of TooLarge, Truncated, Garbled, BadAuth."""
    data = bytes(data)
    if len(data) >= max_size:
        raise TooLarge(f"packet of {len(data)} bytes (limit {max_size - 1})")
    # A C sender may count the string's terminating NUL into the datagram.
    data = data.rstrip(b"\0")
    fmt = detect_format(data)
    if fmt == WireFormat.CLASSIC:
        msg, end = classic.decode(data)
        if end != len(data):
            raise Garbled(f"{len(data) - end} bytes after <<<")
        _check_inner_auth(msg, keyring, required=True)
        return msg
    msg, end = netstring.decode_body(data)
    if end == len(data):
        raise Truncated("netstring packet without authentication trailer")
    token, after = netstring.peel(data, end)
    if after != len(data):
        raise Garbled(f"{len(data) - after} bytes after the authentication trailer")
    try:
        token = token.decode("ascii")
    except UnicodeDecodeError:
        raise BadAuth("authentication trailer is not ASCII") from None
    keyring.check(token, data[:end])
    _check_inner_auth(msg, keyring, required=False)
    return msg


def encode_packet(msg, keyring, fmt=WireFormat.NETSTRING, inner_auth=True):
    """Message -> bytes signed with the keyring's active key.

    netstring + inner_auth: 3.0.6 with `msgfmt classic` (its default);
    netstring without: 3.0.6 with `msgfmt netstring`; classic: heartbeat 1.x.
    An existing `auth` field keeps its place, so re-encoding a received message
    gives back the received bytes.
    """
    fmt = WireFormat(fmt)
    out = msg.copy()
    if fmt == WireFormat.CLASSIC or inner_auth:
        out.set(F_AUTH, keyring.sign(classic.render_fields(out, skip_auth=True)))
    else:
        out.remove(F_AUTH)
    if fmt == WireFormat.CLASSIC:
        data = classic.encode(out)
    else:
        body = netstring.encode_body(out)
        token = keyring.sign(body).encode("ascii")
        data = body + b"%d:%s," % (len(token), token)
    if len(data) >= MAX_PACKET:
        raise TooLarge(f"message of {len(data)} bytes is too large to send")
    return data
