"""The sync handshake decision (drbd_sync_handshake and the after-sb policies), both
sides computed from the same facts: the answers must mirror."""
import pytest

from drbd_py.engine.negotiate import Policies, Side, sync_handshake
from drbd_py.engine.states import Disk, Role
from drbd_py.engine.uuids import UF_DISCARD_MY_DATA, GenIds

BASE = 0x1000


def split(a_primary_at_split=True, b_primary_at_split=False):
    """Identifiers after both sides started a new generation from BASE."""
    a = GenIds(BASE, 0, [0, 0])
    b = a.copy()
    a.set_current(BASE, a_primary_at_split)
    b.set_current(BASE, b_primary_at_split)
    a.new_current(True)
    b.new_current(True)
    return a, b


def decide(a: Side, b: Side, policies: Policies, secondary_ok=True, b_policies=None):
    flags = lambda s: UF_DISCARD_MY_DATA if s.discard_my_data else 0  # noqa: E731
    da = sync_handshake(a, b, peer_flags=flags(b), resolve_conflicts=True, policies=policies,
                        try_secondary=lambda: secondary_ok)
    db = sync_handshake(b, a, peer_flags=flags(a), resolve_conflicts=False,
                        policies=b_policies or policies, try_secondary=lambda: secondary_ok)
    return da, db


def side(gen, role=Role.Secondary, bits=0, disk=Disk.UpToDate, discard=False):
    return Side(gen, disk, role, bits, discard_my_data=discard)


@pytest.mark.parametrize("policy, a_bits, b_bits, winner", [
    ("discard-younger-primary", 5, 9, "a"),      # a was Primary when the link broke
    ("discard-older-primary", 5, 9, "b"),
    ("discard-least-changes", 5, 9, "b"),
    ("discard-least-changes", 9, 5, "a"),
    ("discard-zero-changes", 0, 9, "b"),
    ("discard-zero-changes", 9, 0, "a"),
    ("discard-remote", 5, 9, "a"),              # b is configured discard-local
])
def test_after_sb_0pri_policies(policy, a_bits, b_bits, winner):
    ga, gb = split()
    mirror = {"discard-remote": "discard-local"}.get(policy, policy)
    da, db = decide(side(ga, bits=a_bits), side(gb, bits=b_bits), Policies(after_sb_0pri=policy),
                    b_policies=Policies(after_sb_0pri=mirror))
    assert not da.disconnect and not db.disconnect
    assert da.hg == -db.hg and abs(da.hg) == 1
    assert (da.hg > 0) == (winner == "a")
    assert any("automatically solved" in t for _, t in da.messages)
    assert "initial-split-brain" in da.handlers


def test_default_disconnect_and_manual_resolution():
    ga, gb = split()
    da, db = decide(side(ga, Role.Primary), side(gb, Role.Primary), Policies())
    assert da.disconnect and db.disconnect
    assert "split-brain" in da.handlers
    da, db = decide(side(ga), side(gb, discard=True), Policies())
    assert (da.hg, db.hg) == (1, -1)
    assert any("manually solved. Sync from peer node" in t for _, t in db.messages)


def test_after_sb_1pri():
    ga, gb = split()
    p = lambda one: Policies(after_sb_0pri="discard-least-changes", after_sb_1pri=one)  # noqa
    a, b = side(ga, Role.Primary, bits=1), side(gb, Role.Secondary, bits=9)
    da, db = decide(a, b, p("discard-secondary"))
    assert (da.hg, db.hg) == (1, -1)
    # consensus: 0pri says b wins, but b is the Secondary: no agreement
    da, db = decide(a, b, p("consensus"))
    assert da.disconnect and db.disconnect
    da, db = decide(a, b, p("violently-as0p"))
    assert (da.hg, db.hg) == (-1, 1)
    # call-pri-lost-after-sb: the Primary that loses gives up its role
    da, db = decide(a, b, p("call-pri-lost-after-sb"))
    assert da.hg == -1 and any("gave up primary role" in t for _, t in da.messages)
    da, db = decide(a, b, p("call-pri-lost-after-sb"), secondary_ok=False)
    assert da.disconnect and "pri-lost-after-sb" in da.handlers


def test_after_sb_2pri_and_rr_conflict():
    ga, gb = split()
    a, b = side(ga, Role.Primary, bits=1), side(gb, Role.Primary, bits=9)
    da, db = decide(a, b, Policies(after_sb_0pri="discard-least-changes",
                                   after_sb_2pri="violently-as0p"))
    # a is Primary and would become SyncTarget: rr-conflict disconnect refuses
    assert da.disconnect and any("I shall become SyncTarget, but I am primary!" in t
                                 for _, t in da.messages)
    da, db = decide(a, b, Policies(after_sb_0pri="discard-least-changes",
                                   after_sb_2pri="violently-as0p", rr_conflict="violently"))
    assert (da.hg, db.hg) == (-1, 1)


def test_discard_local_pairs_only_with_discard_remote():
    from drbd_py.engine.link import _after_sb_differ
    from drbd_py.engine.wire import AFTER_SB
    idx = AFTER_SB.index
    assert not _after_sb_differ(idx("discard-local"), "discard-remote")
    assert _after_sb_differ(idx("discard-local"), "discard-local")
    assert not _after_sb_differ(idx("consensus"), "consensus")
    assert _after_sb_differ(idx("consensus"), "disconnect")


def test_inconsistent_cannot_be_source_and_unrelated_data():
    gen = GenIds(BASE, 0, [0, 0])
    da, db = decide(side(gen, disk=Disk.Inconsistent), side(gen.copy(), disk=Disk.UpToDate),
                    Policies())
    assert (da.hg, db.hg) == (-1, 1)
    other = GenIds(0x9000, 0x8000, [0x7000, 0])
    da, _ = decide(side(GenIds(BASE, 0x2000, [0x3000, 0])), side(other), Policies())
    assert da.disconnect and ("alert", "Unrelated data, aborting!") in da.messages
