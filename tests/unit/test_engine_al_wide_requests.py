"""Requests wider than the activity log: with 0.7's `al-extents 7` a 32 MiB NBD write or
mke2fs's whole-device discard spans more 4 MiB extents than there are slots."""
import asyncio

from drbd_py.engine.volume import extent_pieces
from tests.unit.test_engine_harness import MiB, random_bytes, run_pair

EXTENT = 4 * MiB


def test_extent_pieces_cut_at_extent_boundaries():
    assert list(extent_pieces(EXTENT - 512, 1024)) == [(EXTENT - 512, 512), (EXTENT, 512)]
    assert list(extent_pieces(0, 2 * EXTENT)) == [(0, EXTENT), (EXTENT, EXTENT)]
    assert list(extent_pieces(4096, 4096)) == [(4096, 4096)]


def test_discard_and_write_wider_than_seven_extents_complete_and_replicate(tmp_path):
    async def body(p):
        await p.initial_sync()
        vol = p.a.vol
        assert vol.al.nslots == 7
        data = random_bytes(32 * MiB + 8192, seed=7)     # unaligned: 10 extents
        await asyncio.wait_for(vol.trim(0, 36 * MiB), 10)
        await asyncio.wait_for(vol.write(4096, data), 20)
        assert vol.al.refs == {}
        await p.wait(lambda: p.a.digest(40 * MiB) == p.b.digest(40 * MiB), what="peer copy")
        with open(p.b.disk, "rb") as f:
            f.seek(4096)
            assert f.read(len(data)) == data
    run_pair(tmp_path, body, timeout=60, size=42 * MiB, syncer={"al_extents": 7})
