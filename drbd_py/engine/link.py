"""Getting a replication connection: listen on our `address`, connect to the peer's, and
run the handshake (dialect, cram-hmac challenge, protocol agreement).  The established
Channel is handed to the resource; everything after that is the resource's business.

Both sides listen and both dial, as DRBD does, so that whichever side starts (or comes
back) second connects at once.  The two connections that may result are resolved by one
side alone, the one whose (address, port) sorts lower, the arbiter: it speaks first (HELLO)
on the one connection it keeps and closes any other while that one is being shaken
hands with; the other side waits for the arbiter's HELLO on every connection and
answers only there.  So the handshake and the authentication run on the kept connection
only, and both sides always agree on which one that is.  A connection whose peer is the
incarnation the established session already talks to is a leftover of such a race and is
dropped, never a reason to set up the session again.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from . import wire
from .channel import Channel
from .wire import WireError

CHALLENGE_LEN = 64
MAX_HANDSHAKES = 16           # connections being shaken hands with at once
MIN_REDIAL = 0.5              # seconds between two dial attempts, at least
HMAC_ALGS = {"sha1": "sha1", "md5": "md5", "sha256": "sha256", "sha512": "sha512",
             "sha384": "sha384", "sha224": "sha224", "crc32c": None}


@dataclass
class NetConfig:
    """The `connect` step's arguments (docs/drbd-control.md)."""
    protocol: str = "C"
    local_host: str = "0.0.0.0"
    local_port: int = 7788
    peer_host: str = "127.0.0.1"
    peer_port: int = 7788
    family: str = "ipv4"
    peer_name: str = ""
    cram_hmac_alg: str = ""
    shared_secret: str = ""
    allow_two_primaries: bool = False
    after_sb_0pri: str = "disconnect"
    after_sb_1pri: str = "disconnect"
    after_sb_2pri: str = "disconnect"
    rr_conflict: str = "disconnect"
    connect_int: float = 10.0
    ping_int: float = 10.0
    ping_timeout: float = 0.5           # seconds
    timeout: float = 6.0                # seconds
    ko_count: int = 0
    discard_my_data: bool = False

    @classmethod
    def from_step(cls, args: dict) -> "NetConfig":
        local, peer = args.get("local") or {}, args.get("peer") or {}
        tenths = lambda v, d: d if v in (None, "") else float(v) / 10.0  # noqa: E731
        return cls(
            protocol=str(args.get("protocol") or "C").upper(),
            local_host=local.get("host", "0.0.0.0"), local_port=int(local.get("port", 7788)),
            peer_host=peer.get("host", "127.0.0.1"), peer_port=int(peer.get("port", 7788)),
            family=local.get("family") or peer.get("family") or "ipv4",
            peer_name=args.get("peer_name") or "",
            cram_hmac_alg=(args.get("cram_hmac_alg") or "").lower(),
            shared_secret=args.get("shared_secret") or "",
            allow_two_primaries=bool(args.get("allow_two_primaries")),
            after_sb_0pri=args.get("after_sb_0pri") or "disconnect",
            after_sb_1pri=args.get("after_sb_1pri") or "disconnect",
            after_sb_2pri=args.get("after_sb_2pri") or "disconnect",
            rr_conflict=args.get("rr_conflict") or "disconnect",
            connect_int=float(args.get("connect_int") or 10),
            ping_int=float(args.get("ping_int") or 10),
            ping_timeout=tenths(args.get("ping_timeout"), tenths(args.get("timeout"), 0.5)),
            timeout=tenths(args.get("timeout"), 6.0),
            ko_count=int(args.get("ko_count") or 0),
            discard_my_data=bool(args.get("discard_my_data")))

    @property
    def arbiter(self) -> bool:
        """Do we choose which of two crossing connections is kept (and resolve
        conflicts in the session)?"""
        return _sort_key(self.local_host, self.local_port) < \
            _sort_key(self.peer_host, self.peer_port)


def _sort_key(host: str, port: int):
    try:
        return (0, ipaddress.ip_address(host).packed, port)
    except ValueError:
        return (1, host.encode(), port)


