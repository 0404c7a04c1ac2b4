"""The built-in ipfail (heartbeat_py.resources.ipfail) and the ICMP pinger (.ping)."""
import asyncio
import logging
import socket
import time

from heartbeat_py.config.media import PingNode
from heartbeat_py.resources import holdings as H
from heartbeat_py.resources.ipfail import PingFailover
from heartbeat_py.resources.ping import (PING_ALIVE, PING_DEAD, Pinger, checksum, echo_request,
                                         parse_reply)
from heartbeat_py.wire import fields as F


class Side:
    """One node's ipfail with a stub of the resource protocol."""

    def __init__(self, name, peer, clock, holds, auto_failback=True):
        self.name, self.peer = name, peer
        self.outbox, self.standbys = [], []
        self.stable = True
        self.hold = holds
        self.f = PingFailover(name, self.outbox.append, self.standbys.append,
                              lambda: self.stable, lambda: self.hold,
                              logging.getLogger(f"ipfail.{name}"), clock, delay=0.4,
                              auto_failback=auto_failback)


def exchange(x, y):
    """Deliver messages both ways until none is left."""
    for _ in range(10):
        moved = False
        for src, dst in ((x, y), (y, x)):
            out, src.outbox[:] = list(src.outbox), []
            for msg in out:
                assert msg.get(F.F_TO) == dst.name
                dst.f.message(msg, src.name)
                moved = True
        if not moved:
            return


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def pair(a_holds=H.LOCAL, b_holds=H.LOCAL):
    clock = Clock()
    a, b = Side("alpha", "beta", clock, a_holds), Side("beta", "alpha", clock, b_holds)
    a.f.begin(1, ["beta"]), b.f.begin(1, ["alpha"])
    exchange(a, b)
    return clock, a, b


def test_balanced_counts_do_nothing():
    clock, a, b = pair()
    clock.t += 5
    a.f.tick(), b.f.tick()
    assert a.standbys == [] == b.standbys


def test_the_side_that_lost_its_ping_node_gives_everything_up():
    clock, a, b = pair()
    a.f.local_count(0, ["beta"])
    msgs = [m.get(F.F_TYPE) for m in a.outbox]
    assert msgs == ["num_ping_nodes"] and a.outbox[0].get("num_ping") == "0"
    exchange(a, b)
    clock.t += 0.3
    a.f.tick()
    assert a.standbys == []                 # 2 x keepalive first
    clock.t += 0.2
    a.f.tick(), b.f.tick()
    assert a.standbys == ["all"] and b.standbys == []


def test_giveup_waits_while_resources_are_in_transition():
    clock, a, b = pair()
    a.f.local_count(0, ["beta"])
    exchange(a, b)
    a.stable = False
    clock.t += 1
    a.f.tick()
    assert a.standbys == []
    a.stable = True
    clock.t += 1.1
    a.f.tick()
    assert a.standbys == ["all"]


def test_recovery_before_the_delay_cancels_the_giveup():
    clock, a, b = pair()
    a.f.local_count(0, ["beta"])
    exchange(a, b)
    clock.t += 0.2
    a.f.local_count(1, ["beta"])
    exchange(a, b)
    clock.t += 1
    a.f.tick(), b.f.tick()
    assert a.standbys == [] == b.standbys


def test_balance_restored_gives_foreign_resources_back_with_auto_failback():
    clock, a, b = pair(a_holds=H.NONE, b_holds=H.ALL)      # beta took alpha's group
    a.f.local_count(1, ["beta"])                            # unchanged: nothing sent
    assert a.outbox == []
    a.f.ask()
    exchange(a, b)
    clock.t += 1
    b.f.tick()
    assert b.standbys == ["foreign"]


def test_nothing_to_give_means_no_standby():
    clock, a, b = pair(a_holds=H.NONE, b_holds=H.ALL)
    a.f.local_count(0, ["beta"])
    exchange(a, b)
    clock.t += 1
    a.f.tick()
    assert a.standbys == []


def test_icmp_packets():
    req = echo_request(0x1234, 7, v6=False)
    assert checksum(req) == 0
    reply = bytes([0]) + req[1:]
    ip_header = bytes([0x45]) + bytes(19)
    assert parse_reply(ip_header + reply, v6=False) == (0x1234, 7)
    assert parse_reply(ip_header + req, v6=False) is None        # a request, not a reply
    assert parse_reply(bytes([129, 0, 0, 0, 0x12, 0x34, 0, 9]), v6=True) == (0x1234, 9)


def test_pinger_sees_loopback_alive_and_an_unknown_host_dead(monkeypatch):
    changes = []
    real_getaddrinfo = socket.getaddrinfo

    def no_dns(host, *args, **kw):
        # an unknown name as the resolver answers it, without asking a DNS server
        # (tests send nothing beyond loopback and their own namespaces)
        if host == "nosuch.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kw)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)

    async def main():
        nodes = [PingNode("ping", "127.0.0.1", ("127.0.0.1",), 1),
                 PingNode("ping", "nosuch.invalid", ("nosuch.invalid",), 2),
                 PingNode("ping_group", "grp", ("nosuch.invalid", "127.0.0.1"), 3)]
        pinger = Pinger(nodes, 0.1, 0.5, logging.getLogger("ping"),
                        lambda n, s: changes.append((n, s)))
        assert pinger.alive() == 3                  # no verdict before deadping
        pinger.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ("nosuch.invalid", PING_DEAD) not in changes:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)
        status = dict(pinger.status)
        pinger.close()
        return status
    status = asyncio.run(main())
    # a ping group lives while any of its members answers
    assert status == {"127.0.0.1": PING_ALIVE, "nosuch.invalid": PING_DEAD, "grp": PING_ALIVE}
    assert changes == [("nosuch.invalid", PING_DEAD)]
