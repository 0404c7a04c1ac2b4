"""Real NBD clients (libnbd's nbdinfo/nbdcopy, qemu-img) against the engine's server."""
import json
import os
import shutil
import subprocess

import pytest

from drbd_py.engine.nbd_buffers import BufferPool
from drbd_py.engine.nbd_serve import ServerThread

SIZE = 16 * 1024 * 1024


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed (make deps)")


@pytest.fixture
def served(tmp_path):
    srv = ServerThread.over_new_file(str(tmp_path / "disk"), SIZE, str(tmp_path / "nbd.sock"),
                                     export_name="r0")
    srv.uri = f"nbd+unix:///r0?socket={tmp_path}/nbd.sock"
    srv.disk = tmp_path / "disk"
    yield srv
    srv.stop()


def run(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check)


def test_nbdinfo_describes_the_export(served):
    need("nbdinfo")
    info = json.loads(run("nbdinfo", "--json", served.uri).stdout)
    assert info["protocol"] == "newstyle-fixed"
    export = info["exports"][0]
    assert export["export-name"] == "r0"
    assert export["export-size"] == SIZE
    assert export["is_read_only"] is False
    assert export["can_flush"] and export["can_fua"] and export["can_trim"]
    listed = json.loads(run("nbdinfo", "--json", "--list", served.uri).stdout)
    assert [e["export-name"] for e in listed["exports"]] == ["r0"]


def test_nbdcopy_roundtrip_over_several_connections(served, tmp_path):
    need("nbdcopy")
    src = tmp_path / "src"
    src.write_bytes(os.urandom(SIZE))
    run("nbdcopy", "--connections=4", "--requests=16", str(src), served.uri)
    out = tmp_path / "out"
    run("nbdcopy", served.uri, str(out))
    assert out.read_bytes() == src.read_bytes()
    assert served.disk.read_bytes() == src.read_bytes()


def test_qemu_img_reads_writes_and_compares(served, tmp_path):
    need("qemu-img")
    img = tmp_path / "img.raw"
    img.write_bytes(os.urandom(SIZE))
    info = run("qemu-img", "info", "--output=json", served.uri).stdout
    assert json.loads(info)["virtual-size"] == SIZE
    run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", str(img), served.uri)
    assert run("qemu-img", "compare", "-f", "raw", "-F", "raw", str(img), served.uri,
               check=False).returncode == 0
    assert served.disk.read_bytes() == img.read_bytes()


def test_read_only_export_refuses_nbdcopy(served, tmp_path):
    need("nbdcopy")
    served.call(served.server.set_read_only, True)
    info = json.loads(run("nbdinfo", "--json", served.uri).stdout)
    assert info["exports"][0]["is_read_only"] is True
    src = tmp_path / "src"
    src.write_bytes(b"x" * SIZE)
    result = run("nbdcopy", str(src), served.uri, check=False)
    assert result.returncode != 0
    assert served.disk.read_bytes() == bytes(SIZE)


def test_buffer_pool_reuses_only_unshared_buffers():
    pool = BufferPool()
    buf = pool.take(1 << 20)
    view = memoryview(buf)
    pool.give_back(buf, view)
    assert pool.take(1 << 20) is buf

    buf2 = pool.take(1 << 20)
    view2 = memoryview(buf2)
    kept = view2[10:20]                 # a backend that queued a slice of the payload
    pool.give_back(buf2, view2)
    assert pool.take(1 << 20) is not buf2
    assert bytes(kept) == bytes(10)

    buf3 = pool.take(1 << 20)
    view3 = memoryview(buf3)
    held = view3                        # a backend that kept the view itself
    pool.give_back(buf3, view3)
    assert pool.take(1 << 20) is not buf3
    assert len(held[0:4]) == 4          # still usable: it was not released
