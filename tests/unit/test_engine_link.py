"""Two engines over loopback: handshake, initial full sync, replication A/B/C."""
import asyncio

import pytest

from tests.unit.test_engine_harness import MiB, random_bytes, run_pair


def test_initial_full_sync_makes_both_up_to_date(tmp_path):
    async def go(p):
        await p.up_both()
        assert p.dstate() == ("Inconsistent/Inconsistent",) * 2
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2, what="sync")
        assert p.cstate() == ("Connected", "Connected")
        size = p.a.vol.size
        assert p.a.digest(size) == p.b.digest(size)
        assert p.a.status()["role"] == "Primary" and p.b.status()["peer_role"] == "Primary"
        assert p.a.vol.gen.current & ~1 == p.b.vol.gen.current & ~1
    run_pair(tmp_path, go)


@pytest.mark.parametrize("protocol", ["A", "B", "C"])
def test_writes_replicate(tmp_path, protocol):
    async def go(p):
        await p.initial_sync()
        data = random_bytes(3 * MiB + 512, seed=protocol)
        await asyncio.gather(*(p.a.vol.write(off, data[off:off + 256 * 1024])
                               for off in range(0, len(data), 256 * 1024)))
        await p.a.vol.flush()
        if protocol == "A":
            await p.wait(lambda: not p.a.vol.tl, what="acks")
        size = p.a.vol.size
        assert p.a.digest(size) == p.b.digest(size)
        assert p.a.vol.bitmap.weight == 0
        assert bytes(await p.a.vol.read(4096, 8192)) == data[4096:12288]
    run_pair(tmp_path, go, protocol=protocol)


def test_two_volumes_in_one_resource(tmp_path):
    import io
    from drbd_py.engine import metadata

    async def go(p):
        for node, minor in ((p.a, 3), (p.b, 4)):
            disk = str(node.dir / "vol1.img")
            with open(disk, "wb") as f:
                f.truncate(8 * MiB)
            metadata.create_md(disk, out=io.StringIO(), err=io.StringIO())
            node.disk1 = disk
            await p.up(node, connect=False)
            await node.step("attach", volume=1, minor=minor, disk=disk)
            await p.connect(node)
        vols = lambda n: list(n.res.volumes.values())  # noqa: E731
        await p.wait(lambda: all(v.state.conn.name == "Connected"
                                 for n in p.nodes() for v in vols(n)))
        await p.a.step("primary", force=True)
        await p.wait(lambda: all(v.state.disk.name == "UpToDate" and v.state.pdsk.name ==
                                 "UpToDate" and v.state.conn.name == "Connected"
                                 for n in p.nodes() for v in vols(n)), what="both synced")
        v1a, v1b = p.a.res.volumes[1], p.b.res.volumes[1]
        await v1a.write(4096, random_bytes(64 * 1024, 4))
        with open(p.a.disk1, "rb") as fa, open(p.b.disk1, "rb") as fb:
            assert fa.read(v1a.size) == fb.read(v1b.size)
        text = open(p.b.engine.rundir + "/proc-drbd").read()
        assert " 2: cs:Connected st:Secondary/Primary" in text
        assert " 4: cs:Connected st:Secondary/Primary" in text
        assert [v["minor"] for v in p.b.status()["volumes"]] == [2, 4]
    run_pair(tmp_path, go)


def test_the_smaller_disk_sets_the_size_on_both_and_it_is_recorded(tmp_path):
    import io
    from drbd_py.engine import metadata

    async def go(p):
        with open(p.b.disk, "r+b") as f:            # beta's disk is 4 MiB smaller
            f.truncate(12 * MiB)
        metadata.create_md(p.b.disk, force=True, out=io.StringIO(), err=io.StringIO())
        await p.up_both()
        small = p.b.vol.max_size()
        assert small < p.a.vol.max_size()
        assert (p.a.vol.size, p.b.vol.size) == (small, small)
        assert [n.status()["volumes"][0]["size"] for n in p.nodes()] == [small, small]
        for node in p.nodes():                      # what dump-md shows as la-size-sect
            md = metadata.read_md(node.disk, "internal", None)
            assert md.sb.la_size == small, node.name
    run_pair(tmp_path, go)


def test_ko_count_drops_a_peer_that_answers_pings_but_not_writes(tmp_path, caplog):
    """The peer answers every ping but never a write: gone after ko-count x timeout
    (4 x 0.5 s), although `timeout` alone never fires (something always arrives)."""
    import logging
    import time
    from tests.unit.test_engine_nbd_writes import hold_acks

    async def go(p):
        caplog.set_level(logging.INFO)
        await p.initial_sync()
        hold_acks(p.b)
        start = time.monotonic()
        writer = asyncio.ensure_future(p.a.vol.write(0, random_bytes(4096, 1)))
        # (the engines reconnect at once: the log tells when the connection was dropped)
        await p.wait(lambda: any("Remote failed to finish a request within ko-count * "
                                 "timeout" in r.getMessage() for r in caplog.records),
                     timeout=10, what="ko-count")
        assert 2.0 <= time.monotonic() - start < 3.5
        await asyncio.wait_for(writer, 5)           # done locally, the peer resyncs it
    run_pair(tmp_path, go, net={"timeout": 5, "ping_int": 0.1, "ping_timeout": 3,
                                "ko_count": 4})