def check_config(net: NetConfig) -> str | None:
    """What drbdsetup would refuse in a net config, or None."""
    if net.protocol not in wire.PROTOCOLS:
        return f"unknown protocol {net.protocol!r}"
    if net.cram_hmac_alg and HMAC_ALGS.get(net.cram_hmac_alg) is None:
        if net.cram_hmac_alg in HMAC_ALGS:
            return "The 'cram-hmac-alg' you specified is not a digest."
        return ("The 'cram-hmac-alg' you specified is not known in the kernel. "
                "(Maybe you need to modprobe it, or modprobe hmac?)")
    for policy in (net.after_sb_0pri, net.after_sb_1pri, net.after_sb_2pri):
        if policy not in wire.AFTER_SB:
            return f"unknown after-sb policy {policy!r}"
    return None


@dataclass
class PeerParams:
    """What the peer told us in the handshake."""
    hostname: str = ""
    protocol: str = "C"
    discard_my_data: bool = False
    csums_alg: str = ""
    verify_alg: str = ""
    resolver: bool = False             # we are the arbiter (resolve-conflicts side)
    incarnation: int = 0               # the peer's link, new at each of its connects


class RaceLost(Exception):
    """The connection is one the arbiter did not keep (or a leftover of a race won by
    another one): close it without a word; it is no failure."""


