"""Both engines listen and dial: whichever starts (or comes back) second connects at
once, even with DRBD's default connect-int of 10 s, and two crossing connections end
as one session."""
import asyncio
import logging
import time

import pytest

from drbd_py.engine.engine import Engine
from tests.unit.test_engine_harness import run_pair

SLOW_RETRY = {"connect_int": 10}        # a missed connection would wait 10 s
SOON = 1.5                              # "at once", with room for a loaded machine


def arbiter_and_other(p):
    """The node whose address sorts lower keeps the connection it chooses."""
    return (p.a, p.b) if p.a.port < p.b.port else (p.b, p.a)


async def connected_within(p, seconds):
    start = time.monotonic()
    await p.wait(lambda: p.cstate() == ("Connected", "Connected"), timeout=seconds,
                 what=f"connection within {seconds} s")
    return time.monotonic() - start


def messages(caplog, text):
    return [r for r in caplog.records if text in r.getMessage()]


@pytest.mark.parametrize("first", ["arbiter", "other"])
def test_either_start_order_connects_at_once(tmp_path, first, caplog):
    caplog.set_level(logging.INFO, logger="drbd_py")

    async def go(p):
        arbiter, other = arbiter_and_other(p)
        one, two = (arbiter, other) if first == "arbiter" else (other, arbiter)
        await p.up(one)
        await p.wait(lambda: one.vol.state.conn.name == "WFConnection")
        await asyncio.sleep(0.3)            # its first dial has failed: it now waits
        await p.up(two)
        await connected_within(p, SOON)
        assert len(messages(caplog, "Handshake successful")) == 2
    run_pair(tmp_path, go, net=SLOW_RETRY)


def test_simultaneous_starts_make_one_session_and_one_resync(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="drbd_py")

    async def go(p):
        await p.up(p.a, connect=False)
        await p.up(p.b, connect=False)
        await p.a.step("primary", force=True)       # b needs a full sync
        for cycle in range(5):
            caplog.clear()
            await asyncio.gather(p.connect(p.a), p.connect(p.b))
            await connected_within(p, SOON)
            await asyncio.sleep(0.3)        # a late second session would show up now
            assert p.dstate() == ("UpToDate/UpToDate",) * 2
            assert len(messages(caplog, "Handshake successful")) == 2, cycle
            assert not messages(caplog, "replaces the old one")
            assert len(messages(caplog, "Began resync as SyncSource")) <= 1
            assert len(messages(caplog, "Began resync as SyncTarget")) <= 1
            if cycle == 0:
                assert "will sync 16" in messages(caplog, "as SyncTarget")[0].getMessage()
            await asyncio.gather(p.a.step("disconnect"), p.b.step("disconnect"))
    run_pair(tmp_path, go, net=SLOW_RETRY)


@pytest.mark.parametrize("who", ["arbiter", "other"])
def test_a_restarted_peer_reconnects_at_once(tmp_path, who, caplog):
    caplog.set_level(logging.INFO, logger="drbd_py")

    async def go(p):
        await p.up_both()
        arbiter, other = arbiter_and_other(p)
        node = arbiter if who == "arbiter" else other
        survivor = p.peer_of(node)
        await node.engine.shutdown()
        await p.wait(lambda: survivor.vol.state.conn.name == "WFConnection")
        await asyncio.sleep(0.3)            # the survivor's redial found nobody
        node.engine = Engine(rundir=node.engine.rundir, export=False, devices=False)
        await p.up(node)
        await connected_within(p, SOON)
    run_pair(tmp_path, go, net=SLOW_RETRY)
