"""First look at a datagram: decode, authenticate, read the control fields, check the
sender is a cluster node. Anything refused becomes a `Refusal` carrying the line to
log, in 3.0.6's words where it has them; nothing here raises for bad input.

Sequence and generation checks come after, per sender (membership.seqtrack).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from heartbeat_py.wire import (BadAuth, Envelope, Keyring, Message, TooLarge, UnknownNode,
                               WireError, WireFormat, decode_packet, read_envelope, screen)
from heartbeat_py.wire.packet import detect_format

_SRC = re.compile(rb"(?:^|[,\n])(?:\d+:)?(?:\(0\))?src=([^,\n\0]{1,64})")


@dataclass(frozen=True)
class Accepted:
    msg: Message
    env: Envelope           # env.src is lower-cased


@dataclass(frozen=True)
class Refusal:
    kind: str               # what went wrong, for counting and rate limiting
    level: int
    text: str               # the log line
    sender: str | None      # node name if one could be read, else None


def claimed_sender(data: bytes) -> str | None:
    """The `src` a packet claims, read without trusting it (for log lines only)."""
    m = _SRC.search(data[:4096])
    if not m:
        return None
    return m.group(1).decode("ascii", "backslashreplace")[:64]


def accept(data: bytes, source: tuple, keyring: Keyring, nodes: list[str],
           autojoin: bool = False) -> Accepted | Refusal:
    where = f"{source[0]}:{source[1]}" if source else "?"
    try:
        msg = decode_packet(data, keyring)
    except BadAuth as e:
        who = claimed_sender(data) or "?"
        try:
            classic = detect_format(data) == WireFormat.CLASSIC
        except WireError:
            classic = False
        if classic:
            text = f"string2msg_ll: node [{who}] failed authentication"
            return Refusal("auth", logging.WARNING, text, who)
        return Refusal("auth", logging.ERROR,
                       f"netstring authentication failed: node [{who}] failed authentication"
                       f" ({e}; from {where})", who)
    except TooLarge as e:
        return Refusal("size", logging.ERROR, f"dropped an {e.reason} from {where}: {e}", None)
    except WireError as e:
        return Refusal(e.reason, logging.ERROR, f"dropped a {e.reason} from {where}: {e}",
                       claimed_sender(data))
    try:
        env = read_envelope(msg)
    except WireError as e:
        return Refusal("fields", logging.ERROR,
                       f"process_clustermsg: missing or bad from/ts/type/seq from {where}: {e}",
                       None)
    if env.ts == 0:
        return Refusal("fields", logging.ERROR, f"process_clustermsg: bad timestamp from {where}",
                       env.src)
    src = env.src.lower()
    try:
        screen(env, msg.type, nodes, autojoin=autojoin)
    except UnknownNode:
        return Refusal("node", logging.ERROR,
                       f"process_status_message: bad node [{env.src}] in message", env.src)
    return Accepted(msg, Envelope(src=src, hg=env.hg, ts=env.ts, ttl=env.ttl, seq=env.seq,
                                  ld=env.ld, srcuuid=env.srcuuid))
