"""Meta-data: create-md, read, wipe-md, dump-md, get-gi; placement and refusals."""
import io
import os
import subprocess

import pytest

from drbd_py.engine import md_layout, metadata
from drbd_py.engine.metadata import MdFlag, MetadataError, MetaStore
from drbd_py.engine.uuids import UUID_JUST_CREATED

MiB = 1 << 20


def make_disk(tmp_path, name="disk", size=64 * MiB):
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def create(disk, meta="internal", index=None, **kw):
    out, err = io.StringIO(), io.StringIO()
    sb = metadata.create_md(disk, meta, index, out=out, err=err, **kw)
    return sb, out.getvalue(), err.getvalue()


def test_internal_layout_shrinks_usable_size_by_bitmap_al_and_superblock(tmp_path):
    disk = make_disk(tmp_path, size=256 * MiB)
    layout = md_layout.compute(disk, "internal", None)
    # bitmap of 256 MiB / 4 KiB bits = 8 KiB, AL 32 KiB, superblock 4 KiB
    assert layout.sb_offset == 256 * MiB - 4096
    assert layout.al_offset == layout.sb_offset - 32 * 1024
    assert layout.bm_size == 8192
    assert layout.data_limit == 256 * MiB - 4096 - 32 * 1024 - 8192
    assert layout.bm_bits * 4096 >= layout.data_limit


def test_external_indexed_slots_are_128_mib(tmp_path):
    disk = make_disk(tmp_path, size=64 * MiB)
    meta = make_disk(tmp_path, "meta", size=300 * MiB)
    layout = md_layout.compute(disk, meta, 1)
    assert layout.sb_offset == 128 * MiB
    assert layout.data_limit == 64 * MiB
    with pytest.raises(md_layout.LayoutError):
        md_layout.compute(disk, meta, 2)


def test_create_md_writes_just_created_uuid_and_reads_back(tmp_path):
    disk = make_disk(tmp_path)
    sb, out, _ = create(disk)
    assert "New drbd meta data block successfully created." in out
    md = metadata.read_md(disk)
    assert md.sb.gen.current == UUID_JUST_CREATED
    assert md.sb.gen.bitmap == 0 and md.sb.gen.history == [0, 0]
    assert not md.sb.has(MdFlag.CONSISTENT)
    assert md.bits_set == 0 and md.al_slots == []
    assert md.sb.device_uuid == sb.device_uuid


def test_create_md_external_flexible(tmp_path):
    disk = make_disk(tmp_path)
    meta = make_disk(tmp_path, "meta", size=1 * MiB)
    create(disk, meta, None)
    md = metadata.read_md(disk, meta, None)
    assert md.layout.placement == md_layout.FLEXIBLE
    assert md.layout.data_limit == 64 * MiB
    # nothing was written to the data disk
    with open(disk, "rb") as f:
        assert not any(f.read())


def test_existing_meta_data_needs_confirmation(tmp_path):
    disk = make_disk(tmp_path)
    create(disk)
    asked = []
    with pytest.raises(MetadataError) as e:
        create(disk, confirm=lambda q: asked.append(q) or False)
    assert e.value.code == 1
    assert "Do you really want to overwrite?" in asked[0]
    create(disk, confirm=lambda q: True)
    _, _, err = create(disk, force=True)
    assert "confirmation forced via --force option" in err


