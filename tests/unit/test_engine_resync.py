"""Resync: only changed blocks after a disconnect, crash of a Primary, rate, csums,
verify, invalidate, pause."""
import asyncio
import io
import re
import time

import pytest

from drbd_py.engine import metadata
from drbd_py.engine.errors import EngineError

from drbd_py.engine.engine import Engine
from tests.unit.test_engine_harness import MiB, free_port, random_bytes, run_pair


async def write(vol, offset, data, chunk=128 * 1024):
    await asyncio.gather(*(vol.write(offset + o, data[o:o + chunk])
                           for o in range(0, len(data), chunk)))


def test_disconnected_writes_resync_only_changed_blocks(tmp_path):
    async def go(p):
        await p.initial_sync()
        await p.b.step("disconnect")
        await p.wait(lambda: p.a.vol.state.conn.name == "WFConnection")
        await write(p.a.vol, 2 * MiB, random_bytes(1 * MiB, 7))
        await write(p.a.vol, 9 * MiB + 4096, random_bytes(8192, 8))   # 2 blocks
        assert p.a.vol.bitmap.weight == 256 + 2
        sent_before = p.a.vol.counters.ns
        await p.connect(p.b)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.dstate() == ("UpToDate/UpToDate",) * 2, what="resync")
        assert p.b.vol.last_sync.progress.total_bits == 258
        assert p.a.vol.counters.ns - sent_before == 258 * 4096
        size = p.a.vol.size
        assert p.a.digest(size) == p.b.digest(size)
    run_pair(tmp_path, go)


def test_crashed_primary_becomes_sync_target_of_promoted_peer(tmp_path):
    async def go(p):
        await p.initial_sync()
        await write(p.a.vol, 0, random_bytes(2 * MiB, 1))
        # crash of a: its engine vanishes without cleaning up
        crash(p.a)
        await p.wait(lambda: p.b.vol.state.conn.name == "WFConnection", what="b notices")
        await p.b.step("primary")
        await write(p.b.vol, 5 * MiB, random_bytes(1 * MiB, 2))
        # a comes back
        p.a.engine = Engine(rundir=str(p.a.dir / "run2"), export=False, devices=False)
        await p.up(p.a)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.dstate() == ("UpToDate/UpToDate",) * 2, what="resync")
        assert p.a.vol.last_sync.kind == "T"
        # the AL of the crashed node (at least the extents written) was resynced
        assert 256 + 512 <= p.a.vol.last_sync.progress.total_bits <= 2048   # not all
        size = p.a.vol.size
        assert p.a.digest(size) == p.b.digest(size)
        assert p.a.status()["role"] == "Secondary" and p.a.status()["peer_role"] == "Primary"
    run_pair(tmp_path, go)


def crash(node):
    """What kill -9 leaves: sockets closed by the kernel, meta-data as last written."""
    res = node.res
    if res.session:
        res.session.ch.sock.close()
        res.session.closed = True
    if res.link:
        res.link.stop()
    for vol in res.volumes.values():
        vol.store.close()
    node.engine.resources_by_name.clear()


def test_resync_rate_is_honoured(tmp_path):
    async def go(p):
        await p.up_both()
        start = time.monotonic()
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2, timeout=30)
        elapsed = time.monotonic() - start
        synced = p.b.vol.last_sync.progress.total_bits * 4096
        rate = synced / elapsed
        assert 0.9 * 4 * MiB <= rate <= 1.1 * 4 * MiB, rate / MiB
    run_pair(tmp_path, go, size=12 * MiB, syncer={"rate": 4 * MiB})


def test_csums_skip_equal_blocks(tmp_path):
    async def go(p):
        await p.initial_sync()
        await p.b.step("disconnect")
        same = bytes(await p.a.vol.read(0, 1 * MiB))
        await write(p.a.vol, 0, same)                       # rewrite identical data
        await write(p.a.vol, 4 * MiB, random_bytes(256 * 1024, 3))
        sent_before = p.a.vol.counters.ns
        await p.connect(p.b)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"))
        last = p.b.vol.last_sync
        assert last.progress.same_csum == 256
        assert p.a.vol.counters.ns - sent_before == 256 * 1024
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, syncer={"csums_alg": "md5"})


