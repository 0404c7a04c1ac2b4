"""heartbeat's wire: messages, their two encodings, authentication, message kinds.

Pure functions and data, no I/O. docs/heartbeat-protocol.md explains the protocol
that travels in these messages.
"""
from .auth import AuthKey, AuthMethod, Keyring, digest
from .envelope import Envelope, read_envelope, screen, stamp
from .errors import BadAuth, Garbled, Replay, TooLarge, Truncated, UnknownNode, WireError
from .kinds import (Ack, AskResources, IpRequest, IpRequestResp, NakRexmit, RepNodes,
                    ReqNodes, Resources, RexmitRequest, ShutDone, Starting, Status, Stonith,
                    Takeover, parse)
from .message import Field, FieldType, Message
from .packet import MAX_PACKET, WireFormat, decode_packet, detect_format, encode_packet

__all__ = [
    "AuthKey", "AuthMethod", "Keyring", "digest",
    "Envelope", "read_envelope", "screen", "stamp",
    "BadAuth", "Garbled", "Replay", "TooLarge", "Truncated", "UnknownNode", "WireError",
    "Ack", "AskResources", "IpRequest", "IpRequestResp", "NakRexmit", "RepNodes",
    "ReqNodes", "Resources", "RexmitRequest", "ShutDone", "Starting", "Status", "Stonith",
    "Takeover", "parse",
    "Field", "FieldType", "Message",
    "MAX_PACKET", "WireFormat", "decode_packet", "detect_format", "encode_packet",
]
