"""Ping nodes (`ping`, `ping6`, `ping_group` in ha.cf): ICMP echo from the daemon's loop.

Every keepalive an echo request goes to each address of each ping node, from a raw
socket read by the event loop (the daemon runs as root, as heartbeat did). A ping
node is `ping` (heartbeat's status word for a live ping node) while any of its
addresses answered within `deadping`, else `dead`. Until the first deadping has
passed, a node counts as alive, so that a start-up does not look like a loss.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config.media import PingNode

PING_ALIVE, PING_DEAD = "ping", "dead"
ECHO_REQUEST, ECHO_REPLY = 8, 0
ECHO6_REQUEST, ECHO6_REPLY = 128, 129


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, v6: bool) -> bytes:
    kind = ECHO6_REQUEST if v6 else ECHO_REQUEST
    payload = b"heartbeat-py ping"
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if v6:
        return header + payload         # the kernel fills in the ICMPv6 checksum
    return struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq) + payload


def parse_reply(data: bytes, v6: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, else None. IPv4 raw sockets deliver the
    IP header too."""
    if not v6:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return None
    kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", data[:8])
    if kind != (ECHO6_REPLY if v6 else ECHO_REPLY):
        return None
    return ident, seq


@dataclass
class _Target:
    node: PingNode
    host: str
    address: str | None = None
    family: int = socket.AF_INET
    last_reply: float | None = None


@dataclass
class Pinger:
    nodes: list[PingNode]
    interval: float
    deadping: float
    log: logging.Logger
    on_change: Callable[[str, str], None]
    clock: Callable[[], float] = time.monotonic
    status: dict[str, str] = field(default_factory=dict)
    _targets: list[_Target] = field(default_factory=list)
    _socks: dict[int, socket.socket] = field(default_factory=dict)
    _task: asyncio.Task | None = None
    _started: float = 0.0
    _seq: int = 0

    def __post_init__(self):
        self._ident = (os.getpid() ^ random.getrandbits(16)) & 0xFFFF
        for node in self.nodes:
            self.status[node.name] = PING_ALIVE
            for host in node.hosts:
                self._targets.append(_Target(node, host, family=socket.AF_INET6
                                             if node.kind == "ping6" else socket.AF_INET))

    def alive(self) -> int:
        return sum(1 for s in self.status.values() if s == PING_ALIVE)

    def start(self) -> None:
        if not self._targets:
            return
        loop = asyncio.get_running_loop()
        for family in {t.family for t in self._targets}:
            proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
            try:
                sock = socket.socket(family, socket.SOCK_RAW, proto)
            except OSError as e:
                self.log.error("Cannot open an ICMP socket for ping nodes: %s", e.strerror)
                continue
            sock.setblocking(False)
            self._socks[family] = sock
            loop.add_reader(sock, self._receive, sock, family)
        self._started = self.clock()
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for target in self._targets:
                await self._send(target)
            self._judge()
            await asyncio.sleep(self.interval)

    async def _send(self, target: _Target) -> None:
        sock = self._socks.get(target.family)
        if sock is None:
            return
        if target.address is None:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    target.host.split("%")[0], None, family=target.family, type=socket.SOCK_RAW)
                target.address = infos[0][4][0]
            except (OSError, IndexError):
                return      # unresolvable for now: it simply does not answer
        self._seq = (self._seq + 1) & 0xFFFF
        try:
            sock.sendto(echo_request(self._ident, self._seq, target.family == socket.AF_INET6),
                        (target.address, 0))
        except OSError:
            pass            # unreachable network: no reply, the node goes dead

    def _receive(self, sock: socket.socket, family: int) -> None:
        while True:
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = parse_reply(data, family == socket.AF_INET6)
            if reply is None or reply[0] != self._ident:
                continue
            now = self.clock()
            for target in self._targets:
                if target.family == family and target.address == addr[0]:
                    target.last_reply = now
            self._judge()

    def _judge(self) -> None:
        now = self.clock()
        for node in self.nodes:
            replies = [t.last_reply for t in self._targets if t.node is node and t.last_reply]
            if replies and now - max(replies) <= self.deadping:
                new = PING_ALIVE
            elif not replies and now - self._started < self.deadping:
                new = self.status[node.name]        # not heard yet, still in the grace time
            else:
                new = PING_DEAD
            if new != self.status[node.name]:
                self.status[node.name] = new
                if new == PING_DEAD:
                    self.log.warning("node %s: is dead", node.name)
                else:
                    self.log.info("Status update for node %s: status %s", node.name, new)
                self.on_change(node.name, new)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for sock in self._socks.values():
            try:
                asyncio.get_running_loop().remove_reader(sock)
            except RuntimeError:
                pass
            sock.close()
        self._socks.clear()
