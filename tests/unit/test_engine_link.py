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
