"""ucast, bcast and mcast between two throwaway network namespaces joined by a veth
pair named eth0 on both sides (192.0.2.1 and 192.0.2.2, as the reference set-up).
Each medium's sockets are made inside its node's namespace; one event loop in the
test's own namespace serves them all."""
import asyncio
import contextlib
import ctypes
import os
import shutil
import socket
import subprocess

import pytest

from heartbeat_py.media import Bcast, Mcast, Ucast

from .test_media import wait_for

if os.geteuid() != 0 or not shutil.which("ip"):
    pytest.skip("needs root and iproute2", allow_module_level=True)

CLONE_NEWNET = 0x40000000
PORT = 6694
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def inside(netns):
    """Run the block with this thread in `netns`: sockets made here stay there."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if _libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        if _libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(there)
        os.close(home)


@pytest.fixture(scope="module")
def nodes():
    tag = f"hbm{os.getpid()}"
    a, b = tag + "a", tag + "b"
    made = []
    try:
        for ns in (a, b):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        for ns, addr in ((a, "192.0.2.1/24"), (b, "192.0.2.2/24")):
            ip("link", "set", ns, "netns", ns)
            ip("-n", ns, "link", "set", ns, "name", "eth0")
            ip("-n", ns, "addr", "add", addr, "brd", "+", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
        # a second interface on b, to show a medium hears only its own
        ip("-n", b, "link", "add", "side0", "type", "veth", "peer", "name", "side1")
        ip("-n", b, "link", "set", "side0", "up")
        yield a, b
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@pytest.fixture
def loop():
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


class Inbox:
    def __init__(self):
        self.items = []

    def __call__(self, data, source, medium):
        self.items.append((data, source[0], medium.name))

    def data(self):
        return [d for d, _, _ in self.items]


@contextlib.contextmanager
def started(loop, placed):
    """placed: (netns, medium) pairs; start each inside its namespace, close all after."""
    done = []
    try:
        for ns, medium in placed:
            with inside(ns):
                medium.start(loop)
            done.append(medium)
        yield
    finally:
        for medium in done:
            medium.close()


def test_ucast_both_ways(nodes, loop):
    a, b = nodes
    in_a, in_b = Inbox(), Inbox()
    ma = Ucast("eth0", "192.0.2.2", PORT, in_a)
    mb = Ucast("eth0", "192.0.2.1", PORT, in_b)
    with started(loop, [(a, ma), (b, mb)]):
        assert ma.send(b"from a")
        wait_for(loop, lambda: in_b.items)
        assert mb.send(b"from b")
        wait_for(loop, lambda: in_a.items)
    assert in_b.items == [(b"from a", "192.0.2.1", "eth0")]
    assert in_a.items == [(b"from b", "192.0.2.2", "eth0")]


def test_a_medium_hears_only_its_interface(nodes, loop):
    a, b = nodes
    on_eth0, on_side, back = Inbox(), Inbox(), Inbox()
    sender = Ucast("eth0", "192.0.2.2", PORT, back)
    eth0 = Ucast("eth0", "192.0.2.1", PORT, on_eth0)
    side = Ucast("side0", "192.0.2.1", PORT, on_side)     # never sends
    with started(loop, [(a, sender), (b, eth0), (b, side)]):
        sender.send(b"hello b")
        wait_for(loop, lambda: on_eth0.items)
        eth0.send(b"got it")
        # by the time the answer is back, the kernel has long placed (or not) the first
        # datagram on the socket bound to the other interface
        wait_for(loop, lambda: back.items)
        with pytest.raises(BlockingIOError):
            side.rsock.recvfrom(100)
    assert on_side.items == [] and on_eth0.data() == [b"hello b"]


def test_bcast_reaches_the_peer_from_the_senders_address(nodes, loop):
    a, b = nodes
    in_a, in_b = Inbox(), Inbox()
    ma, mb = Bcast("eth0", PORT, in_a), Bcast("eth0", PORT, in_b)
    with started(loop, [(a, ma), (b, mb)]):
        assert ma.destination == ("192.0.2.255", PORT)
        assert ma.send(b"to all")
        wait_for(loop, lambda: in_b.items)
        # Linux also hands a node its own broadcast: heartbeat sees its own packets
        wait_for(loop, lambda: in_a.items)
    assert in_b.items == [(b"to all", "192.0.2.1", "eth0")]
    assert in_a.items == [(b"to all", "192.0.2.1", "eth0")]


@pytest.mark.parametrize("loop_back", [0, 1])
def test_mcast_reaches_the_group_and_loop_decides_about_ourselves(nodes, loop, loop_back):
    a, b = nodes
    in_a, in_b = Inbox(), Inbox()
    ma = Mcast("eth0", "239.192.0.94", PORT, 1, loop_back, in_a)
    mb = Mcast("eth0", "239.192.0.94", PORT, 1, 1, in_b)
    with started(loop, [(a, ma), (b, mb)]):
        assert ma.wsock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 1
        assert ma.send(b"group a")
        wait_for(loop, lambda: in_b.items)
        assert mb.send(b"group b")
        wait_for(loop, lambda: b"group b" in in_a.data())
    assert in_b.items[0] == (b"group a", "192.0.2.1", "eth0")
    # a's own packet, if looped back, arrives before b's answer
    assert in_a.data() == ([b"group a", b"group b"] if loop_back else [b"group b"])