def test_online_verify_counts_differences(tmp_path):
    async def go(p):
        await p.initial_sync()
        # corrupt three blocks behind the engine's back
        with open(p.b.disk, "r+b") as f:
            for block in (10, 11, 300):
                f.seek(block * 4096)
                f.write(b"\xee" * 4096)
        await p.a.step("verify")
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.a.vol.last_sync is not None
                     and p.a.vol.last_sync.kind == "VS", what="verify")
        assert p.a.vol.last_sync.ov_found == 3
        assert p.a.vol.bitmap.weight == 3 and p.b.vol.bitmap.weight == 3
        # a disconnect/connect repairs them
        await p.b.step("disconnect")
        await p.connect(p.b)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.a.vol.bitmap.weight == 0, what="repair")
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, syncer={"verify_alg": "sha1"})


def test_invalidate_and_invalidate_remote_are_full_syncs(tmp_path):
    async def go(p):
        await p.initial_sync()
        await p.b.step("invalidate", volume=0)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"))
        full = p.b.vol.bitmap.nbits
        assert p.b.vol.last_sync.progress.total_bits == full
        await p.a.step("invalidate-remote", volume=0)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected")
                     and p.a.vol.last_sync is not None)
        assert p.a.vol.last_sync.progress.total_bits == full
        # documented deviation: a Primary never becomes SyncTarget (docs/drbd-control.md)
        with pytest.raises(EngineError) as e:
            await p.a.step("invalidate", volume=0)
        assert (e.value.code, e.value.message) == (10, "1: Failure: (162) invalidate of a "
                                                   "Primary is not supported; demote it first")
        with pytest.raises(EngineError) as e:
            await p.b.step("invalidate-remote", volume=0)
        assert e.value.code == 11 and "(-10) State change was refused by peer" in e.value.message
        assert p.cstate() == ("Connected", "Connected")
        # ... and an Inconsistent disk is not promoted, even with an UpToDate peer
        await p.a.step("secondary")
        for node in p.nodes():
            await node.step("syncer", rate=1 * MiB)
        await p.b.step("invalidate", volume=0)
        await p.wait(lambda: p.cstate() == ("SyncSource", "SyncTarget"))
        with pytest.raises(EngineError) as e:
            await p.b.step("primary")
        assert (e.value.code, e.value.message) == \
            (17, "2: State change failed: (-2) Need access to UpToDate data")
    run_pair(tmp_path, go)


def test_pause_and_resume_sync(tmp_path):
    async def go(p):
        await p.up_both()
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.cstate() == ("SyncSource", "SyncTarget"))
        await p.a.step("pause-sync", volume=0)
        await p.wait(lambda: p.cstate() == ("PausedSyncS", "PausedSyncT"))
        assert p.a.vol.state.user_isp and p.b.vol.state.peer_isp
        # requests already on the wire are answered; then nothing moves
        await p.wait(lambda: not p.b.vol.sync.in_flight, what="in-flight drained")
        left = p.b.vol.bitmap.weight
        await asyncio.sleep(0.5)
        assert p.b.vol.bitmap.weight == left
        text = open(p.a.engine.rundir + "/proc-drbd").read()
        assert "cs:PausedSyncS" in text and " C r--u" in text
        await p.a.step("resume-sync", volume=0)
        await p.wait(lambda: p.cstate() == ("SyncSource", "SyncTarget"))
        await p.wait(lambda: "sync'ed:" in open(p.b.engine.rundir + "/proc-drbd").read(),
                     timeout=5)
        text = open(p.b.engine.rundir + "/proc-drbd").read()
        assert re.search(r"^\t\[=*>\.+\] sync'ed: *\d+\.\d% \(\d+/\d+\)K$", text, re.M), text
        assert re.search(r"^\tfinish: \d+:\d\d:\d\d speed: [\d,]+ \([\d,]+\) K/sec$",
                         text, re.M), text
    run_pair(tmp_path, go, syncer={"rate": 2 * MiB})



