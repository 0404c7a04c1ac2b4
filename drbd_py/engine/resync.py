"""Resync and online verify of one volume.

The SyncTarget drives a resync: it walks its bitmap (which after the bitmap exchange
holds the union of both sides' out-of-sync blocks), asks the source for runs of blocks
(or, with `csums-alg`, sends the digest of its own copy so that equal blocks are not
sent), writes what comes back and acknowledges it; both sides clear a block's bit when
it is known to be equal.  Requests are paced by a token bucket filled at `rate`.  A run
that is interrupted keeps its bits, so the next connect resumes where it stopped.

Online verify is driven by the node where `verify` was run (VerifyS): it asks the peer
for digests of its blocks, compares them with its own, and marks differing blocks out of
sync on both sides (a later resync repairs them).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from . import wire
from .bitmap import BLOCK

MAX_REQUEST = 256 << 10          # bytes per resync/verify request
MAX_IN_FLIGHT = 8 << 20          # bytes requested and not yet answered
READ_AHEAD = 2 << 20             # what the reading side asks the kernel to fetch ahead
MARK_STEP = 1.0                  # seconds between progress marks
MARKS = 10


def digest_function(name: str):
    """Digest for csums-alg/verify-alg names as drbd.conf spells them (kernel crypto
    names); crc32c is done with zlib's crc32 on both sides of our link."""
    name = (name or "").lower()
    if name in ("crc32c", "crc32"):
        return lambda data: zlib.crc32(data).to_bytes(4, "big")
    try:
        hashlib.new(name)
    except (ValueError, TypeError):
        return None
    return lambda data: hashlib.new(name, data).digest()


