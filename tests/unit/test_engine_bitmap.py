"""The out-of-sync bitmap against a plain set of block numbers."""
from hypothesis import given, settings, strategies as st

from drbd_py.engine.bitmap import Bitmap

NBITS = 3001


def reference_runs(bits, start=0):
    out, cur = [], None
    for b in sorted(x for x in bits if x >= start):
        if cur and b == cur[0] + cur[1]:
            cur[1] += 1
        else:
            cur = [b, 1]
            out.append(cur)
    return [tuple(r) for r in out]


ops = st.lists(st.tuples(st.sampled_from(["set", "clear"]), st.integers(0, NBITS + 20),
                         st.integers(0, 300)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_bitmap_matches_reference(operations):
    bm = Bitmap(NBITS)
    ref = set()
    for op, first, n in operations:
        last = first + n
        span = set(range(first, min(last, NBITS - 1) + 1))
        if op == "set":
            changed = bm.set_bits(first, last)
            assert changed == len(span - ref)
            ref |= span
        else:
            changed = bm.clear_bits(first, last)
            assert changed == len(span & ref)
            ref -= span
        assert bm.weight == len(ref)
    assert list(bm.runs()) == reference_runs(ref)
    for probe in (0, 7, 8, 1000, NBITS - 1):
        nxt = min((b for b in ref if b >= probe), default=-1)
        assert bm.next_set(probe) == nxt
        clear = min((b for b in range(probe, NBITS) if b not in ref), default=NBITS)
        for stop in (None, probe + 1, probe + 9, probe + 600):
            assert bm.next_clear(probe, stop) == min(clear, stop or NBITS, NBITS)
        assert bm.count(probe, probe + 100) == len([b for b in ref if probe <= b <= probe + 100])
    assert Bitmap(NBITS, bytes(bm.buf)).weight == len(ref)


def test_byte_ranges_and_partial_blocks():
    bm = Bitmap(100)
    assert bm.set_range(4096 + 10, 1) == 1          # touches block 1
    assert bm.set_range(3 * 4096, 2 * 4096) == 2    # blocks 3, 4
    assert bm.clear_range(4096, 100) == 0           # block 1 not fully covered
    assert bm.clear_range(4096, 4096) == 1
    assert list(bm.runs()) == [(3, 2)]


def test_merge_and_dirty_pages():
    a, b = Bitmap(70000), Bitmap(70000)
    a.set_bits(5, 9)
    b.set_bits(65000, 65010)
    a.take_dirty()
    assert a.merge(b.buf) == 11
    assert a.weight == 16
    assert a.take_dirty() == [0, 1, 2]
    assert a.take_dirty() == []


def test_runs_respect_max_length():
    bm = Bitmap(1000)
    bm.set_bits(0, 99)
    assert list(bm.runs(max_bits=32)) == [(0, 32), (32, 32), (64, 32), (96, 4)]
    assert bm.next_clear(0) == 100 and bm.next_set(100) == -1
