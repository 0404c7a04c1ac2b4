"""The out-of-sync bitmap: one bit per 4 KiB block of the data area, bit i in byte i//8 at
position i%8 (least significant first), exactly as stored on disk.  The number of set bits
is kept up to date so that status never has to count a large map; changed 4 KiB pages are
remembered for write-out."""
from __future__ import annotations

import re

BLOCK = 4096
PAGE = 4096                      # bytes of bitmap per on-disk page
BITS_PER_PAGE = PAGE * 8
_NONZERO = re.compile(rb"[^\x00]")
_NOT_FULL = re.compile(rb"[^\xff]")


def _popcount(data) -> int:
    return int.from_bytes(data, "little").bit_count()


def blocks_of(offset: int, length: int) -> tuple[int, int]:
    """First and last bit touched by a byte range (length > 0)."""
    return offset // BLOCK, (offset + length - 1) // BLOCK


def full_blocks_of(offset: int, length: int) -> tuple[int, int] | None:
    """First and last bit entirely covered by a byte range, or None."""
    first = -(-offset // BLOCK)
    last = (offset + length) // BLOCK - 1
    return (first, last) if last >= first else None


class Bitmap:
    def __init__(self, nbits: int, data: bytes | bytearray | None = None):
        self.nbits = nbits
        nbytes = -(-nbits // 8)
        self.buf = bytearray(nbytes)
        if data is not None:
            self.buf[:] = bytes(data[:nbytes]).ljust(nbytes, b"\0")
            self._mask_tail()
        self.weight = _popcount(self.buf)
        self.dirty_pages: set[int] = set()

    def _mask_tail(self) -> None:
        spare = len(self.buf) * 8 - self.nbits
        if spare:
            self.buf[-1] &= 0xFF >> spare

    # --- changes -----------------------------------------------------------------
    def _change(self, first: int, last: int, value: bool) -> int:
        """Set or clear bits first..last inclusive; returns how many bits changed."""
        last = min(last, self.nbits - 1)
        if first > last:
            return 0
        b0, b1 = first >> 3, last >> 3
        before = _popcount(self.buf[b0:b1 + 1])
        head = (0xFF << (first & 7)) & 0xFF
        tail = 0xFF >> (7 - (last & 7))
        if b0 == b1:
            mask = head & tail
            self.buf[b0] = (self.buf[b0] | mask) if value else (self.buf[b0] & ~mask)
        else:
            self.buf[b0] = (self.buf[b0] | head) if value else (self.buf[b0] & ~head)
            if b1 > b0 + 1:
                self.buf[b0 + 1:b1] = (b"\xff" if value else b"\0") * (b1 - b0 - 1)
            self.buf[b1] = (self.buf[b1] | tail) if value else (self.buf[b1] & ~tail)
        after = _popcount(self.buf[b0:b1 + 1])
        if after != before:
            self.weight += after - before
            self.dirty_pages.update(range(b0 // PAGE, b1 // PAGE + 1))
        return abs(after - before)

    def set_bits(self, first: int, last: int) -> int:
        return self._change(first, last, True)

    def clear_bits(self, first: int, last: int) -> int:
        return self._change(first, last, False)

    def set_range(self, offset: int, length: int) -> int:
        """Mark every block a write to [offset, offset+length) touches."""
        if length <= 0:
            return 0
        return self.set_bits(*blocks_of(offset, length))

    def clear_range(self, offset: int, length: int) -> int:
        """Mark blocks in sync; only blocks the range covers completely."""
        span = full_blocks_of(offset, length) if length > 0 else None
        return self.clear_bits(*span) if span else 0

    def set_all(self) -> None:
        self.set_bits(0, self.nbits - 1)

    def clear_all(self) -> None:
        self.clear_bits(0, self.nbits - 1)

    def merge(self, other, offset: int = 0) -> int:
        """OR bitmap bytes (of the same geometry) in, starting at byte `offset`;
        returns the number of bits added."""
        end = min(offset + len(other), len(self.buf))
        if end <= offset:
            return 0
        n = end - offset
        mine = int.from_bytes(self.buf[offset:end], "little")
        merged = mine | int.from_bytes(other[:n], "little")
        if merged == mine:
            return 0
        self.buf[offset:end] = merged.to_bytes(n, "little")
        self._mask_tail()
        added = merged.bit_count() - mine.bit_count()
        if end == len(self.buf):
            added = _popcount(self.buf[offset:end]) - mine.bit_count()
        self.weight += added
        self.dirty_pages.update(range(offset // PAGE, (end - 1) // PAGE + 1))
        return added

    # --- queries -----------------------------------------------------------------
    def test(self, bit: int) -> bool:
        return bool(self.buf[bit >> 3] >> (bit & 7) & 1)

    def count(self, first: int, last: int) -> int:
        last = min(last, self.nbits - 1)
        if first > last:
            return 0
        b0, b1 = first >> 3, last >> 3
        chunk = bytearray(self.buf[b0:b1 + 1])
        chunk[0] &= (0xFF << (first & 7)) & 0xFF
        chunk[-1] &= 0xFF >> (7 - (last & 7))
        return _popcount(chunk)

    def count_range(self, offset: int, length: int) -> int:
        if length <= 0:
            return 0
        return self.count(*blocks_of(offset, length))

    def next_set(self, start: int) -> int:
        """Lowest set bit >= start, or -1."""
        return self._next(start, True)

    def next_clear(self, start: int, stop: int | None = None) -> int:
        """Lowest clear bit >= start, or nbits.  With `stop`, looks no further: at most
        `stop` (a fully set bitmap of a large disk is megabytes to scan)."""
        stop = self.nbits if stop is None else min(stop, self.nbits)
        found = self._next(start, False, (stop + 7) >> 3)
        return stop if found < 0 else min(found, stop)

    def _next(self, start: int, value: bool, end_byte: int | None = None) -> int:
        if start >= self.nbits:
            return -1
        byte = start >> 3
        current = self.buf[byte] if value else ~self.buf[byte] & 0xFF
        current &= (0xFF << (start & 7)) & 0xFF
        if not current:
            match = (_NONZERO if value else _NOT_FULL).search(
                self.buf, byte + 1, len(self.buf) if end_byte is None else end_byte)
            if match is None:
                return -1
            byte = match.start()
            current = self.buf[byte] if value else ~self.buf[byte] & 0xFF
        bit = (byte << 3) + ((current & -current).bit_length() - 1)
        return bit if bit < self.nbits else -1

    def runs(self, start: int = 0, max_bits: int | None = None):
        """Yield (first, count) runs of set bits from `start`, each at most max_bits long."""
        bit = self.next_set(start)
        while bit >= 0:
            end = self.next_clear(bit, bit + max_bits if max_bits else None)
            yield bit, end - bit
            bit = self.next_set(end)

    # --- persistence -------------------------------------------------------------
    @property
    def npages(self) -> int:
        return -(-len(self.buf) // PAGE)

    def page(self, index: int) -> bytes:
        data = bytes(self.buf[index * PAGE:(index + 1) * PAGE])
        return data.ljust(PAGE, b"\0")

    def pages_of_bits(self, first: int, last: int) -> range:
        return range(first // BITS_PER_PAGE, min(last, self.nbits - 1) // BITS_PER_PAGE + 1)

    def take_dirty(self, pages=None) -> list[int]:
        """Dirty page numbers (all, or those among `pages`), now considered clean."""
        if pages is None:
            chosen = sorted(self.dirty_pages)
            self.dirty_pages.clear()
        else:
            chosen = sorted(p for p in pages if p in self.dirty_pages)
            self.dirty_pages.difference_update(chosen)
        return chosen
