"""The communication links and ping nodes an ha.cf declares.

Syntax and checks are those of heartbeat 3.0.6's HBcomm plugins:
  bcast IFACE [IFACE...]            one link per interface, port = udpport
  ucast IFACE PEER                  port = udpport
  mcast IFACE GROUP PORT TTL LOOP   GROUP in 224.0.0.0/4, TTL 0..4, LOOP 0|1
  serial /dev/TTY [/dev/TTY...]
  ping HOST [HOST...]  ping_group NAME HOST [HOST...]
Whether an interface exists is a question for start-up, not for parsing.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import Diagnostics
from .scalars import atoi
from .text import ascii_lower, quoted, show, split_words

MCAST_TTL_MAX = 4       # heartbeat 3.0.6 refuses a larger ttl, whatever ha.cf(5) says


@dataclass(frozen=True)
class Medium:
    """One heartbeat link."""

    kind: str                       # bcast, ucast, mcast, serial, ucast6, mcast6
    line: int
    interface: str | None = None
    peer: str | None = None         # ucast: where packets go
    group: str | None = None        # mcast: multicast group
    port: int | None = None         # UDP port
    ttl: int | None = None          # mcast ttl (mcast6: hops)
    loop: int | None = None         # mcast loopback, 0 or 1
    device: str | None = None       # serial tty
    baud: int | None = None         # serial speed

    def describe(self) -> str:
        if self.kind in ("ucast", "ucast6"):
            return f"{self.kind} {self.interface} {self.peer}:{self.port}"
        if self.kind in ("mcast", "mcast6"):
            return f"{self.kind} {self.interface} {self.group}:{self.port} ttl {self.ttl} loop {self.loop}"
        if self.kind == "bcast":
            return f"bcast {self.interface}:{self.port}"
        return f"{self.kind} {self.device} {self.baud} baud"


@dataclass(frozen=True)
class PingNode:
    """A pseudo-node that is up while it answers pings (ping, ping6, ping_group)."""

    kind: str
    name: str                       # lower-cased, as heartbeat names nodes
    hosts: tuple[str, ...]
    line: int


def _words(rest: str, line: int, diag: Diagnostics, kind: str, wanted: tuple[str, ...]) -> list[str] | None:
    words = split_words(rest)
    if len(words) < len(wanted):
        diag.error(line, f"{kind} {show(' '.join(words))}: missing {wanted[len(words)]}"
                   f" (syntax: {kind} {' '.join(wanted)})")
        return None
    if len(words) > len(wanted):
        diag.warn(line, f"{kind}: extra words {' '.join(quoted(w) for w in words[len(wanted):])}"
                  " ignored, as heartbeat does")
    return words


def _port(text: str, line: int, diag: Diagnostics, kind: str) -> int | None:
    port, exact = atoi(text)
    if not 0 < port <= 65535:
        diag.error(line, f"{kind}: bad port {quoted(text)}")
        return None
    if not exact:
        diag.warn(line, f"{kind}: port {quoted(text)} read as {port}")
    return port


def parse_ucast(kind: str, rest: str, line: int, port: int, diag: Diagnostics) -> Medium | None:
    words = _words(rest, line, diag, kind, ("interface", "peer-address"))
    if words is None:
        return None
    return Medium(kind, line, interface=words[0], peer=words[1], port=port)


def parse_mcast(kind: str, rest: str, line: int, diag: Diagnostics) -> Medium | None:
    words = _words(rest, line, diag, kind, ("interface", "group", "port", "ttl", "loop"))
    if words is None:
        return None
    interface, group, port_text, ttl_text, loop_text = words[:5]
    label = f"{kind} {show(interface)}"
    ok = True
    if kind == "mcast" and not _is_ipv4_multicast(group):
        diag.error(line, f"{label}: bad multicast group {quoted(group)}"
                   " (must be in 224.0.0.0/4)")
        ok = False
    if kind == "mcast6" and not _is_ipv6_multicast(group):
        diag.error(line, f"{label}: bad multicast group {quoted(group)}")
        ok = False
    port = _port(port_text, line, diag, label)
    ttl, _ = atoi(ttl_text)
    if not 0 <= ttl <= MCAST_TTL_MAX:
        diag.error(line, f"{label}: bad ttl {quoted(ttl_text)} (0 to {MCAST_TTL_MAX})")
        ok = False
    loop, _ = atoi(loop_text)
    if loop not in (0, 1):
        diag.error(line, f"{label}: bad loop {quoted(loop_text)} (0 or 1)")
        ok = False
    if not ok or port is None:
        return None
    return Medium(kind, line, interface=interface, group=group, port=port, ttl=ttl, loop=loop)


def parse_serial(device: str, line: int, baud: int, diag: Diagnostics) -> Medium | None:
    if not device.startswith("/"):
        diag.error(line, f"serial port {quoted(device)} is not a full pathname")
        return None
    return Medium("serial", line, device=device, baud=baud)


def parse_ping_group(rest: str, line: int, diag: Diagnostics) -> PingNode | None:
    words = split_words(rest)
    if len(words) < 2:
        diag.error(line, "ping_group needs a name and at least one address"
                   " (syntax: ping_group NAME HOST [HOST...])")
        return None
    return PingNode("ping_group", ascii_lower(words[0]), tuple(words[1:]), line)


def ping_node(kind: str, host: str, line: int) -> PingNode:
    return PingNode(kind, ascii_lower(host), (host,), line)


def _is_ipv4_multicast(text: str) -> bool:
    try:
        return ipaddress.IPv4Address(text).is_multicast
    except ValueError:
        return False


def _is_ipv6_multicast(text: str) -> bool:
    try:
        return ipaddress.IPv6Address(text.split("%", 1)[0]).is_multicast
    except ValueError:
        return False
