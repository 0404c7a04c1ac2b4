"""Generation identifiers (DRBD 8 "UUIDs") and the comparison that decides, on connect,
between no sync, sync source/target (by bitmap or full) and split brain.

The rule numbers are DRBD's, so that our log line `uuid_compare()=N by rule R` reads like
the kernel's.  Bit 0 of every identifier is a flag ("set while Primary"), never part of the
identity: comparisons mask it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

UUID_JUST_CREATED = 4
# Added to the bitmap UUID when a SyncSource starts a new resync, so that a lost P_SYNC_UUID
# can be recognised on the next connect (rules 51 and 71).
UUID_NEW_BM_OFFSET = 0x0001_0000_0000_0000
MASK64 = (1 << 64) - 1

# flags exchanged with the UUIDs (DRBD's UI_FLAGS bits)
UF_DISCARD_MY_DATA = 1
UF_CRASHED_PRIMARY = 2
UF_INCONSISTENT = 4
UF_SKIP_INITIAL_SYNC = 8

# special results of compare(), besides -2..2 and +-100
UNRELATED = -1000


def _id(value: int) -> int:
    return value & ~1 & MASK64


def random_uuid() -> int:
    while True:
        value = secrets.randbits(64) & ~1
        if value not in (0, UUID_JUST_CREATED):
            return value


@dataclass
class GenIds:
    """current, bitmap and two history identifiers of one volume."""
    current: int = UUID_JUST_CREATED
    bitmap: int = 0
    history: list[int] = field(default_factory=lambda: [0, 0])

    def copy(self) -> "GenIds":
        return GenIds(self.current, self.bitmap, list(self.history))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.current, self.bitmap, self.history[0], self.history[1])

    @classmethod
    def from_tuple(cls, values) -> "GenIds":
        current, bitmap, h0, h1 = values
        return cls(current, bitmap, [h0, h1])

    def _push_history(self, value: int) -> None:
        self.history[1] = self.history[0]
        self.history[0] = value

    # --- the operations DRBD performs on them -------------------------------------
    def set_current(self, value: int, primary: bool) -> None:
        """Set the current UUID; bit 0 follows the role (DRBD's _drbd_uuid_set)."""
        self.current = (value | 1) if primary else _id(value)

    def mark_primary(self, primary: bool) -> None:
        self.set_current(self.current, primary)

    def new_current(self, primary: bool) -> None:
        """Start a new data generation: the old current becomes the bitmap UUID
        (changes from here on are tracked in the bitmap against it)."""
        self.bitmap = self.current
        self.set_current(random_uuid(), primary)

    def set_bitmap(self, value: int) -> None:
        """value 0 retires the bitmap UUID into history (end of resync / all in sync)."""
        if value == 0:
            if self.bitmap:
                self._push_history(self.bitmap)
                self.bitmap = 0
            return
        self.bitmap = _id(value)

    def set_bitmap_keeping_history(self, value: int) -> None:
        """Like DRBD's drbd_uuid_set(UI_BITMAP): an existing bitmap UUID goes to history."""
        if self.bitmap:
            self._push_history(self.bitmap)
        self.bitmap = _id(value)

    def next_sync_uuid(self) -> int:
        """The identifier a SyncSource hands its target at the start of a resync."""
        if self.bitmap and self.bitmap != UUID_JUST_CREATED:
            return (self.bitmap + UUID_NEW_BM_OFFSET) & MASK64 & ~1
        return random_uuid()

    def adopt_from_source(self, source: "GenIds", primary: bool) -> None:
        """End of a successful resync on the SyncTarget: take the source's generations
        (the source itself just retires its bitmap UUID with set_bitmap(0))."""
        self.bitmap = source.bitmap
        self.history = list(source.history)
        self.set_bitmap_keeping_history(self.current)
        self.set_current(source.current, primary)
        self.set_bitmap(0)

    def format(self) -> str:
        return ":".join(f"{v:016X}" for v in self.as_tuple())


@dataclass
class CompareResult:
    """hg as DRBD names it: 0 no sync; 1/-1 become source/target using the bitmap;
    2/-2 full sync as source/target; 100 split brain that after-sb policies may resolve;
    -100 split brain to resolve by hand; UNRELATED data that never shared a generation."""
    hg: int
    rule: int
    local: GenIds
    peer: GenIds


def compare(local: GenIds, peer: GenIds, *, local_crashed_primary: bool, peer_flags: int,
            resolve_conflicts: bool) -> CompareResult:
    """DRBD 8's drbd_uuid_compare().  `local` and `peer` are copied; rules 34-37, 51 and 71
    repair identifiers left half-updated by a resync start or end whose last packet got
    lost, and the repaired copies are returned for the caller to adopt."""
    me, him = local.copy(), peer.copy()

    def result(hg: int, rule: int) -> CompareResult:
        return CompareResult(hg, rule, me, him)

    self_cur, peer_cur = _id(me.current), _id(him.current)
    if self_cur == UUID_JUST_CREATED and peer_cur == UUID_JUST_CREATED:
        return result(0, 10)
    if self_cur in (UUID_JUST_CREATED, 0) and peer_cur != UUID_JUST_CREATED:
        return result(-2, 20)
    if self_cur != UUID_JUST_CREATED and peer_cur in (UUID_JUST_CREATED, 0):
        return result(2, 30)

    if self_cur == peer_cur:
        if him.bitmap == 0 and me.bitmap != 0:
            # we were SyncSource and the peer finished; did our end-of-sync get lost?
            if (_id(me.bitmap) == _id(him.history[0])
                    and _id(me.history[0]) == _id(him.history[1])):
                me.set_bitmap(0)
                return result(1, 34)
            return result(1, 36)
        if me.bitmap == 0 and him.bitmap != 0:
            if (_id(me.history[0]) == _id(him.bitmap)
                    and _id(me.history[1]) == _id(him.history[0])):
                him.history = [him.bitmap, him.history[0]]
                him.bitmap = 0
                return result(-1, 35)
            return result(-1, 37)
        # both sides ended in the same generation: who was Primary when it ended?
        crashed = (1 if local_crashed_primary else 0) + (peer_flags & UF_CRASHED_PRIMARY)
        if crashed == 0:
            return result(0, 40)
        if crashed == 1:
            return result(1, 40)
        if crashed == 2:
            return result(-1, 40)
        return result(-1 if resolve_conflicts else 1, 40)

    if self_cur == _id(him.bitmap):
        return result(-1, 50)

    if self_cur == _id(him.history[0]):
        if _id(him.history[0]) + UUID_NEW_BM_OFFSET == _id(him.bitmap):
            # the peer started a resync as source but its P_SYNC_UUID never reached us
            him.bitmap = him.history[0]
            him.history = [him.history[1], 0]
            return result(-1, 51)

    if self_cur in (_id(h) for h in him.history):
        return result(-2, 60)

    if _id(me.bitmap) == peer_cur:
        return result(1, 70)

    if _id(me.history[0]) == peer_cur:
        if _id(me.history[0]) + UUID_NEW_BM_OFFSET == _id(me.bitmap):
            me.bitmap = me.history[0]
            me.history = [me.history[1], 0]
            return result(1, 71)

    if peer_cur in (_id(h) for h in me.history):
        return result(2, 80)

    if _id(me.bitmap) == _id(him.bitmap) and _id(me.bitmap) != 0:
        return result(100, 90)

    mine = {_id(h) for h in me.history if _id(h)}
    if any(_id(h) in mine for h in him.history if _id(h)):
        return result(-100, 100)

    return result(UNRELATED, 100)
