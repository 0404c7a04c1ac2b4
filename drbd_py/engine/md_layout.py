"""Where a volume's meta-data lives and how much of the backing disk stays usable.

Three placements, as DRBD 8 offers them:
- internal: at the end of the data disk, the superblock in the very last 4 KiB, the
  activity log before it, the bitmap before that; the data area ends where the bitmap
  starts (DRBD 8's "flexible" internal meta-data).
- external with an index: slot `index` of 128 MiB on the meta-disk, superblock first,
  then the activity log, then the bitmap (DRBD 0.7/8 fixed-size external meta-data).
- external without an index ("flexible-meta-disk"): the whole meta-disk, same order.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

BLOCK = 4096                 # bitmap granularity and the unit of all meta-data I/O
SLOT_BYTES = 128 << 20       # one index of fixed-size external meta-data
AL_BYTES = 32 << 10          # activity-log area, 8 blocks
SB_BYTES = BLOCK

INTERNAL = "internal"
EXTERNAL = "external"        # with an index
FLEXIBLE = "flexible"        # external, whole device


class LayoutError(Exception):
    """Meta-data cannot be placed as requested (device too small, bad index ...)."""


def align_up(value: int, unit: int = BLOCK) -> int:
    return -(-value // unit) * unit


def bitmap_bytes(data_bytes: int) -> int:
    """On-disk bytes of a bitmap covering `data_bytes` (one bit per 4 KiB, whole blocks)."""
    bits = -(-data_bytes // BLOCK)
    return max(BLOCK, align_up(-(-bits // 8)))


def device_size(path: str) -> int:
    """Size in bytes of a regular file or block device (block devices report via lseek)."""
    st = os.stat(path)
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Layout:
    placement: str
    index: int                 # -1 unless EXTERNAL
    md_path: str               # file holding the meta-data (the data disk when internal)
    md_offset: int             # start of the meta-data area in md_path
    md_size: int
    sb_offset: int             # absolute offsets in md_path
    al_offset: int
    bm_offset: int
    bm_size: int               # bytes reserved for the bitmap
    data_limit: int            # usable bytes of the data disk

    @property
    def bm_bits(self) -> int:
        return -(-self.data_limit // BLOCK)


def compute(disk: str, meta_disk: str, meta_index, disk_size: int | None = None,
            meta_size: int | None = None) -> Layout:
    """Layout for `disk` with `meta_disk` ("internal" or a path) and `meta_index`
    (int, or None for flexible).  Sizes may be given to avoid touching the devices."""
    if disk_size is None:
        disk_size = device_size(disk)
    disk_size -= disk_size % BLOCK
    if meta_disk in (INTERNAL, None, ""):
        return _internal(disk, disk_size)
    if meta_size is None:
        meta_size = device_size(meta_disk)
    meta_size -= meta_size % BLOCK
    if meta_index is None or meta_index == -1:
        return _external(FLEXIBLE, -1, meta_disk, 0, meta_size, disk_size)
    if meta_index < 0:
        raise LayoutError(f"invalid meta-disk index {meta_index}")
    start = meta_index * SLOT_BYTES
    if start + SLOT_BYTES > meta_size:
        raise LayoutError(
            f"Meta device too small: index {meta_index} needs {start + SLOT_BYTES} bytes, "
            f"{meta_disk} has {meta_size}")
    return _external(EXTERNAL, meta_index, meta_disk, start, SLOT_BYTES, disk_size)


def _internal(disk: str, disk_size: int) -> Layout:
    sb_offset = disk_size - SB_BYTES
    al_offset = sb_offset - AL_BYTES
    bm_size = bitmap_bytes(disk_size)          # first guess covers the whole disk
    data_limit = al_offset - bm_size
    bm_size = bitmap_bytes(max(data_limit, 0))  # the data area is a little smaller
    data_limit = al_offset - bm_size
    if data_limit < BLOCK:
        raise LayoutError(f"{disk}: device too small for internal meta-data "
                          f"({disk_size} bytes)")
    bm_offset = data_limit
    return Layout(INTERNAL, -1, disk, bm_offset, disk_size - bm_offset, sb_offset,
                  al_offset, bm_offset, bm_size, data_limit)


def _external(placement: str, index: int, meta_disk: str, start: int, size: int,
              disk_size: int) -> Layout:
    sb_offset = start
    al_offset = start + SB_BYTES
    bm_offset = al_offset + AL_BYTES
    room = start + size - bm_offset
    need = bitmap_bytes(disk_size)
    if room < BLOCK:
        raise LayoutError(f"Meta device too small: {meta_disk}")
    if need <= room:
        return Layout(placement, index, meta_disk, start, size, sb_offset, al_offset,
                      bm_offset, need, disk_size)
    # a fixed-size slot limits how much data its bitmap can cover
    if placement == FLEXIBLE:
        raise LayoutError(f"Meta device too small: {meta_disk} has {size} bytes, "
                          f"{bm_offset - start + need} needed")
    return Layout(placement, index, meta_disk, start, size, sb_offset, al_offset, bm_offset,
                  room, room * 8 * BLOCK)
