"""The I/O path around failures: a local disk error with on-io-error detach, a
Primary without its disk served by the peer, handlers."""
import errno
import os

import pytest

from drbd_py.engine import volume as volume_module
from tests.unit.test_engine_harness import MiB, random_bytes, run_pair


@pytest.fixture
def fail_writes(monkeypatch):
    """fail_writes(fd): from now on every write to `fd` is an I/O error."""
    def arm(bad_fd):
        real = os.pwrite

        def failing(fd, buf, offset):
            if fd == bad_fd:
                raise OSError(errno.EIO, "Input/output error")
            return real(fd, buf, offset)
        monkeypatch.setattr(volume_module.os, "pwrite", failing)
    yield arm
    monkeypatch.undo()


def test_local_io_error_detaches_and_the_peer_serves(tmp_path, fail_writes):
    marker = tmp_path / "ioerr"

    async def go(p):
        await p.initial_sync()
        p.a.vol.cfg.on_io_error = "call-local-io-error"
        await p.a.vol.write(0, random_bytes(64 * 1024, 5))
        fail_writes(p.a.vol.fd)
        fresh = random_bytes(64 * 1024, 6)
        # the local copy fails, the peer's succeeds: the write succeeds
        await p.a.vol.write(1 * MiB, fresh)
        await p.wait(lambda: p.a.vol.state.disk.name == "Diskless", what="detach")
        await p.wait(lambda: marker.exists(), what="local-io-error handler")
        await p.wait(lambda: p.b.vol.state.pdsk.name == "Diskless", what="peer sees it")
        # a diskless Primary reads and writes through its peer
        assert bytes(await p.a.vol.read(1 * MiB, len(fresh))) == fresh
        more = random_bytes(8192, 7)
        await p.a.vol.write(2 * MiB, more)
        with open(p.b.disk, "rb") as f:
            f.seek(2 * MiB)
            assert f.read(len(more)) == more
    run_pair(tmp_path, go, handlers={"local-io-error": f"touch {marker}"})


def test_detached_secondary_reattaches_and_catches_up(tmp_path):
    async def go(p):
        await p.initial_sync()
        await p.b.step("detach", volume=0)
        await p.wait(lambda: p.a.vol.state.pdsk.name == "Diskless", what="peer sees it")
        await p.a.vol.write(3 * MiB, random_bytes(128 * 1024, 9))
        assert p.a.vol.bitmap.weight == 32
        await p.b.step("attach", volume=0, minor=2, device="/dev/drbd2", disk=p.b.disk,
                       meta_disk="internal", meta_index=None)
        await p.wait(lambda: p.dstate() == ("UpToDate/UpToDate",) * 2
                     and p.cstate() == ("Connected", "Connected"), what="catch up")
        assert p.b.vol.last_sync.progress.total_bits == 32
        assert p.a.digest(p.a.vol.size) == p.b.digest(p.a.vol.size)
    run_pair(tmp_path, go)


def test_pri_on_incon_degr_and_legacy_handler_name(tmp_path, fail_writes):
    marker = tmp_path / "degr"

    async def go(p):
        await p.up(p.a, connect=False)
        await p.a.step("primary", force=True)
        assert not marker.exists()
        fail_writes(p.a.vol.fd)
        with pytest.raises(OSError) as e:       # nobody stored it: the write fails
            await p.a.vol.write(0, b"x" * 4096)
        assert e.value.errno == errno.EIO
        await p.wait(lambda: marker.exists(), what="pri-on-incon-degr handler")
        assert p.a.vol.state.disk.name == "Diskless"
    # 0.7's incon-degr-cmd serves as pri-on-incon-degr
    run_pair(tmp_path, go, handlers={"incon-degr-cmd": f"touch {marker}"})
