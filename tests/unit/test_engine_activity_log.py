"""Activity log: slots, LRU eviction, persistence and recovery after a crash."""
from drbd_py.engine.activity_log import (AL_BLOCK, EXTENT_BYTES, ActivityLog, extents_of,
                                         read_image)


class Disk:
    def __init__(self):
        self.blocks = [bytes(AL_BLOCK)] * 8
        self.writes = 0

    def write(self, physical, data):
        self.blocks[physical] = data
        self.writes += 1


def test_extents_of():
    assert list(extents_of(0, 4096)) == [0]
    assert list(extents_of(EXTENT_BYTES - 1, 2)) == [0, 1]
    assert list(extents_of(0, 0)) == []


def test_hits_do_not_write_and_misses_do():
    disk = Disk()
    log = ActivityLog(7, disk.write, lambda e: None)
    assert log.begin([1])
    log.end([1])
    assert disk.writes == 1
    assert log.begin([1])
    assert disk.writes == 1 and log.stats.hits == 1


def test_lru_eviction_flushes_bitmap_first_and_busy_extents_stay():
    disk, evicted = Disk(), []
    log = ActivityLog(7, disk.write, evicted.append)
    for e in range(7):
        assert log.begin([e])
    for e in range(1, 7):
        log.end([e])
    # extent 0 still has a write in flight: 8 needs a slot, extent 1 is the LRU victim
    assert log.begin([8])
    assert evicted == [1]
    assert 0 in log.where and 8 in log.where
    # all slots busy now except idle 2..6; asking for 6 new ones cannot proceed
    assert not log.begin([20, 21, 22, 23, 24, 25])
    assert log.stats.starving == 1


def test_recovery_from_disk_survives_a_torn_block():
    disk = Disk()
    log = ActivityLog(61, disk.write, lambda e: None)
    for e in (3, 9, 40):
        log.begin([e])
    image = read_image(disk.blocks)
    assert sorted(x for x in image.slots[:61] if x != 0xFFFFFFFF) == [3, 9, 40]
    # tear the newest copy of block 0: the other copy still has the set minus the last one
    newest = max(range(2), key=lambda c: image.next_copy[0] ^ 1 == c)
    disk.blocks[newest] = b"\x01" * AL_BLOCK
    torn = read_image(disk.blocks)
    assert sorted(x for x in torn.slots[:61] if x != 0xFFFFFFFF) == [3, 9]
    # a restarted log continues with the copy that is now the older one
    log2 = ActivityLog(61, disk.write, lambda e: None, torn)
    assert sorted(log2.where) == [3, 9]
    log2.begin([50])
    assert sorted(x for x in read_image(disk.blocks).slots[:61] if x != 0xFFFFFFFF) == [3, 9, 50]


def test_clear():
    disk = Disk()
    log = ActivityLog(7, disk.write, lambda e: None)
    log.begin([1, 2])
    log.end([1, 2])
    log.clear()
    assert log.used == 0
    assert all(x == 0xFFFFFFFF for x in read_image(disk.blocks).slots)


def test_sequential_writes_take_extents_ahead_in_one_transaction():
    disk = Disk()
    log = ActivityLog(61, disk.write, lambda e: None, max_extent=20)
    for e in range(0, 16):
        assert log.begin([e])
        log.end([e])
    # extents 0, 1 missed; 2..8 came with 1; 9..15 with the miss at 9
    assert log.stats.misses == 3 and disk.writes == 3
    assert sorted(log.where) == list(range(0, 17))
    # random writes do not prefetch
    disk2 = Disk()
    log2 = ActivityLog(61, disk2.write, lambda e: None, max_extent=100)
    for e in (50, 10, 80):
        log2.begin([e])
    assert sorted(log2.where) == [10, 50, 80]