class HandshakeFailed(Exception):
    """`fatal` failures (wrong secret, incompatible settings) drop the network
    configuration (StandAlone); others retry after connect-int."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


async def handshake(ch: Channel, net: NetConfig, algs: tuple[str, str], log, *,
                    incarnation: int, duplicate=None, on_hello=None) -> PeerParams:
    """Run our side of the handshake on a fresh channel.  The arbiter speaks first; the
    other side answers only a HELLO (a connection closed before it is a lost race).
    `duplicate(peer_incarnation)` tells a leftover connection of the established peer."""
    timeout = max(net.connect_int, 1.0)
    if net.arbiter:
        _send_hello(ch, incarnation)
    try:
        ptype, _, payload = await ch.recv(timeout)
    except ConnectionError as e:
        if not net.arbiter and ch.closed and not ch.rx_bytes:
            raise RaceLost("closed by the peer before its HELLO") from None
        raise HandshakeFailed(str(e)) from None
    if ptype != wire.HELLO:
        raise HandshakeFailed(f"expected HandShake packet, received: "
                              f"{wire.NAMES.get(ptype, hex(ptype))}")
    pmin, pmax, _ = wire.unpack(wire.HELLO_S, payload, "HandShake")
    if pmax < wire.PROTO_MIN or pmin > wire.PROTO_MAX:
        raise HandshakeFailed(f"incompatible DRBD dialects: I support {wire.PROTO_MIN}-"
                              f"{wire.PROTO_MAX}, peer supports {pmin}-{pmax}")
    (peer_incarnation,) = wire.unpack(wire.U64, payload[wire.HELLO_S.size:], "HandShake")
    if duplicate is not None and duplicate(peer_incarnation):
        raise RaceLost("a second connection to the peer we are connected to")
    if not net.arbiter:
        _send_hello(ch, incarnation)
    params = PeerParams(hostname=bytes(payload[wire.HELLO_S.size + wire.U64.size:]).decode(
        errors="replace"), resolver=net.arbiter, incarnation=peer_incarnation)
    if on_hello:
        on_hello()
    if net.cram_hmac_alg:
        await _authenticate(ch, net, timeout, log)
    csums, verify = algs
    ch.send(wire.PROTOCOL, wire.CONN_VOLUME,
            wire.PROTOCOL_S.pack(wire.PROTOCOLS[net.protocol],
                                 wire.AFTER_SB.index(net.after_sb_0pri),
                                 wire.AFTER_SB.index(net.after_sb_1pri),
                                 wire.AFTER_SB.index(net.after_sb_2pri),
                                 int(net.allow_two_primaries), int(net.discard_my_data)),
            wire.encode_names(csums, verify))
    ptype, _, payload = await _expect(ch, timeout)
    if ptype != wire.PROTOCOL:
        raise HandshakeFailed(f"expected ReportProtocol packet, received: "
                              f"{wire.NAMES.get(ptype, hex(ptype))}")
    proto, a0, a1, a2, two, discard = wire.unpack(wire.PROTOCOL_S, payload, "ReportProtocol")
    names = wire.decode_names(payload[wire.PROTOCOL_S.size:], 2)
    _compare_protocol(net, proto, a0, a1, a2, two, discard)
    params.protocol = wire.PROTOCOL_NAMES.get(proto, "?")
    params.discard_my_data = bool(discard)
    params.csums_alg, params.verify_alg = names
    return params


def _send_hello(ch: Channel, incarnation: int) -> None:
    ch.send(wire.HELLO, wire.CONN_VOLUME,
            wire.HELLO_S.pack(wire.PROTO_MIN, wire.PROTO_MAX, 0), wire.U64.pack(incarnation),
            os.uname().nodename.encode())


async def _expect(ch: Channel, timeout: float):
    try:
        return await ch.recv(timeout)
    except ConnectionError as e:
        raise HandshakeFailed(str(e))


def _after_sb_differ(peer_index: int, mine: str) -> bool:
    """Policies must be equal, except discard-local on one side with discard-remote on
    the other (the only way to use either)."""
    peer = wire.AFTER_SB[peer_index] if peer_index < len(wire.AFTER_SB) else "?"
    one_sided = ("discard-local", "discard-remote")
    if {peer, mine} == set(one_sided):
        return False
    return peer != mine or peer in one_sided


def _compare_protocol(net: NetConfig, proto, a0, a1, a2, two, discard) -> None:
    problems = [
        (proto != wire.PROTOCOLS[net.protocol], "incompatible communication protocols"),
        (_after_sb_differ(a0, net.after_sb_0pri), "incompatible after-sb-0pri settings"),
        (_after_sb_differ(a1, net.after_sb_1pri), "incompatible after-sb-1pri settings"),
        (_after_sb_differ(a2, net.after_sb_2pri), "incompatible after-sb-2pri settings"),
        (bool(discard) and net.discard_my_data,
         "both sides have the 'want_lose' flag set"),
        (bool(two) != net.allow_two_primaries,
         "incompatible setting of the two-primaries options"),
    ]
    for bad, message in problems:
        if bad:
            raise HandshakeFailed(message, fatal=True)


async def _authenticate(ch: Channel, net: NetConfig, timeout: float, log) -> None:
    """cram-hmac: each side proves it knows the secret by keying an HMAC over the
    other's random challenge.  A wrong answer is fatal: the peer never connects."""
    alg = HMAC_ALGS[net.cram_hmac_alg]
    secret = net.shared_secret.encode()
    mine = os.urandom(CHALLENGE_LEN)
    ch.send(wire.AUTH_CHALLENGE, wire.CONN_VOLUME, mine)
    ptype, _, theirs = await _expect(ch, timeout)
    if ptype != wire.AUTH_CHALLENGE:
        raise HandshakeFailed(f"expected AuthChallenge packet, received: "
                              f"{wire.NAMES.get(ptype, hex(ptype))}")
    if len(theirs) > 1024 or len(theirs) < 16:
        raise HandshakeFailed("expected AuthChallenge payload of wrong size", fatal=True)
    if hmac.compare_digest(bytes(theirs), mine):
        raise HandshakeFailed("Peer presented the same challenge!", fatal=True)
    ch.send(wire.AUTH_RESPONSE, wire.CONN_VOLUME, hmac.new(secret, theirs, alg).digest())
    ptype, _, answer = await _expect(ch, timeout)
    if ptype != wire.AUTH_RESPONSE:
        raise HandshakeFailed(f"expected AuthResponse packet, received: "
                              f"{wire.NAMES.get(ptype, hex(ptype))}")
    right = hmac.new(secret, mine, alg).digest()
    if not hmac.compare_digest(bytes(answer), right):
        raise HandshakeFailed("Authentication of peer failed", fatal=True)
    log.info("Peer authenticated using %d bytes of '%s' HMAC", len(right), net.cram_hmac_alg)


