"""The activity log: the set of at most `al-extents` 4 MiB extents that may hold writes not
yet known to be on both disks.  After a crash only these extents are resynced.

The set lives in slots; changing a slot rewrites the one 4 KiB block of the AL area that
holds it, before the write that needed the slot goes to disk.  Each block is stored twice
(alternating copies, the newer valid one wins) so that a torn write never loses the set.
Extents leave the log in LRU order once no write uses them; before one leaves, its bitmap
pages must be on disk (the caller's `before_evict` hook).
"""
from __future__ import annotations

import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass

EXTENT_BYTES = 4 << 20
AL_BLOCK = 4096
AL_BLOCKS = 4                     # logical blocks; each has two on-disk copies
SLOTS_PER_BLOCK = 1018
MAX_SLOTS = AL_BLOCKS * SLOTS_PER_BLOCK
MIN_SLOTS = 7
PREFETCH = 7                      # extents taken ahead for sequential writes
FREE = 0xFFFF_FFFF
_MAGIC = 0x414C7079               # "ALpy"
_HEAD = struct.Struct(">IQHHI")   # magic, seq, block index, used slots, crc32
_SLOTS = struct.Struct(f">{SLOTS_PER_BLOCK}I")


def extents_of(offset: int, length: int) -> range:
    if length <= 0:
        return range(0)
    return range(offset // EXTENT_BYTES, (offset + length - 1) // EXTENT_BYTES + 1)


def encode_block(index: int, seq: int, slots: list[int]) -> bytes:
    chunk = slots + [FREE] * (SLOTS_PER_BLOCK - len(slots))
    body = _SLOTS.pack(*chunk)
    head = _HEAD.pack(_MAGIC, seq, index, len(slots), 0)
    crc = zlib.crc32(head + body)
    data = _HEAD.pack(_MAGIC, seq, index, len(slots), crc) + body
    return data + bytes(AL_BLOCK - len(data))


def decode_block(data: bytes):
    """(index, seq, slots) of a valid block, or None."""
    if len(data) < _HEAD.size + _SLOTS.size:
        return None
    magic, seq, index, used, crc = _HEAD.unpack_from(data)
    if magic != _MAGIC or index >= AL_BLOCKS or used > SLOTS_PER_BLOCK:
        return None
    body = data[_HEAD.size:_HEAD.size + _SLOTS.size]
    if zlib.crc32(_HEAD.pack(magic, seq, index, used, 0) + body) != crc:
        return None
    return index, seq, list(_SLOTS.unpack(body)[:used])


@dataclass
class AlImage:
    """What the on-disk AL area holds: the slot table, the highest transaction number,
    and per block which copy to overwrite next (the older one)."""
    slots: list[int]
    seq: int
    next_copy: list[int]


def read_image(blocks: list[bytes]) -> AlImage:
    """Recover the slot table from the 2*AL_BLOCKS on-disk blocks."""
    best: dict[int, tuple[int, int, list[int]]] = {}
    for physical, raw in enumerate(blocks):
        found = decode_block(raw)
        if found is None or found[0] != physical // 2:
            continue
        index, seq, slots = found
        if index not in best or seq > best[index][0]:
            best[index] = (seq, physical & 1, slots)
    table: list[int] = []
    next_copy = [0] * AL_BLOCKS
    for index in range(AL_BLOCKS):
        seq, copy, slots = best.get(index, (0, 1, []))
        table.extend(slots + [FREE] * (SLOTS_PER_BLOCK - len(slots)))
        next_copy[index] = copy ^ 1
    top = max((b[0] for b in best.values()), default=0)
    return AlImage(table, top, next_copy)


def clamp_slots(al_extents: int) -> int:
    return max(MIN_SLOTS, min(MAX_SLOTS, int(al_extents)))


@dataclass
class AlStats:
    writes: int = 0        # AL transactions written (the `al:` counter)
    hits: int = 0
    misses: int = 0
    starving: int = 0


class ActivityLog:
    """In-memory AL; `write_block(physical_index, data)` persists one 4 KiB block."""

    def __init__(self, nslots: int, write_block, before_evict, image: AlImage | None = None,
                 max_extent: int = FREE):
        self.nslots = clamp_slots(nslots)
        self.max_extent = max_extent       # extents of the device (prefetch stops there)
        self._write_block = write_block
        self._before_evict = before_evict
        self.slots = [FREE] * self.nslots
        self.where: dict[int, int] = {}
        self.refs: dict[int, int] = {}
        self.idle: OrderedDict[int, None] = OrderedDict()   # active, unreferenced, LRU first
        self.seq = image.seq if image else 0
        self._next_copy = list(image.next_copy) if image else [0] * AL_BLOCKS
        self.stats = AlStats()
        for slot, extent in enumerate((image.slots if image else [])[:self.nslots]):
            if extent != FREE and extent not in self.where:
                self.slots[slot] = extent
                self.where[extent] = slot
                self.idle[extent] = None

    @property
    def active(self) -> list[int]:
        return sorted(self.where)

    @property
    def used(self) -> int:
        return len(self.where)

    def can_activate(self, extents) -> bool:
        """True if every extent is active or can get a slot without waiting."""
        missing = sum(1 for e in extents if e not in self.where)
        free = self.nslots - len(self.where)
        return missing <= free + len([e for e in self.idle if e not in extents])

    def begin(self, extents) -> bool:
        """Reference `extents` for one write; persists new slots first.  Returns False
        (and changes nothing) if slots are all busy: wait for end() and retry."""
        where, refs = self.where, self.refs
        if all(e in where for e in extents):         # the common case: all hot already
            for extent in extents:
                refs[extent] = refs.get(extent, 0) + 1
                self.idle.pop(extent, None)
            self.stats.hits += len(extents)
            return True
        extents = list(dict.fromkeys(extents))
        if not self.can_activate(extents):
            self.stats.starving += 1
            return False
        dirty_blocks: set[int] = set()
        keep = set(extents)
        for extent in extents:
            if extent in self.where:
                self.stats.hits += 1
                self.idle.pop(extent, None)
            else:
                self.stats.misses += 1
                dirty_blocks.add(self._activate(extent, keep))
            self.refs[extent] = self.refs.get(extent, 0) + 1
        # sequential writing: take the next extents into the same transaction, so that
        # a stream pays one synchronous AL write per PREFETCH extents, not per extent
        last = max(extents)
        if self.nslots >= 4 * PREFETCH and last - 1 in self.where:
            for extent in range(last + 1, min(last + 1 + PREFETCH, self.max_extent)):
                if extent in self.where or not self.can_activate([extent]):
                    continue
                keep.add(extent)
                dirty_blocks.add(self._activate(extent, keep))
                self.idle[extent] = None
        for block in sorted(dirty_blocks):
            self._persist(block)
        return True

    def _activate(self, extent: int, keep: set[int]) -> int:
        """Give `extent` a slot; returns the AL block to rewrite."""
        slot = self._take_slot(keep)
        self.slots[slot] = extent
        self.where[extent] = slot
        return slot // SLOTS_PER_BLOCK

    def end(self, extents) -> None:
        for extent in extents:
            count = self.refs.get(extent, 0) - 1
            if count <= 0:
                self.refs.pop(extent, None)
                if extent in self.where:
                    self.idle[extent] = None
            else:
                self.refs[extent] = count

    def clear(self) -> None:
        """Forget all extents (clean shutdown, after the bitmap is on disk)."""
        if any(self.refs.values()):
            raise RuntimeError("activity log busy")
        self.slots = [FREE] * self.nslots
        self.where.clear()
        self.idle.clear()
        for block in range(AL_BLOCKS):
            self._persist(block)

    def resize(self, nslots: int) -> None:
        """Change al-extents while idle; the set is kept as far as it fits."""
        nslots = clamp_slots(nslots)
        if nslots == self.nslots:
            return
        keep = [e for e in self.slots if e != FREE][:nslots]
        for extent in self.where:
            if extent not in keep:
                self._before_evict(extent)
        self.nslots = nslots
        self.slots = keep + [FREE] * (nslots - len(keep))
        self.where = {e: i for i, e in enumerate(keep)}
        self.idle = OrderedDict((e, None) for e in keep if e not in self.refs)
        for block in range(AL_BLOCKS):
            self._persist(block)

    def _take_slot(self, keep: set[int]) -> int:
        if len(self.where) < self.nslots:
            return self.slots.index(FREE)
        victim = next(e for e in self.idle if e not in keep)
        del self.idle[victim]
        self._before_evict(victim)
        slot = self.where.pop(victim)
        self.slots[slot] = FREE
        return slot

    def _persist(self, block: int) -> None:
        self.seq += 1
        first = block * SLOTS_PER_BLOCK
        chunk = self.slots[first:first + SLOTS_PER_BLOCK]
        # alternate between the two copies of the block: the older copy gets overwritten
        copy = self._next_copy[block]
        self._next_copy[block] = copy ^ 1
        self._write_block(2 * block + copy, encode_block(block, self.seq, chunk))
        self.stats.writes += 1
