"""Our daemons in one event loop, joined by an in-memory network (Bus): the harness
of the test_daemon_* files and test_cl_status. Real timers, short ones (keepalive
100 ms, deadtime 500 ms)."""
from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from heartbeat_py.config import load
from heartbeat_py.daemon import hblog
from heartbeat_py.daemon.core import Daemon
from heartbeat_py.daemon.no_resources import NoResources
from heartbeat_py.daemon.paths import Paths

HA_CF = """\
keepalive 100ms
deadtime 500ms
warntime 300ms
initdead 1000ms
bcast eth0
node alpha beta
auto_failback on
crm no
logfile {dir}/ha-log
debugfile {dir}/ha-debug
{extra}"""
AUTHKEYS = "auth 1\n1 sha1 secret\n"


class Bus:
    """An Ethernet segment: every medium of the same name hears every other one
    (and itself, as Linux delivers a node's own broadcasts)."""

    def __init__(self):
        self.media = []
        self.cut = set()             # {(sender, receiver[, link])} that do not reach
        self.drop = None             # drop(data, sender, receiver) -> bool
        self.sent = []               # (sender, data)

    def factory(self, owner):
        def make(spec, on_datagram, log):
            return BusMedium(self, owner, spec.interface, on_datagram)
        return make

    def deliver(self, sender, data):
        self.sent.append((sender.owner, data))
        for medium in list(self.media):
            if medium.name != sender.name or (sender.owner, medium.owner) in self.cut:
                continue
            if (sender.owner, medium.owner, medium.name) in self.cut:
                continue
            if self.drop and self.drop(data, sender.owner, medium.owner):
                continue
            medium.loop.call_soon(medium.receive, data, sender.owner)

    def inject(self, data, source=("192.0.2.66", 694), name="eth0"):
        """A datagram from nowhere (an attacker on the segment)."""
        for medium in self.media:
            if medium.name == name:
                medium.loop.call_soon(medium.on_datagram, data, source, medium)


class BusMedium:
    def __init__(self, bus, owner, name, on_datagram):
        self.bus, self.owner, self.name, self.on_datagram = bus, owner, name, on_datagram
        self.loop = None

    def start(self, loop):
        self.loop = loop
        self.bus.media.append(self)
        return self

    def send(self, data):
        self.bus.deliver(self, data)
        return True

    def receive(self, data, sender):
        if self in self.bus.media:
            self.on_datagram(data, (f"192.0.2.{1 + ['alpha', 'beta', 'gamma'].index(sender)}", 694),
                             self)

    def close(self):
        if self in self.bus.media:
            self.bus.media.remove(self)


class Node:
    """One daemon of ours on the bus, with its own folders."""

    def __init__(self, tmp: Path, name: str, bus: Bus, extra: str = "", authkeys: str = AUTHKEYS,
                 resource_manager=None):
        self.name, self.bus = name, bus
        self.dir = tmp / name
        (self.dir / "etc").mkdir(parents=True, exist_ok=True)
        (self.dir / "etc" / "ha.cf").write_text(HA_CF.format(dir=self.dir, extra=extra))
        (self.dir / "etc" / "haresources").write_text("")
        (self.dir / "etc" / "authkeys").write_text(authkeys)
        (self.dir / "etc" / "authkeys").chmod(0o600)
        self.paths = Paths(self.dir / "heartbeat.pid", self.dir / "run", self.dir / "lib")
        self.resource_manager = resource_manager or NoResources   # the daemon alone
        self.daemon = None
        self.task = None

    @property
    def config(self):
        return load(self.dir / "etc", env={})

    def start(self):
        config = self.config
        log = hblog.make_logger(hblog.LogTargets(config.hacf.logfile, config.hacf.debugfile))
        self.daemon = Daemon(config, self.name, log, self.paths, rng=random.Random(self.name),
                             media_factory=self.bus.factory(self.name), handle_signals=False,
                             resource_manager=self.resource_manager)
        self.task = asyncio.get_running_loop().create_task(self.daemon.run())
        return self

    async def crash(self):
        """kill -9: no goodbye."""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    def status_of(self, node):
        return self.daemon.node_status(node)

    def log(self):
        path = self.dir / "ha-log"
        return path.read_text() if path.exists() else ""

    def debug(self):
        path = self.dir / "ha-debug"
        return path.read_text() if path.exists() else ""


async def until(condition, timeout, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def deadtime_applied(node, peer):
    """The deadtime `node` gives `peer`: the dt of peer's last status (deadtime + 2 s
    during peer's start lapse, then its configured deadtime)."""
    return node.daemon.membership.nodes[peer].deadtime


async def past_start_lapse(*pairs):
    """Until each (node, peer) applies peer's configured 500 ms, not the lapse's 2.5 s."""
    await until(lambda: all(deadtime_applied(n, p) == 0.5 for n, p in pairs), 3,
                "the start lapse over")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def stop_all(*nodes):
    for n in nodes:
        if n.task and not n.task.done():
            await n.crash()