class TokenBucket:
    """Hands out bytes at `rate` per second with a burst of a tenth of a second."""

    def __init__(self, rate: int):
        self.rate = max(int(rate), 4096)
        self.capacity = max(self.rate // 10, BLOCK)
        self.tokens = float(self.capacity)
        self.stamp = time.monotonic()

    def set_rate(self, rate: int) -> None:
        self.rate = max(int(rate), 4096)
        self.capacity = max(self.rate // 10, BLOCK)

    async def take(self, n: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= n or (self.tokens >= self.capacity and n > self.capacity):
                self.tokens -= n
                return
            await asyncio.sleep(min(0.1, (min(n, self.capacity) - self.tokens) / self.rate))


@dataclass
class Progress:
    total_bits: int = 0
    start: float = field(default_factory=time.monotonic)
    paused: float = 0.0
    paused_since: float | None = None
    marks: deque = field(default_factory=lambda: deque(maxlen=MARKS))
    same_csum: int = 0
    failed: int = 0

    def mark(self, left: int) -> None:
        now = time.monotonic()
        if not self.marks or now - self.marks[-1][0] >= MARK_STEP:
            self.marks.append((now, left))

    def elapsed(self) -> float:
        now = time.monotonic()
        paused = self.paused + ((now - self.paused_since) if self.paused_since else 0)
        return max(now - self.start - paused, 0.0)

    def speeds(self, left: int) -> tuple[int, int, int]:
        """(recent KiB/s, average KiB/s, seconds to go)."""
        now = time.monotonic()
        done = self.total_bits - left
        avg = int(done * 4 / max(self.elapsed(), 1e-9)) if done else 0
        recent = avg
        if self.marks:
            t0, left0 = self.marks[0]
            if now - t0 >= 0.5:
                recent = int((left0 - left) * 4 / (now - t0))
        rate_bits = (recent or avg) / 4
        eta = int(left / rate_bits) if rate_bits > 0 else 0
        return recent, avg, eta


class Sync:
    """The resync or verify run of one volume; `kind` is the conn state it runs in:
    'S' SyncSource, 'T' SyncTarget, 'VS' VerifyS, 'VT' VerifyT."""

    def __init__(self, vol, kind: str, rate: int, csums_alg: str = "", verify_alg: str = ""):
        self.vol = vol
        self.kind = kind
        self.bucket = TokenBucket(rate)
        self.csum = digest_function(csums_alg) if csums_alg else None
        self.verify = digest_function(verify_alg) if verify_alg else None
        self.progress = Progress()
        self.in_flight: dict[int, int] = {}
        self.in_flight_bytes = 0
        self._wake = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task: asyncio.Task | None = None
        self.ov_left = 0
        self.ov_found = 0
        self._ov_run: list[int] | None = None      # start, sectors of a run being reported
        self.done = False

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        vol = self.vol
        if self.kind in ("S", "T"):
            self.progress.total_bits = vol.bitmap.weight
        else:
            self.progress.total_bits = self.ov_left = -(-vol.size // BLOCK)
        self.progress.mark(self.left())
        if self.kind in ("T", "VS"):
            self._task = asyncio.get_running_loop().create_task(self._drive())

    def stop(self) -> None:
        self.done = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._wake.set()
        self._resumed.set()

    def pause(self, paused: bool) -> None:
        if paused and self._resumed.is_set():
            self._resumed.clear()
            self.progress.paused_since = time.monotonic()
        elif not paused and not self._resumed.is_set():
            if self.progress.paused_since is not None:
                self.progress.paused += time.monotonic() - self.progress.paused_since
                self.progress.paused_since = None
            self._resumed.set()

    def left(self) -> int:
        if self.kind in ("VS", "VT"):
            return self.ov_left
        return max(self.vol.bitmap.weight - self.progress.failed, 0)

    def set_rate(self, rate: int) -> None:
        self.bucket.set_rate(rate)

    # --- the driving side ----------------------------------------------------------
    async def _drive(self) -> None:
        try:
            if self.kind == "T":
                await self._drive_resync()
            else:
                await self._drive_verify()
        except asyncio.CancelledError:
            pass
        except ConnectionError:
            pass

    async def _request_slot(self, length: int) -> None:
        while self.in_flight_bytes + length > MAX_IN_FLIGHT and not self.done:
            self._wake.clear()
            await self._wake.wait()
        while not self.done:
            await self._resumed.wait()
            await self.bucket.take(length)
            if self._resumed.is_set():      # a pause while we waited for tokens holds
                return

    async def _drive_resync(self) -> None:
        vol = self.vol
        size_bits = -(-vol.size // BLOCK)
        cursor = 0
        while not self.done:
            await self._resumed.wait()
            bit = vol.bitmap.next_set(cursor)
            if bit < 0 or bit >= size_bits:
                if not self.in_flight:
                    if vol.bitmap.weight - vol.bitmap.count(size_bits, vol.bitmap.nbits) \
                            <= self.progress.failed:
                        self.done = True
                        vol.res.resync_finished(vol)
                        return
                    cursor = 0
                    continue
                self._wake.clear()
                await self._wake.wait()
                continue
            end = min(vol.bitmap.next_clear(bit, bit + MAX_REQUEST // BLOCK), size_bits,
                      bit + max(self.bucket.capacity // BLOCK, 1))
            offset, length = bit * BLOCK, (end - bit) * BLOCK
            length = min(length, vol.size - offset)
            if any(o <= offset < o + n for o, n in self.in_flight.items()):
                cursor = end
                continue
            await self._request_slot(length)
            if self.done or vol.res.channel is None:
                return
            self.in_flight[offset] = length
            self.in_flight_bytes += length
            vol.counters.pe += 1
            if self.csum is not None:
                digest = self.csum(vol._pread(offset, length))
                self._read_ahead_oos(offset + length)
                vol.res.channel.send(wire.CSUM_RS_REQUEST, vol.vnr,
                                     wire.BLOCK_S.pack(offset, length), digest)
            else:
                vol.res.channel.send(wire.RS_REQUEST, vol.vnr, wire.BLOCK_S.pack(offset, length))
            cursor = end

    def _answered(self, offset: int) -> int:
        length = self.in_flight.pop(offset, 0)
        if length:
            self.in_flight_bytes -= length
            self.vol.counters.pe -= 1
        self.progress.mark(self.left())
        self._wake.set()
        return length

    # target: answers from the source
    def got_rs_data(self, payload) -> None:
        (offset,) = wire.unpack(wire.U64, payload, "RSDataReply")
        data = payload[wire.U64.size:]
        vol = self.vol
        if offset not in self.in_flight:
            return
        vol.counters.nr += len(data)
        vol._pwrite(offset, data)
        vol.bitmap.clear_range(offset, len(data))
        self._answered(offset)
        vol.res.channel.send(wire.RS_WRITE_ACK, vol.vnr, wire.BLOCK_S.pack(offset, len(data)))

    def got_in_sync(self, payload) -> None:
        offset, length = wire.unpack(wire.BLOCK_S, payload, "RSIsInSync")
        if offset in self.in_flight:
            self.vol.bitmap.clear_range(offset, length)
            self.progress.same_csum += length // BLOCK
            self._answered(offset)

    def got_rs_neg(self, payload) -> None:
        offset, length = wire.unpack(wire.BLOCK_S, payload, "NegRSDReply")
        if offset in self.in_flight:
            self.progress.failed += self.vol.bitmap.count_range(offset, length)
            self._answered(offset)

    # source: requests from the target
    def got_rs_request(self, payload, with_digest: bool) -> None:
        offset, length = wire.unpack(wire.BLOCK_S, payload, "RSDataRequest")
        vol = self.vol
        ch = vol.res.channel
        if offset + length > vol.size or length > MAX_REQUEST:
            ch.send(wire.RS_NEG, vol.vnr, wire.BLOCK_S.pack(offset, length))
            return
        try:
            data = vol._pread(offset, length)
        except OSError:
            ch.send(wire.RS_NEG, vol.vnr, wire.BLOCK_S.pack(offset, length))
            return
        self._read_ahead_oos(offset + length)
        if with_digest and self.csum is not None and \
                self.csum(data) == bytes(payload[wire.BLOCK_S.size:]):
            vol.bitmap.clear_range(offset, length)
            self.progress.same_csum += length // BLOCK
            self.progress.mark(self.left())
            ch.send(wire.RS_IS_IN_SYNC, vol.vnr, wire.BLOCK_S.pack(offset, length))
            return
        vol.counters.ns += length
        ch.send(wire.RS_DATA, vol.vnr, wire.U64.pack(offset), data)

    def _read_ahead_oos(self, offset: int) -> None:
        """The out-of-sync run from `offset` on is what the target asks for next."""
        bitmap = self.vol.bitmap
        bit = offset // BLOCK
        if bit >= bitmap.nbits or not bitmap.test(bit):
            return
        end = bitmap.next_clear(bit, bit + READ_AHEAD // BLOCK)
        self.vol.read_ahead(offset, (end - bit) * BLOCK)

    def got_rs_write_ack(self, payload) -> None:
        offset, length = wire.unpack(wire.BLOCK_S, payload, "RSWriteAck")
        self.vol.bitmap.clear_range(offset, length)
        self.progress.mark(self.left())

    # --- verify ---------------------------------------------------------------------
    async def _drive_verify(self) -> None:
        vol = self.vol
        offset = 0
        while offset < vol.size and not self.done:
            length = min(MAX_REQUEST, vol.size - offset, max(self.bucket.capacity, BLOCK))
            await self._request_slot(length)
            if self.done or vol.res.channel is None:
                return
            self.in_flight[offset] = length
            self.in_flight_bytes += length
            vol.res.channel.send(wire.OV_REQUEST, vol.vnr, wire.BLOCK_S.pack(offset, length))
            offset += length
        while self.in_flight and not self.done:
            self._wake.clear()
            await self._wake.wait()
        if not self.done:
            self.done = True
            self._flush_oos_run()
            vol.res.verify_finished(vol)

    def got_ov_request(self, payload) -> None:
        """VerifyT: digests of our copy, one per 4 KiB block."""
        offset, length = wire.unpack(wire.BLOCK_S, payload, "OVRequest")
        vol = self.vol
        data = vol._pread(offset, min(length, max(vol.size - offset, 0)))
        vol.read_ahead(offset + length, READ_AHEAD)
        digests = b"".join(self.verify(data[i:i + BLOCK]) for i in range(0, len(data), BLOCK))
        vol.res.channel.send(wire.OV_REPLY, vol.vnr, wire.BLOCK_S.pack(offset, len(data)),
                             digests)

    def got_ov_reply(self, payload) -> None:
        offset, length = wire.unpack(wire.BLOCK_S, payload, "OVReply")
        if offset not in self.in_flight:
            return
        vol = self.vol
        theirs = bytes(payload[wire.BLOCK_S.size:])
        data = vol._pread(offset, length)
        vol.read_ahead(offset + length, READ_AHEAD)
        width = len(self.verify(b""))
        for i in range(0, length, BLOCK):
            mine = self.verify(data[i:i + BLOCK])
            k = i // BLOCK
            if theirs[k * width:(k + 1) * width] != mine:
                self._found_oos(offset + i)
                vol.res.channel.send(wire.OV_RESULT, vol.vnr,
                                     wire.BITMAP_S.pack(offset + i, BLOCK, 1))
        self.ov_left = max(self.ov_left - -(-length // BLOCK), 0)
        self._answered(offset)

    def got_ov_result(self, payload) -> None:
        """VerifyT: the peer found this block different."""
        offset, length, _ = wire.unpack(wire.BITMAP_S, payload, "OVResult")
        self._found_oos(offset)

    def _found_oos(self, offset: int) -> None:
        self.vol.bitmap.set_range(offset, BLOCK)
        self.ov_found += 1
        sector = offset // 512
        run = self._ov_run
        if run and run[0] + run[1] == sector:
            run[1] += BLOCK // 512
        else:
            self._flush_oos_run()
            self._ov_run = [sector, BLOCK // 512]

    def _flush_oos_run(self) -> None:
        if self._ov_run:
            self.vol.log.info("Out of sync: start=%d, size=%d (sectors)", *self._ov_run)
            self._ov_run = None