def test_filesystem_that_would_be_truncated_is_refused(tmp_path):
    disk = make_disk(tmp_path, size=32 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", disk], check=True)
    with pytest.raises(MetadataError) as e:
        create(disk, force=True)
    assert e.value.code == 40


def test_filesystem_that_fits_asks_and_force_proceeds(tmp_path):
    disk = make_disk(tmp_path, size=32 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", disk, "16M"], check=True)
    with pytest.raises(MetadataError) as e:
        create(disk, confirm=lambda q: False)
    assert e.value.code == 1
    _, out, _ = create(disk, force=True)
    assert "Found ext2/ext3/ext4 filesystem" in out


def test_read_md_without_meta_data_fails_with_255(tmp_path):
    disk = make_disk(tmp_path)
    with pytest.raises(MetadataError) as e:
        metadata.read_md(disk)
    assert e.value.code == 255


def test_wipe_md(tmp_path):
    disk = make_disk(tmp_path)
    create(disk)
    out = io.StringIO()
    metadata.wipe_md(disk, force=True, out=out, err=io.StringIO())
    assert "successfully wiped out" in out.getvalue()
    with pytest.raises(MetadataError):
        metadata.read_md(disk)


def test_store_claims_disk_so_create_md_refuses_while_attached(tmp_path):
    disk = make_disk(tmp_path)
    create(disk)
    store = MetaStore.open(disk)
    try:
        with pytest.raises(MetadataError) as e:
            create(disk, force=True)
        assert e.value.code == 20
        # reading is still possible (dump-md while attached)
        assert metadata.read_md(disk).sb.gen.current == UUID_JUST_CREATED
    finally:
        store.close()


def test_store_persists_superblock_bitmap_and_al(tmp_path):
    from drbd_py.engine.activity_log import ActivityLog
    from drbd_py.engine.bitmap import Bitmap
    disk = make_disk(tmp_path)
    create(disk)
    store = MetaStore.open(disk)
    store.sb.gen.new_current(primary=True)
    store.sb.flags |= MdFlag.CONSISTENT | MdFlag.WAS_UP_TO_DATE
    store.write_superblock()
    bm = Bitmap(store.layout.bm_bits, store.read_bitmap())
    bm.set_range(10 * 4096, 3 * 4096)
    store.write_bitmap_pages(bm, bm.take_dirty())
    log = ActivityLog(61, store.write_al_block, lambda e: None, store.read_al())
    assert log.begin([3, 5])
    store.close()
    md = metadata.read_md(disk)
    assert md.sb.gen.current & 1 and md.sb.gen.bitmap == UUID_JUST_CREATED
    assert md.bits_set == 3
    assert sorted(md.al_slots) == [3, 5]
    gi = metadata.format_gi(md.sb)
    assert gi.endswith(":1:1:0:0:0:0:0\n") and gi.count(":") == 10
    dump = metadata.format_dump(md)
    assert 'version "py1";' in dump and "# bits-set 3;" in dump
    assert "0x0000000000001C00;" in dump


def test_corrupt_superblock_is_not_valid(tmp_path):
    disk = make_disk(tmp_path)
    create(disk)
    layout = md_layout.compute(disk, "internal", None)
    with open(disk, "r+b") as f:
        f.seek(layout.sb_offset + 30)
        f.write(b"\xff")
    with pytest.raises(MetadataError):
        metadata.read_md(disk)


def test_store_with_external_indexed_meta_data_leaves_the_data_disk_alone(tmp_path):
    from drbd_py.engine.activity_log import ActivityLog
    from drbd_py.engine.bitmap import Bitmap
    disk = make_disk(tmp_path, size=16 * MiB)
    meta = make_disk(tmp_path, "meta", size=256 * MiB)     # sparse: two slots
    create(disk, meta, 1)
    store = MetaStore.open(disk, meta, 1)
    try:
        assert store.layout.sb_offset == 128 * MiB and store.layout.data_limit == 16 * MiB
        bm = Bitmap(store.layout.bm_bits, store.read_bitmap())
        bm.set_all()
        store.write_bitmap_pages(bm, bm.take_dirty())
        ActivityLog(7, store.write_al_block, lambda e: None, store.read_al()).begin([1, 2])
        store.write_superblock()
    finally:
        store.close()
    with open(disk, "rb") as f:
        assert not any(f.read())
    md = metadata.read_md(disk, meta, 1)
    assert md.bits_set == 16 * MiB // 4096 and sorted(md.al_slots) == [1, 2]
    with pytest.raises(MetadataError):
        metadata.read_md(disk, meta, 0)        # slot 0 holds nothing
