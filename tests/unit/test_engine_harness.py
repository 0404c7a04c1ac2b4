"""Two engines in one process, replicating over loopback: the harness of the engine's
protocol tests (it holds no tests itself; named test_* to live among them)."""
import asyncio
import hashlib
import io
import os
import random
import socket
import time

from drbd_py.engine import metadata
from drbd_py.engine.engine import Engine

MiB = 1 << 20


def free_port() -> int:
    """A free port below the kernel's ephemeral range: an engine's outgoing connection
    (in this test run or another) can never take it between this check and the bind."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(1000):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class Node:
    def __init__(self, root, name, size):
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.disk = str(self.dir / "disk.img")
        with open(self.disk, "wb") as f:
            f.truncate(size)
        metadata.create_md(self.disk, out=io.StringIO(), err=io.StringIO())
        self.engine = Engine(rundir=str(self.dir / "run"), export=False, devices=False)
        self.port = free_port()

    @property
    def res(self):
        return self.engine.resources_by_name["r0"]

    @property
    def vol(self):
        return self.res.volumes[0]

    async def step(self, op, **args):
        return await self.engine.handle({"op": op, "v": 1, "resource": "r0", **args})

    def digest(self, length):
        with open(self.disk, "rb") as f:
            return hashlib.sha256(f.read(length)).hexdigest()

    def status(self):
        return self.res.status()


class Pair:
    def __init__(self, tmp_path, size=16 * MiB, protocol="C", net=None, syncer=None,
                 handlers=None, minors=(1, 2)):
        self.a = Node(tmp_path, "a", size)
        self.b = Node(tmp_path, "b", size)
        self.protocol = protocol
        self.net = dict(net or {})
        self.syncer = {"rate": 200 * MiB, **(syncer or {})}
        self.handlers = handlers or {}
        self.minors = minors

    def nodes(self):
        return (self.a, self.b)

    def peer_of(self, node):
        return self.b if node is self.a else self.a

    async def up(self, node, connect=True, **net):
        minor = self.minors[0] if node is self.a else self.minors[1]
        await node.step("new-resource", handlers=self.handlers, options={})
        await node.step("attach", volume=0, minor=minor, device=f"/dev/drbd{minor}",
                        disk=node.disk, meta_disk="internal", meta_index=None,
                        al_extents=31, on_io_error="detach", size=None)
        await node.step("syncer", **self.syncer)
        if connect:
            await self.connect(node, **net)

    async def connect(self, node, **net):
        peer = self.peer_of(node)
        args = {"protocol": self.protocol, "local": {"host": "127.0.0.1", "port": node.port},
                "peer": {"host": "127.0.0.1", "port": peer.port}, "connect_int": 0.2,
                "ping_int": 1, "ping_timeout": 5, "timeout": 20, **self.net, **net}
        await node.step("connect", **args)

    async def up_both(self):
        await self.up(self.a)
        await self.up(self.b)
        await self.wait(lambda: self.cstate() == ("Connected", "Connected"))

    def cstate(self):
        return tuple(n.vol.state.conn.name for n in self.nodes())

    def dstate(self):
        return tuple(f"{n.vol.state.disk.name}/{n.vol.state.pdsk.name}" for n in self.nodes())

    async def wait(self, cond, timeout=20.0, what=""):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timeout waiting for {what or cond}: "
                                     f"cs={self.cstate()} ds={self.dstate()}")
            await asyncio.sleep(0.02)

    async def initial_sync(self):
        await self.up_both()
        await self.a.step("primary", force=True)
        await self.wait(lambda: self.dstate() == ("UpToDate/UpToDate",) * 2, what="sync")

    async def down(self):
        for n in self.nodes():
            try:
                await n.engine.shutdown()
            except Exception:
                pass


def run(coro_fn, *args, timeout=60):
    async def main():
        return await asyncio.wait_for(coro_fn(*args), timeout)
    return asyncio.run(main())


def random_bytes(n, seed=1):
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 128
    return bytes(out[:n])


def run_pair(tmp_path, body, timeout=60, **pair_args):
    """Run `await body(pair)` with a fresh Pair, always shutting both engines down."""
    async def main():
        p = Pair(tmp_path, **pair_args)
        try:
            await body(p)
        finally:
            await p.down()
    run(main, timeout=timeout)
