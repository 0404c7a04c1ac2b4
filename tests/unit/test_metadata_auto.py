"""DRBD 0.7 had no create-md: the first attach of a resource written in 0.7 syntax
writes the meta-data itself, unless that would destroy a file system or other data.
Resources in 8.x syntax keep requiring create-md."""
import asyncio
import hashlib
import io
import logging
import subprocess

import pytest

from drbd_py.config.hostmatch import LocalView
from drbd_py.config.loader import load_text
from drbd_py.adm import plan
from drbd_py.engine import metadata
from drbd_py.engine.engine import Engine
from drbd_py.engine.errors import EngineError

MiB = 1 << 20


def disk_file(tmp_path, size=16 * MiB, name="disk.img"):
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mkfs(path, size_kb=None):
    cmd = ["mkfs.ext4", "-q", "-F", path] + ([str(size_kb)] if size_kb else [])
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def attach(tmp_path, disk, **extra):
    """new-resource + attach on a fresh engine; returns the disk state or raises."""
    async def go():
        engine = Engine(rundir=str(tmp_path / "run"), export=False, devices=False)
        try:
            await engine.handle({"op": "new-resource", "v": 1, "resource": "r0",
                                 "handlers": {}, "options": {}})
            await engine.handle({"op": "attach", "v": 1, "resource": "r0", "volume": 0,
                                 "minor": 1, "device": "/dev/drbd1", "disk": disk,
                                 "meta_disk": "internal", "meta_index": None,
                                 "al_extents": 7, "on_io_error": "detach", "size": None,
                                 **extra})
            return engine.resources_by_name["r0"].volumes[0].state.disk.name
        finally:
            await engine.shutdown()
    return asyncio.run(asyncio.wait_for(go(), 30))


def test_07_attach_creates_meta_data_on_an_empty_disk(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="drbd_py")
    disk = disk_file(tmp_path)
    assert attach(tmp_path, disk, auto_create_md=True) == "Inconsistent"
    assert "Creating state block" in caplog.text
    md = metadata.read_md(disk)
    assert md.sb.gen.current == 4 and md.bits_set == 0      # as create-md writes it
    # the next attach finds it and creates nothing
    caplog.clear()
    assert attach(tmp_path, disk, auto_create_md=True) == "Inconsistent"
    assert "Creating state block" not in caplog.text


def test_8x_attach_without_meta_data_still_needs_create_md(tmp_path):
    disk = disk_file(tmp_path)
    with pytest.raises(EngineError) as e:
        attach(tmp_path, disk)
    assert e.value.code == 10
    assert "(119) No valid meta-data signature found" in e.value.message
    assert "drbdadm create-md" in e.value.message
    with pytest.raises(metadata.MetadataError):
        metadata.read_md(disk)


def test_a_file_system_that_would_be_cut_off_is_refused(tmp_path):
    disk = disk_file(tmp_path)
    mkfs(disk)                                  # the whole disk
    before = digest(disk)
    with pytest.raises(EngineError) as e:
        attach(tmp_path, disk, auto_create_md=True)
    assert e.value.code == metadata.EXIT_REFUSED
    assert "ext2/ext3/ext4 filesystem (16384 kB) would be cut off" in e.value.message
    assert "'drbdadm create-md r0'" in e.value.message
    assert digest(disk) == before


def test_a_file_system_that_fits_is_kept(tmp_path):
    disk = disk_file(tmp_path)
    mkfs(disk, size_kb=8192)                    # half the disk: meta-data fit behind it
    with open(disk, "r+b") as f:                # old meta-data of DRBD 0.7 at the end
        f.seek(16 * MiB - 8192)
        f.write(b"\x83\x74\x02\x6a" * 1024)
    with open(disk, "rb") as f:
        fs = f.read(8 * MiB)
    assert attach(tmp_path, disk, auto_create_md=True) == "Inconsistent"
    with open(disk, "rb") as f:
        assert f.read(8 * MiB) == fs
    fsck = subprocess.run(["e2fsck", "-n", "-f", disk], capture_output=True, timeout=60)
    assert fsck.returncode == 0, fsck.stdout


@pytest.mark.parametrize("where", ["start", "end"])
def test_unknown_data_is_refused(tmp_path, where):
    disk = disk_file(tmp_path)
    with open(disk, "r+b") as f:
        f.seek(0 if where == "start" else 16 * MiB - 8192)
        f.write(b"precious" * 512)
    before = digest(disk)
    with pytest.raises(EngineError) as e:
        attach(tmp_path, disk, auto_create_md=True)
    assert e.value.code == metadata.EXIT_REFUSED
    assert ("unknown extent" if where == "start" else "at the end of the disk") \
        in e.value.message
    assert digest(disk) == before


def test_external_meta_data_area_must_be_empty(tmp_path):
    disk, meta = disk_file(tmp_path), disk_file(tmp_path, 256 * MiB, "meta.img")
    with open(meta, "r+b") as f:                # slot 1 holds something, slot 0 is empty
        f.seek(128 * MiB + 4096)
        f.write(b"x")
    found = metadata.auto_create_md(disk, meta, 0)
    assert found == "nothing in the way"
    assert metadata.read_md(disk, meta, 0).sb.index == 0
    with pytest.raises(metadata.MetadataError) as e:
        metadata.auto_create_md(disk, meta, 1)
    assert e.value.code == metadata.EXIT_REFUSED and "meta.img" in str(e.value)


CONF_07 = """resource r0 {
  protocol C;
  incon-degr-cmd "halt -f";
  syncer { rate 10M; group 1; }
  on alpha { device /dev/drbd0; disk /dev/sdb1; address 10.0.0.1:7788; meta-disk internal; }
  on beta  { device /dev/drbd0; disk /dev/sdb1; address 10.0.0.2:7788; meta-disk internal; }
}
"""


@pytest.mark.parametrize("text, era", [
    (CONF_07, "0.7"),
    ("global { usage-count no; }\n" + CONF_07, "8"),
    (CONF_07.replace("syncer {", "handlers { split-brain \"true\"; }\n  syncer {"), "8"),
    (CONF_07.replace("10.0.0.1:", "ipv4 10.0.0.1:"), "8"),
    ("common { protocol C; }\n" + CONF_07, "8"),
    (CONF_07.replace("meta-disk internal; }\n  on beta", "meta-disk /dev/sdc1; }\n  on beta"),
     "8"),
])
def test_syntax_era_decides_what_drbdadm_asks_for(text, era):
    config = load_text(text)
    res = config.resources[0]
    assert res.syntax == era
    place = LocalView("alpha", set()).place(res)
    step = plan.attach(place, place.me.volumes[0])
    assert step.args.get("auto_create_md", False) == (era == "0.7")
    assert ("auto_create_md=yes" in step.line()) == (era == "0.7")