class Link:
    """Produces authenticated channels for one resource.

    `established(channel, params)` is called for each successful handshake;
    `failed(message, fatal)` for each failed one; `progress()` when a candidate
    connection passed the dialect check (the resource shows WFReportParams)."""

    def __init__(self, name: str, net: NetConfig, algs, log: logging.LoggerAdapter,
                 established, failed, progress):
        self.name = name
        self.net = net
        self.algs = algs                 # callable -> (csums_alg, verify_alg)
        self.log = log
        self._established = established
        self._failed = failed
        self._progress = progress
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task] = set()
        self._dialer: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.busy = False                # a connection is established: stop dialing
        self.incarnation = int.from_bytes(os.urandom(8), "big")
        self._peer_incarnation: int | None = None   # the established session's peer
        self._shaking = 0                # connections past the arbiter's HELLO

    def start(self) -> None:
        self._listen()
        self._dialer = self.loop.create_task(self._dial_loop())

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self.loop.remove_reader(self._listener.fileno())
            except (ValueError, OSError):
                pass
            self._listener.close()
            self._listener = None
        for task in list(self._tasks) + ([self._dialer] if self._dialer else []):
            task.cancel()
        self._tasks.clear()
        self._dialer = None

    def redial(self) -> None:
        """The established connection ended: look for the peer again, now."""
        self.busy = False
        self._peer_incarnation = None
        self._wake.set()

    # --- listening ---------------------------------------------------------------
    def _listen(self) -> None:
        family = socket.AF_INET6 if ":" in self.net.local_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.net.local_host, self.net.local_port))
        except OSError:
            sock.close()
            raise
        sock.listen(8)
        sock.setblocking(False)
        self._listener = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            sock, addr = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.log.warning("accept failed: %s", e.strerror)
            return
        if not _same_host(addr[0], self.net.peer_host):
            self.log.warning("Discarding connection from unknown address %s", addr[0])
            sock.close()
            return
        if len(self._tasks) >= MAX_HANDSHAKES:
            self.log.warning("too many connections in handshake; closing one from %s",
                             addr[0])
            sock.close()
            return
        self._spawn(self._run(sock, f"{addr[0]}:{addr[1]}"))

    # --- dialing -----------------------------------------------------------------
    async def _dial_loop(self) -> None:
        """Dial at once, then every connect-int while not connected, and at once again
        when the established connection ends (at most every MIN_REDIAL seconds, so a
        peer that drops every connection cannot make us spin)."""
        gap = min(MIN_REDIAL, self.net.connect_int)
        last = -gap
        while True:
            self._wake.clear()
            if not self.busy and not self._shaking:
                await asyncio.sleep(max(0.0, last + gap - time.monotonic()))
                last = time.monotonic()
                sock = await self._dial()
                if sock is not None:
                    await self._run(sock, f"{self.net.peer_host}:{self.net.peer_port}")
            if self._wake.is_set():
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.net.connect_int)
            except asyncio.TimeoutError:
                pass

    async def _dial(self) -> socket.socket | None:
        family = socket.AF_INET6 if ":" in self.net.peer_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if self.net.local_host not in ("0.0.0.0", "::"):
                sock.bind((self.net.local_host, 0))
            await asyncio.wait_for(
                self.loop.sock_connect(sock, (self.net.peer_host, self.net.peer_port)),
                max(self.net.connect_int, 1.0))
            return sock
        except (OSError, asyncio.TimeoutError):
            sock.close()
            return None

    # --- handshake ---------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _duplicate(self, peer_incarnation: int) -> bool:
        return self.busy and peer_incarnation == self._peer_incarnation

    async def _run(self, sock: socket.socket, peer: str) -> bool:
        """Shake hands on a connection, dialed or accepted; True if it was kept."""
        if self.net.arbiter:
            if self._shaking:
                # the connection race: another connection is being shaken hands with
                self.log.debug("connection race: closing the second connection (%s)", peer)
                sock.close()
                return False
            self._shaking += 1
        counted = self.net.arbiter
        ch = Channel(sock, peer)

        def hello_seen():
            nonlocal counted
            if not counted:
                counted = True
                self._shaking += 1
            self._progress()
        try:
            params = await handshake(ch, self.net, self.algs(), self.log,
                                     incarnation=self.incarnation, duplicate=self._duplicate,
                                     on_hello=hello_seen)
        except RaceLost as e:
            self.log.debug("connection race: %s (%s)", e, peer)
            ch.close(str(e))
            return False
        except HandshakeFailed as e:
            ch.close(str(e))
            self._failed(str(e), e.fatal)
            return False
        except WireError as e:
            ch.close(str(e))
            self._failed(f"protocol error: {e}", False)
            return False
        except asyncio.CancelledError:
            ch.close("cancelled")
            raise
        finally:
            if counted:
                self._shaking -= 1
        self.busy = True
        self._peer_incarnation = params.incarnation
        self._established(ch, params)
        return True


def _same_host(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b)
    except ValueError:
        return True   # a host name in the config: we cannot tell, let the handshake decide
