"""Writes through the Primary's NBD export (the path /dev/drbdN takes): replication per
protocol, FLUSH waiting for what the peer has not confirmed, a local disk error covered
by the peer, a connection lost under writes."""
import asyncio
import errno
import os

import pytest

from drbd_py.engine import nbd_proto as P
from drbd_py.engine import volume as volume_module
from drbd_py.engine.engine import Engine
from drbd_py.engine.nbd_client import NbdClient
from tests.unit.test_engine_harness import MiB, random_bytes, run_pair

SIZES = [4096, 512, 65536, 131072, 262144, 8192, 1 << 20, 4096 * 3]


def exported(p):
    """Node a serves its volume on an NBD socket."""
    rundir = p.a.dir / "run-nbd"
    p.a.engine = Engine(rundir=str(rundir), export=True, devices=False)
    return str(rundir / "nbd" / "1.sock")


async def blocking(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def pipelined_writes(sock, blocks):
    """Send every (offset, data) without waiting, then collect the replies."""
    with NbdClient(sock) as c:
        cookies = {c.send(P.CMD_WRITE, off, len(data), data): off for off, data in blocks}
        errors = {}
        for _ in cookies:
            cookie, error, _ = c.receive()
            errors[cookies[cookie]] = error
        c.flush()
    return errors


def layout(seed):
    blocks, off = [], 0
    for i, size in enumerate(SIZES * 4):
        blocks.append((off, random_bytes(size, f"{seed}-{i}")))
        off += size + (i % 3) * 4096
    return blocks


def on_disk(node, off, length):
    with open(node.disk, "rb") as f:
        f.seek(off)
        return f.read(length)


@pytest.mark.parametrize("protocol", ["A", "B", "C"])
def test_nbd_writes_replicate(tmp_path, protocol):
    async def go(p):
        sock = exported(p)
        await p.initial_sync()
        blocks = layout(protocol)
        errors = await blocking(pipelined_writes, sock, blocks)
        assert set(errors.values()) == {0}
        await p.wait(lambda: not p.a.vol.tl, what="every write acknowledged")
        for off, data in blocks:
            assert on_disk(p.a, off, len(data)) == data
            assert on_disk(p.b, off, len(data)) == data
        assert p.a.vol.bitmap.weight == 0
        assert (p.a.vol.counters.ap, p.a.vol.counters.pe) == (0, 0)
        assert p.a.engine.servers[1].stats()["write"] == len(blocks)
    run_pair(tmp_path, go, protocol=protocol)


def hold_acks(node):
    """The peer writes what it gets but keeps its acks until release() is called."""
    real = node.vol.send_acks
    gate = {"open": False}

    def held():
        if gate["open"]:
            real()
    node.vol.send_acks = held

    def release():
        gate["open"] = True
        real()
    return release


def test_flush_waits_for_writes_the_peer_has_not_confirmed(tmp_path):
    async def go(p):
        sock = exported(p)
        await p.initial_sync()
        release = hold_acks(p.b)
        data = random_bytes(65536, "held")
        c = await blocking(NbdClient, sock)
        try:
            write = await blocking(c.send, P.CMD_WRITE, 4 * MiB, len(data), data)
            flush = await blocking(c.send, P.CMD_FLUSH)
            await p.wait(lambda: on_disk(p.b, 4 * MiB, len(data)) == data, what="peer wrote")
            await asyncio.sleep(0.3)
            assert len(p.a.vol.tl) == 1         # written on both, not confirmed yet
            c.sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.sock.recv(1)                  # neither the write nor the flush answered
            c.sock.settimeout(10)
            release()
            replies = [await blocking(c.receive) for _ in range(2)]
            assert [(cookie, error) for cookie, error, _ in replies] == [(write, 0), (flush, 0)]
        finally:
            c.close()
    run_pair(tmp_path, go)


def fail_local_writes(monkeypatch, node):
    real, bad = os.pwrite, node.vol.fd

    def failing(fd, buf, offset):
        if fd == bad:
            raise OSError(errno.EIO, "Input/output error")
        return real(fd, buf, offset)
    monkeypatch.setattr(volume_module.os, "pwrite", failing)


def test_local_disk_error_is_covered_by_the_peer(tmp_path, monkeypatch):
    async def go(p):
        sock = exported(p)
        await p.initial_sync()
        fail_local_writes(monkeypatch, p.a)
        data = random_bytes(8192, "covered")
        errors = await blocking(pipelined_writes, sock, [(1 * MiB, data)])
        assert errors == {1 * MiB: 0}
        assert on_disk(p.b, 1 * MiB, len(data)) == data
        await p.wait(lambda: p.a.vol.state.disk.name == "Diskless", what="detach")
    run_pair(tmp_path, go)


def test_local_disk_error_without_a_peer_fails_the_write(tmp_path, monkeypatch):
    async def go(p):
        sock = exported(p)
        await p.initial_sync()
        await p.a.step("disconnect")
        fail_local_writes(monkeypatch, p.a)
        errors = await blocking(pipelined_writes, sock, [(1 * MiB, random_bytes(4096, 1))])
        assert errors == {1 * MiB: P.EIO}
    run_pair(tmp_path, go)


async def exported_with_acks_held(p):
    """Node a exports its synced volume, node b holds its acks; four 4 KiB writes a MiB
    apart to send."""
    sock = exported(p)
    await p.initial_sync()
    hold_acks(p.b)
    return sock, [(i * MiB, random_bytes(4096, i)) for i in range(4)]


def test_lost_connection_completes_waiting_writes_and_marks_them(tmp_path):
    async def go(p):
        sock, blocks = await exported_with_acks_held(p)
        sending = asyncio.ensure_future(blocking(pipelined_writes, sock, blocks))
        await p.wait(lambda: len(p.a.vol.tl) == len(blocks), what="writes sent")
        await p.b.step("disconnect")
        errors = await asyncio.wait_for(sending, 10)
        assert set(errors.values()) == {0}          # the local copies are there
        assert p.a.vol.bitmap.weight == len(blocks)  # and the peer must get them later
        assert p.a.vol.counters.ap == 0
    run_pair(tmp_path, go)


def test_protocol_a_answers_before_the_peer_acknowledges(tmp_path):
    async def go(p):
        sock, blocks = await exported_with_acks_held(p)
        errors = await asyncio.wait_for(blocking(pipelined_writes, sock, blocks), 10)
        assert set(errors.values()) == {0}
        assert len(p.a.vol.tl) == len(blocks)       # none of them confirmed by the peer
        await p.wait(lambda: all(on_disk(p.b, off, len(d)) == d for off, d in blocks),
                     what="the peer wrote them")
    run_pair(tmp_path, go, protocol="A")
