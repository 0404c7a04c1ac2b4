"""Generation identifiers: DRBD 8's operations and the connect-time comparison."""
from drbd_py.engine.uuids import (UF_CRASHED_PRIMARY, UNRELATED, UUID_JUST_CREATED,
                                  GenIds, compare)


def cmp(a, b, crashed=False, peer_flags=0, resolve=False):
    return compare(a, b, local_crashed_primary=crashed, peer_flags=peer_flags,
                   resolve_conflicts=resolve)


def both(a, b, **kw):
    r1 = cmp(a, b, **kw)
    r2 = cmp(b, a, **{**kw, "resolve": not kw.get("resolve", False)})
    return r1.hg, r2.hg


def test_fresh_disks_need_no_sync():
    assert cmp(GenIds(), GenIds()).hg == 0


def test_forced_primary_against_fresh_peer_is_full_sync():
    a, b = GenIds(), GenIds()
    a.new_current(primary=True)
    assert both(a, b) == (2, -2)


def test_primary_losing_peer_syncs_by_bitmap():
    a = GenIds(0x1000, 0, [0, 0])
    b = a.copy()
    a.new_current(primary=True)        # primary loses its peer and writes on
    r = cmp(a, b)
    assert (r.hg, r.rule) == (1, 70)
    r = cmp(b, a)
    assert (r.hg, r.rule) == (-1, 50)


def test_both_primary_after_partition_is_split_brain():
    base = GenIds(0x1000, 0, [0, 0])
    a, b = base.copy(), base.copy()
    a.new_current(primary=True)
    b.new_current(primary=True)
    r = cmp(a, b)
    assert (r.hg, r.rule) == (100, 90)


def test_crashed_primary_rule_40():
    a = GenIds(0x1000 | 1, 0, [0, 0])
    b = GenIds(0x1000, 0, [0, 0])
    assert cmp(a, b, crashed=True).hg == 1
    assert cmp(b, a, peer_flags=UF_CRASHED_PRIMARY).hg == -1
    assert cmp(a, b).hg == 0
    # both crashed: the tie is broken by the resolve-conflicts side
    assert both(a, b, crashed=True, peer_flags=UF_CRASHED_PRIMARY) in ((1, -1), (-1, 1))


def test_resync_end_and_history():
    source = GenIds(0x1000 | 1, 0x2000, [0x3000, 0])
    target = GenIds(0x2000, 0, [0, 0])
    target.adopt_from_source(source, primary=False)
    source.set_bitmap(0)
    assert target.current == 0x1000 and source.current == 0x1001
    assert source.bitmap == 0 and source.history[0] == 0x2000
    assert cmp(source, target).hg == 0


def test_lost_end_of_sync_is_repaired_rule_34():
    source = GenIds(0x1000, 0x2000, [0x3000, 0x4000])
    target = GenIds(0x1000, 0, [0x2000, 0x3000])
    r = cmp(source, target)
    assert (r.hg, r.rule) == (1, 34)
    assert r.local.bitmap == 0 and r.local.history == [0x2000, 0x3000]


def test_lost_sync_uuid_rule_51():
    target = GenIds(0x1000, 0, [0, 0])
    source = GenIds(0x5000, 0x1000, [0, 0])
    sync = source.next_sync_uuid()
    source.set_bitmap_keeping_history(sync)
    r = cmp(target, source)
    assert (r.hg, r.rule) == (-1, 51)
    assert r.peer.bitmap == 0x1000


def test_older_history_means_full_sync():
    a = GenIds(0x1000, 0, [0x2000, 0])
    b = GenIds(0x2000, 0, [0, 0])
    assert cmp(b, a).hg == -2 and cmp(a, b).hg == 2


def test_unrelated_and_shared_history():
    a = GenIds(0x1000, 0x2000, [0x3000, 0])
    b = GenIds(0x5000, 0x6000, [0x3000, 0])
    assert cmp(a, b).hg == -100
    c = GenIds(0x7000, 0x8000, [0x9000, 0])
    assert cmp(a, c).hg == UNRELATED


def test_primary_bit_is_not_identity():
    a = GenIds(0x1000 | 1, 0, [0, 0])
    b = GenIds(0x1000, 0, [0, 0])
    assert cmp(a, b).hg == 0
    assert UUID_JUST_CREATED == 4
