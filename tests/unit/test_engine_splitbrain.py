"""Split brain, after-sb policies, authentication, incompatible peers, garbage."""
import asyncio
import os

import pytest

from drbd_py.engine.errors import EngineError
from tests.unit.test_engine_harness import MiB, random_bytes, run_pair


async def write(vol, offset, data):
    await vol.write(offset, data)


def region(node, offset, length):
    with open(node.disk, "rb") as f:
        f.seek(offset)
        return f.read(length)


def test_split_brain_detected_kept_and_resolved_by_discard_my_data(tmp_path):
    marker = tmp_path / "sb"
    handlers = {"split-brain": f"echo $DRBD_RESOURCE >> {marker}-$DRBD_MINOR"}

    async def go(p):
        await p.initial_sync()
        await p.a.step("disconnect")
        await p.b.step("disconnect")
        await p.b.step("primary", force=True)
        da, db = random_bytes(64 * 1024, 11), random_bytes(64 * 1024, 12)
        await write(p.a.vol, 1 * MiB, da)
        await write(p.b.vol, 3 * MiB, db)
        await p.connect(p.a)
        await p.connect(p.b)
        await p.wait(lambda: p.cstate() == ("StandAlone", "StandAlone"), what="split brain")
        await p.wait(lambda: os.path.exists(f"{marker}-1") and os.path.exists(f"{marker}-2"),
                     what="handlers")
        assert open(f"{marker}-1").read() == "r0\n"
        # nothing merged: each keeps its own writes
        assert region(p.a, 1 * MiB, len(da)) == da and region(p.b, 3 * MiB, len(db)) == db
        assert region(p.b, 1 * MiB, len(da)) != da
        # the admin picks b as the victim
        await p.b.step("secondary")
        await p.connect(p.b, discard_my_data=True)
        await p.connect(p.a)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.dstate() == ("UpToDate/UpToDate",) * 2, what="resolution")
        assert p.b.vol.last_sync.kind == "T"
        assert region(p.b, 1 * MiB, len(da)) == da
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, handlers=handlers)


def test_after_sb_0pri_discard_zero_changes(tmp_path):
    net = {"after_sb_0pri": "discard-zero-changes"}

    async def go(p):
        await p.initial_sync()
        await p.a.step("disconnect")
        await p.b.step("disconnect")
        await p.b.step("primary")
        await write(p.a.vol, 0, random_bytes(8192, 3))
        await p.a.step("secondary")
        await p.b.step("secondary")
        await p.connect(p.a)
        await p.connect(p.b)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected")
                     and p.dstate() == ("UpToDate/UpToDate",) * 2, what="auto recovery")
        assert p.b.vol.last_sync.kind == "T"
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go, net=net)


def test_wrong_shared_secret_never_connects(tmp_path):
    async def go(p):
        await p.up(p.a, shared_secret="right")
        await p.up(p.b, shared_secret="wrong")
        await p.wait(lambda: p.cstate() == ("StandAlone", "StandAlone"), what="refusal")
        assert p.a.res.net is None and p.b.res.net is None
        await asyncio.sleep(0.5)
        assert p.cstate() == ("StandAlone", "StandAlone")
        # with the same secret they do connect
        await p.connect(p.a, shared_secret="s3cret")
        await p.connect(p.b, shared_secret="s3cret")
        await p.wait(lambda: p.cstate() == ("Connected", "Connected"))
    run_pair(tmp_path, go, net={"cram_hmac_alg": "sha1"})


def test_incompatible_protocols_go_standalone(tmp_path):
    async def go(p):
        await p.up(p.a, protocol="A")
        await p.up(p.b, protocol="C")
        await p.wait(lambda: p.cstate() == ("StandAlone", "StandAlone"))
    run_pair(tmp_path, go)


def test_garbage_on_the_replication_port_is_refused(tmp_path):
    async def go(p):
        await p.up(p.b)
        for junk in (b"GET / HTTP/1.0\r\n\r\n", os.urandom(4096), b"\x44\x52\x50\x59" +
                     b"\xff" * 20):
            r, w = await asyncio.open_connection("127.0.0.1", p.b.port)
            w.write(junk)
            await w.drain()
            await asyncio.wait_for(r.read(), 5)        # we get closed
            w.close()
        assert p.b.vol.state.conn.name == "WFConnection"
        await p.up(p.a)
        await p.wait(lambda: p.cstate() == ("Connected", "Connected"))
    run_pair(tmp_path, go)


def test_state_rules_and_exit_codes(tmp_path):
    async def go(p):
        await p.up_both()
        with pytest.raises(EngineError) as e:
            await p.a.step("primary")
        assert e.value.code == 17 and "Need access to UpToDate data" in e.value.message
        await p.a.step("primary", force=True)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2)
        with pytest.raises(EngineError) as e:
            await p.b.step("primary")
        assert e.value.code == 11
        assert "(-1) Multiple primaries not allowed by config" in e.value.message
        with pytest.raises(EngineError) as e:
            await p.b.step("outdate", volume=0)
        assert e.value.code == 11 and "(-6)" in e.value.message
        p.a.engine.open_count = lambda vol: 1

        async def in_use(vol):
            return 1
        p.a.engine.open_count_async = in_use
        with pytest.raises(EngineError) as e:
            await p.a.step("secondary")
        assert e.value.code == 11 and "Device is held open by someone" in e.value.message
        with pytest.raises(EngineError):
            await p.a.step("down")
        del p.a.engine.open_count, p.a.engine.open_count_async
        await p.b.step("disconnect")
        await p.b.step("outdate", volume=0)
        assert p.b.vol.state.disk.name == "Outdated"
        with pytest.raises(EngineError) as e:
            await p.b.step("primary")
        assert e.value.code == 17
        with pytest.raises(EngineError) as e:
            await p.b.step("connect", protocol="C", local={"host": "127.0.0.1", "port": 1},
                           peer={"host": "127.0.0.1", "port": 2}, cram_hmac_alg="nope")
        assert e.value.code == 10 and "Failure: (120)" in e.value.message
        reply = await asyncio.wait_for(
            p.b.engine.handle({"op": "status", "resource": "r0"}), 5)
        assert reply["resources"][0]["volumes"][0]["disk"] == "Outdated"
    run_pair(tmp_path, go)


def test_wait_connect_times_out_with_5(tmp_path):
    async def go(p):
        await p.up(p.a)
        with pytest.raises(EngineError) as e:
            await p.a.step("wait-connect", timeout=0.3)
        assert e.value.code == 5
        waiter = asyncio.ensure_future(p.a.step("wait-connect", timeout=10))
        await p.up(p.b)
        assert await asyncio.wait_for(waiter, 10) == {}
    run_pair(tmp_path, go)


def test_allow_two_primaries(tmp_path):
    async def go(p):
        await p.initial_sync()
        await p.b.step("primary")
        await p.wait(lambda: p.a.vol.state.peer.name == "Primary")
        assert (p.a.status()["role"], p.a.status()["peer_role"]) == ("Primary", "Primary")
        await p.b.vol.write(0, random_bytes(4096, 1))
        await p.a.vol.write(8192, random_bytes(4096, 2))
        assert p.a.digest(16384) == p.b.digest(16384)
    run_pair(tmp_path, go, net={"allow_two_primaries": True})