async def add_second_resource(p, syncer):
    """r1 beside r0 on both engines: 4 MiB, its own disks and ports."""
    ports = {p.a: free_port(), p.b: free_port()}
    for node, minor in ((p.a, 11), (p.b, 12)):
        disk = str(node.dir / "disk1.img")
        with open(disk, "wb") as f:
            f.truncate(4 * MiB)
        metadata.create_md(disk, out=io.StringIO(), err=io.StringIO())
        step = {"v": 1, "resource": "r1"}
        await node.engine.handle({**step, "op": "new-resource"})
        await node.engine.handle({**step, "op": "attach", "volume": 0, "minor": minor,
                                  "disk": disk})
        await node.engine.handle({**step, "op": "syncer", "rate": 8 * MiB, **syncer})
    for node in (p.a, p.b):
        await node.engine.handle({
            "v": 1, "resource": "r1", "op": "connect", "protocol": "C",
            "local": {"host": "127.0.0.1", "port": ports[node]},
            "peer": {"host": "127.0.0.1", "port": ports[p.peer_of(node)]}, "connect_int": 0.2})


@pytest.mark.parametrize("syncer", [{"after": "r0"}, {"group": 2}])
def test_resync_after_and_sync_group_wait_for_the_other_resource(tmp_path, syncer):
    async def go(p):
        await add_second_resource(p, syncer)
        r1 = lambda n: n.engine.resources_by_name["r1"].volumes[0]  # noqa: E731
        await p.up_both()
        if "group" in syncer:                  # 0.7: lower groups resync first
            for node in (p.a, p.b):
                await node.step("syncer", group=1)
        await p.wait(lambda: r1(p.b).state.conn.name == "Connected", what="r1 up")
        await p.a.step("primary", force=True)
        await p.a.engine.handle({"v": 1, "op": "primary", "resource": "r1", "force": True})
        await p.wait(lambda: p.b.vol.state.conn.name == "SyncTarget", what="r0 syncs")
        await p.wait(lambda: r1(p.b).state.conn.name == "PausedSyncT", what="r1 waits")
        assert r1(p.b).state.aftr_isp
        assert "cs:PausedSyncT" in open(p.b.engine.rundir + "/proc-drbd").read()
        await p.wait(lambda: p.b.vol.state.conn.name == "Connected", what="r0 done")
        await p.wait(lambda: r1(p.b).state.disk.name == "UpToDate", what="r1 done")
    run_pair(tmp_path, go, size=8 * MiB, syncer={"rate": 4 * MiB})


def test_interrupted_resync_resumes_where_it_stopped(tmp_path):
    async def go(p):
        await p.up_both()
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.cstate() == ("SyncSource", "SyncTarget"))
        await p.wait(lambda: p.b.vol.bitmap.weight < 0.7 * p.b.vol.bitmap.nbits,
                     what="some progress")
        await p.b.step("disconnect")
        left = p.b.vol.bitmap.weight
        assert p.b.vol.state.disk.name == "Inconsistent"
        await p.connect(p.b)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"), what="resumed sync")
        assert p.b.vol.last_sync.progress.total_bits <= left < p.b.vol.bitmap.nbits
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, syncer={"rate": 8 * MiB})


def test_online_grow_resyncs_the_new_area(tmp_path):
    async def go(p):
        for node in p.nodes():
            await p.up(node, connect=False)
            await node.step("resize", volume=0, size=8 * MiB)
            await p.connect(node)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected"))
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"), what="first sync")
        assert p.a.vol.size == 8 * MiB
        with open(p.b.disk, "r+b") as f:          # the grown area differs at first
            f.seek(10 * MiB)
            f.write(b"\x77" * 4096)
        for node in (p.b, p.a):
            await node.step("resize", volume=0, size=12 * MiB)
        await p.wait(lambda: p.a.vol.size == 12 * MiB and p.b.vol.size == 12 * MiB
                     and p.cstate() == ("Connected", "Connected")
                     and p.a.vol.last_sync is not None and p.a.vol.last_sync.kind == "S"
                     and p.a.vol.bitmap.weight == 0, what="grown and synced")
        assert p.a.digest(12 * MiB) == p.b.digest(12 * MiB)
    run_pair(tmp_path, go)


def test_application_writes_go_on_during_a_resync(tmp_path):
    async def go(p):
        await p.up_both()
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.cstate() == ("SyncSource", "SyncTarget"))
        start = time.monotonic()
        for i in range(8):                      # into synced and not yet synced blocks
            await write(p.a.vol, i * MiB + 4096, random_bytes(64 * 1024, i))
        assert time.monotonic() - start < 1.0   # not held back until the resync ends
        assert p.cstate() == ("SyncSource", "SyncTarget")
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"), timeout=30, what="sync")
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, size=8 * MiB, syncer={"rate": 4 * MiB})
