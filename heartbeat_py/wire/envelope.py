"""The control fields heartbeat adds to every message it sends (src, srcuuid, seq,
hg, ts, ld, ttl, and destuuid when the message has a dest), and the screening of a
received message's sender: unknown node, replayed generation.

Order and placement follow heartbeat's add_control_msg_fields (ha_msg_internal.c):
an existing field is replaced in place, a missing one is appended, and `NS_` types
get neither `seq` nor `ld` and keep a `src` they already have.
"""
from dataclasses import dataclass

from .errors import Garbled, Replay, UnknownNode
from .fields import (F_HBGENERATION, F_LOAD, F_ORIG, F_ORIGUUID, F_SEQ, F_TIME, F_TO,
                     F_TOUUID, F_TTL, F_TYPE, is_noseq)
from .message import FieldType


@dataclass(frozen=True)
class Envelope:
    src: str
    hg: int                    # generation
    ts: int                    # sender's clock, seconds
    ttl: int
    seq: int | None = None     # None on NS_ types
    ld: str | None = None      # load average line; None on NS_ types
    srcuuid: bytes | None = None


def stamp(msg, env, dest_uuid=None):
    """Add the control fields in place and return msg. `env.seq`/`env.ld` are ignored
    for NS_ types; dest_uuid is the destination node's uuid when it is known."""
    t = msg.get(F_TYPE)
    if t is None:
        raise ValueError("message without type")
    noseq = is_noseq(t)
    if msg.get(F_TO) is not None and dest_uuid is not None:
        msg.set(F_TOUUID, bytes(dest_uuid), FieldType.BINARY)
    values = (
        (F_ORIG, env.src),
        (F_ORIGUUID, env.srcuuid),
        (F_SEQ, None if env.seq is None else "%x" % env.seq),
        (F_HBGENERATION, "%x" % env.hg),
        (F_TIME, "%x" % env.ts),
        (F_LOAD, env.ld),
        (F_TTL, "%d" % env.ttl),
    )
    for name, value in values:
        if noseq and name in (F_SEQ, F_LOAD):
            continue
        if noseq and name in msg:
            continue
        if value is None:
            if name in (F_SEQ, F_LOAD):
                raise ValueError(f"a {t} message needs {name}")
            continue
        msg.set(name, value, FieldType.BINARY if name == F_ORIGUUID else FieldType.STRING)
    return msg


def _hex(msg, name, required=True):
    raw = msg.get(name)
    if raw is None:
        if required:
            raise Garbled(f"message without {name}")
        return None
    try:
        return int(raw, 16)
    except (TypeError, ValueError):
        raise Garbled(f"{name}={raw!r} is not hex") from None


def read_envelope(msg):
    """The control fields of a received message (Garbled if src/ts/seq are unusable).
    A missing `hg` reads as 0, as heartbeat reads it."""
    src = msg.get(F_ORIG)
    t = msg.get(F_TYPE)
    if not isinstance(src, str) or not src or not isinstance(t, str) or not t:
        raise Garbled("message without src or t")
    seq = _hex(msg, F_SEQ, required=not is_noseq(t))
    if seq is not None and seq <= 0:
        raise Garbled(f"bad sequence number {seq}")
    hg = _hex(msg, F_HBGENERATION, required=False) or 0
    ts = _hex(msg, F_TIME)
    try:
        ttl = int(msg.get(F_TTL, "0"))
    except (TypeError, ValueError):
        raise Garbled(f"ttl={msg.get(F_TTL)!r} is not a number") from None
    uuid = msg.get(F_ORIGUUID)
    ld = msg.get(F_LOAD)
    return Envelope(src=src, hg=hg, ts=ts, ttl=ttl, seq=seq,
                    ld=ld if isinstance(ld, str) else None,
                    srcuuid=uuid if isinstance(uuid, bytes) else None)


def screen(env, msg_type, nodes, autojoin=False, last_generation=None):
    """Refuse a sender heartbeat would refuse: UnknownNode when `src` is in no
    `node` line (case-insensitive) and autojoin is off; Replay when a sequenced
    message carries a generation below `last_generation` (NS_ types are exempt,
    as in heartbeat's should_drop_message)."""
    if not autojoin and env.src.lower() not in {n.lower() for n in nodes}:
        raise UnknownNode(f"bad node [{env.src}] in message")
    if last_generation is not None and not is_noseq(msg_type) and env.hg < last_generation:
        raise Replay(f"attempted replay attack [{env.src}]? "
                     f"[gen = {env.hg}, curgen = {last_generation}]")
