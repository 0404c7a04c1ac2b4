"""The engine hands freed heap back after a burst (a resync's buffers)."""
from drbd_py.engine.memtrim import give_back_free_heap


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def test_freed_buffers_between_live_ones_are_given_back():
    # mid-sized buffers come from the heap, not mmap; with a few still alive between
    # them, glibc keeps the freed ones resident until trimmed
    chunks = [bytearray(64 * 1024) for _ in range(400)]
    for c in chunks:
        c[::4096] = b"\1" * len(c[::4096])
    survivors = chunks[::10]
    del chunks
    freed_but_resident = rss_kib()
    assert give_back_free_heap()
    assert rss_kib() < freed_but_resident - 10 * 1024
    assert len(survivors) == 40
