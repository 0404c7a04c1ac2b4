"""One volume (one minor): its backing disk and meta-data, and the I/O path the NBD server
calls as its backend.

Writes on the Primary go to the local disk and, while the peer's disk is reachable, to
the peer as DATA packets with a sequence number; the write completes per the wire
protocol (A: queued for sending, B: peer received it, C: peer wrote it).  Writes the
peer has not confirmed when the connection ends are marked out of sync.  While nobody
is connected, written blocks are marked out of sync.  The receiving side applies DATA in
arrival order, which keeps the Primary's write order.  All disk I/O happens in the event
loop, so a write's local copy, its send and any resync read of the same block never
interleave.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

from . import wire
from .activity_log import EXTENT_BYTES, ActivityLog, extents_of
from .bitmap import BLOCK, Bitmap
from .metadata import (EXIT_NO_MD, EXIT_REFUSED, MdFlag, MetadataError, MetaStore,
                       auto_create_md)
from .states import Conn, Disk, Role, State
from .uuids import GenIds

BITS_PER_EXTENT = EXTENT_BYTES // BLOCK
PROTO_A_QUEUE_LIMIT = 16 << 20       # protocol A: writes wait while more than this is queued


def extent_pieces(offset: int, length: int):
    """(offset, length) of each part of a request cut at activity-log extent boundaries."""
    end = offset + length
    while offset < end:
        stop = min(end, (offset // EXTENT_BYTES + 1) * EXTENT_BYTES)
        yield offset, stop - offset
        offset = stop


class IOFailed(OSError):
    """A request the volume cannot serve; its errno goes back to the NBD client."""

    def __init__(self, err: int, message: str = ""):
        super().__init__(err, message or os.strerror(err))


@dataclass
class Counters:
    """/proc/drbd's counters, in bytes where DRBD shows KiB."""
    ns: int = 0
    nr: int = 0
    dw: int = 0
    dr: int = 0
    al: int = 0
    bm: int = 0
    lo: int = 0
    pe: int = 0
    ua: int = 0
    ap: int = 0


@dataclass
class Pending:
    seq: int
    offset: int
    length: int
    t: float = 0.0


@dataclass
class DiskConfig:
    disk: str
    meta_disk: str = "internal"
    meta_index: int | None = None
    al_extents: int = 127
    on_io_error: str = "detach"
    size: int | None = None           # user-requested size in bytes
    auto_create_md: bool = False      # 0.7: no meta-data yet → create it (if nothing is lost)


class Volume:
    def __init__(self, res, vnr: int, minor: int, device: str):
        self.res = res
        self.loop = asyncio.get_running_loop()
        self.vnr = vnr
        self.minor = minor
        self.device = device
        self.log = logging.LoggerAdapter(logging.getLogger("drbd_py.engine"),
                                         {"prefix": f"drbd{minor}"})
        self.state = State()
        self.cfg: DiskConfig | None = None
        self.store: MetaStore | None = None
        self.bitmap: Bitmap | None = None
        self.al: ActivityLog | None = None
        self.fd = -1
        self.size = 0                       # bytes exported
        self.crashed_primary = False
        self.counters = Counters()
        # what the peer told us
        self.peer_gen: GenIds | None = None
        self.peer_uuid_flags = 0
        self.peer_bits = 0
        self.peer_sizes: tuple[int, int, int] | None = None
        self.peer_state: State | None = None
        self.neg_sent = False
        self.neg_received = False
        # replication, sending side
        self._seq = 0
        self.tl: OrderedDict[int, Pending] = OrderedDict()
        # seq -> callback(ok) for writes waiting for the peer (True acked, False NegAck,
        # None connection lost)
        self._waiters: OrderedDict[int, object] = OrderedDict()
        self._flush_id = 0
        self._flush_waiters: dict[int, asyncio.Future] = {}
        self._read_id = 0
        self._read_waiters: dict[int, asyncio.Future] = {}
        self._al_freed = asyncio.Event()
        # replication, receiving side
        self._rx_seq = 0
        self._ack_due = 0                   # 0, or the packet type to ack with
        # resync / verify machinery (resync.py, session.py)
        self.sync = None
        self.last_sync = None
        self.bm_received = False
        self.early_bitmap: list = []
        self.pending_sync_uuid: int | None = None
        self.open_count = 0                 # users of the device besides NBD clients
        self.server = None                  # the NBD server (set by the resource)

    # --- properties the NBD server reads --------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.state.role != Role.Primary

    @property
    def attached(self) -> bool:
        return self.store is not None

    @property
    def gen(self) -> GenIds | None:
        return self.store.sb.gen if self.store else None

    def max_size(self) -> int:
        """What this node could offer: usable disk, capped by the configured size."""
        if not self.store:
            return 0
        limit = self.store.layout.data_limit
        if self.cfg and self.cfg.size:
            limit = min(limit, self.cfg.size)
        return limit - limit % BLOCK

    # --- attach / detach ------------------------------------------------------------
    def attach(self, cfg: DiskConfig, fencing: str = "dont-care") -> State:
        """Open disk and meta-data; returns the disk state to enter."""
        try:
            store = MetaStore.open(cfg.disk, cfg.meta_disk, cfg.meta_index)
        except MetadataError as e:
            if e.code != EXIT_NO_MD or not cfg.auto_create_md:
                raise AttachError(_attach_error(e), 10) from None
            store = self._create_md_as_07_did(cfg)
        if cfg.size and cfg.size > store.layout.data_limit:
            store.close()
            raise AttachError("Failure: (111) Low.dev. smaller than requested DRBD-dev. size.",
                              10)
        self.cfg, self.store, self.fd = cfg, store, store.data_fd
        _no_readahead(self.fd)
        sb = store.sb
        self.bitmap = Bitmap(store.layout.bm_bits, store.read_bitmap())
        self.al = ActivityLog(cfg.al_extents or sb.al_extents, self._store_al_block,
                              self._before_evict, store.read_al(),
                              max_extent=-(-store.layout.data_limit // EXTENT_BYTES))
        self.crashed_primary = sb.has(MdFlag.PRIMARY_IND)
        if not sb.has(MdFlag.AL_CLEAN):
            self._apply_al()
        self.log.info("%d KB (%d bits) marked out-of-sync by on disk bit-map.",
                      self.bitmap.weight * 4, self.bitmap.weight)
        if sb.la_size and sb.la_size <= self.max_size():
            self.size = sb.la_size
        else:
            self.size = self.max_size()
        if sb.has(MdFlag.CONSISTENT):
            disk = Disk.Consistent if sb.has(MdFlag.WAS_UP_TO_DATE) else Disk.Outdated
        else:
            disk = Disk.Inconsistent
        pdsk = Disk.Outdated if sb.has(MdFlag.PEER_OUT_DATED) else Disk.DUnknown
        if disk == Disk.Consistent and (pdsk == Disk.Outdated or fencing == "dont-care"):
            disk = Disk.UpToDate
        if self.crashed_primary:
            sb.flags |= MdFlag.CRASHED_PRIMARY
        return self.state.with_(disk=disk, pdsk=pdsk)

    def _create_md_as_07_did(self, cfg: DiskConfig) -> MetaStore:
        """DRBD 0.7 had no create-md: an attach without meta-data wrote them."""
        try:
            found = auto_create_md(cfg.disk, cfg.meta_disk, cfg.meta_index, cfg.al_extents)
        except MetadataError as e:
            if e.code != EXIT_REFUSED:
                raise AttachError(_attach_error(e), 10) from None
            self.log.error("No valid meta-data, and creating it would destroy data: %s",
                           e.message)
            raise AttachError(
                "Failure: (119) No valid meta-data signature found, and creating it now (as "
                f"DRBD 0.7 did) would destroy data: {e.message}.\nOperation refused.\n\n"
                "\t==> Check the device, then use "
                f"'drbdadm create-md {self.res.name}' to initialize meta-data area. <==\n",
                EXIT_REFUSED) from None
        self.log.info("Creating state block")
        self.log.info("new meta-data on %s (%s; found %s); the data counts as inconsistent "
                      "until a sync", cfg.disk if cfg.meta_disk == "internal" else
                      cfg.meta_disk, cfg.meta_disk, found)
        try:
            return MetaStore.open(cfg.disk, cfg.meta_disk, cfg.meta_index)
        except MetadataError as e:
            raise AttachError(_attach_error(e), 10) from None

    def attached_log(self) -> None:
        self.log.info("attached to UUIDs %s", self.gen.format())

    def _apply_al(self) -> None:
        extents = self.al.active
        added = 0
        for extent in extents:
            added += self.bitmap.set_bits(extent * BITS_PER_EXTENT,
                                          (extent + 1) * BITS_PER_EXTENT - 1)
        self.log.info("Marked additional %d KB as out-of-sync based on AL.", added * 4)
        self.write_bitmap()
        self.al.clear()
        self.counters.al = 0

    def detach(self) -> None:
        """Clean close: bitmap and AL on disk, AL empty, superblock written."""
        if not self.store:
            return
        try:
            self.write_bitmap()
            if not any(self.al.refs.values()):
                self.al.clear()
                self.store.sb.flags |= MdFlag.AL_CLEAN
            self.store.sb.flags &= ~MdFlag.CRASHED_PRIMARY
            self.store.write_superblock()
        except OSError as e:
            self.log.error("writing meta-data on detach failed: %s", e.strerror)
        self.store.close()
        self.store = self.bitmap = self.al = None
        self.fd = -1
        self.cfg = None

    # --- meta-data ------------------------------------------------------------------
    def _store_al_block(self, physical: int, data: bytes) -> None:
        self.store.write_al_block(physical, data)
        self.counters.al += 1

    def _before_evict(self, extent: int) -> None:
        pages = self.bitmap.pages_of_bits(extent * BITS_PER_EXTENT,
                                          (extent + 1) * BITS_PER_EXTENT - 1)
        self._write_pages(self.bitmap.take_dirty(pages))

    def _write_pages(self, pages) -> None:
        if pages:
            self.store.write_bitmap_pages(self.bitmap, pages)
            self.counters.bm += len(pages)

    def write_bitmap(self, everything: bool = False) -> None:
        if not self.bitmap:
            return
        if everything:
            self.bitmap.take_dirty()
            self._write_pages(range(self.bitmap.npages))
        else:
            self._write_pages(self.bitmap.take_dirty())

    def write_md(self) -> None:
        if self.store:
            self.store.write_superblock()

    def update_md_flags(self) -> None:
        """Keep the superblock's flags in line with the state (DRBD's after_state_ch)."""
        if not self.store:
            return
        s = self.state
        keep = self.store.sb.flags & (MdFlag.FULL_SYNC | MdFlag.AL_CLEAN)
        flags = keep
        if self.crashed_primary:
            flags |= MdFlag.CRASHED_PRIMARY
        if s.role == Role.Primary or (s.pdsk < Disk.Inconsistent and s.peer == Role.Primary):
            flags |= MdFlag.PRIMARY_IND
        if s.conn > Conn.WFReportParams:
            flags |= MdFlag.CONNECTED_IND
        if s.disk > Disk.Inconsistent:
            flags |= MdFlag.CONSISTENT
        if s.disk > Disk.Outdated:
            flags |= MdFlag.WAS_UP_TO_DATE
        if Disk.Inconsistent <= s.pdsk <= Disk.Outdated:
            flags |= MdFlag.PEER_OUT_DATED
        if flags != self.store.sb.flags:
            self.store.sb.flags = flags
            self.store.write_superblock()

    # --- raw disk I/O -------------------------------------------------------------------
    def _pread(self, offset: int, length: int) -> bytes:
        try:
            data = os.pread(self.fd, length, offset)
            while len(data) < length:
                more = os.pread(self.fd, length - len(data), offset + len(data))
                if not more:
                    data += bytes(length - len(data))
                    break
                data += more
        except OSError as e:
            self.res.io_error(self, e)
            raise IOFailed(errno.EIO) from None
        self.counters.dr += length
        return data

    def _pwrite(self, offset: int, data) -> None:
        view = memoryview(data).cast("B")
        try:
            while view:
                n = os.pwrite(self.fd, view, offset)
                view, offset = view[n:], offset + n
        except OSError as e:
            self.res.io_error(self, e)
            raise IOFailed(errno.EIO) from None
        self.counters.dw += len(data)

    def _sync(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError as e:
            if e.errno != errno.EINVAL:
                self.res.io_error(self, e)
                raise IOFailed(errno.EIO) from None

    def read_ahead(self, offset: int, length: int) -> None:
        """Start reading what a resync or verify will ask for next (the descriptor
        reads no more ahead by itself, see _no_readahead)."""
        length = min(length, self.size - offset)
        if length > 0 and self.fd >= 0:
            try:
                os.posix_fadvise(self.fd, offset, length, os.POSIX_FADV_WILLNEED)
            except OSError:
                pass

    def _zero(self, offset: int, length: int) -> None:
        """Trim: deallocate in files, write zeros elsewhere (both read back as zeros)."""
        try:
            _punch_hole(self.fd, offset, length)
            return
        except OSError:
            pass
        chunk = bytes(min(length, 1 << 20))
        while length > 0:
            n = min(length, len(chunk))
            self._pwrite(offset, memoryview(chunk)[:n])
            offset, length = offset + n, length - n

    # --- the backend interface -----------------------------------------------------------
    def _check(self, offset: int, length: int, write: bool) -> None:
        if write and self.state.role != Role.Primary:
            raise IOFailed(errno.EROFS)
        if offset < 0 or length < 0 or offset + length > self.size:
            raise IOFailed(errno.EINVAL)

    def _local_usable(self) -> bool:
        return self.store is not None and self.state.disk >= Disk.Inconsistent

    def _replicating(self) -> bool:
        ch = self.res.channel
        return (ch is not None and not ch.closed and self.state.conn >= Conn.Connected
                and self.state.pdsk >= Disk.Inconsistent)

    async def read(self, offset: int, length: int):
        self._check(offset, length, write=False)
        peer_has_it = lambda: self._replicating() and self.state.pdsk == Disk.UpToDate  # noqa
        if self.state.disk == Disk.UpToDate or (
                self._local_usable() and not self.bitmap.count_range(offset, length)):
            try:
                return self._pread(offset, length)
            except IOFailed:
                if not peer_has_it():
                    raise
        if peer_has_it():
            return await self._remote_read(offset, length)
        raise IOFailed(errno.EIO, "no up-to-date data for this block")

    async def _remote_read(self, offset: int, length: int):
        """Our copy is missing or stale here (detached after an I/O error, or being
        resynced): the peer reads it.  It applies our earlier writes first (one stream)."""
        self._read_id += 1
        rid = self._read_id
        fut = self._waiter(self._read_waiters, rid)
        self.res.channel.send(wire.READ_REQ, self.vnr, wire.READ_REQ_S.pack(rid, offset, length))
        data = await fut
        if data is None or len(data) != length:
            raise IOFailed(errno.EIO, "the peer could not read this block")
        return data

    def serve_read(self, payload) -> None:
        """The peer's READ_REQ."""
        rid, offset, length = wire.unpack(wire.READ_REQ_S, payload, "DataRequest")
        ch = self.res.channel
        if self.state.disk != Disk.UpToDate or offset + length > self.size or \
                length > wire.MAX_PAYLOAD - 64:
            ch.send(wire.READ_REPLY, self.vnr, wire.READ_REPLY_S.pack(rid, 1))
            return
        try:
            data = self._pread(offset, length)
        except IOFailed:
            ch.send(wire.READ_REPLY, self.vnr, wire.READ_REPLY_S.pack(rid, 1))
            return
        self.counters.ns += length
        ch.send(wire.READ_REPLY, self.vnr, wire.READ_REPLY_S.pack(rid, 0), data)

    def got_read_reply(self, payload) -> None:
        rid, failed = wire.unpack(wire.READ_REPLY_S, payload, "DataReply")
        fut = self._read_waiters.pop(rid, None)
        if fut is None:
            return
        data = None if failed else bytes(payload[wire.READ_REPLY_S.size:])
        if data is not None:
            self.counters.nr += len(data)
        if not fut.done():
            fut.set_result(data)

    async def write(self, offset: int, data, fua: bool = False) -> None:
        length = len(data)
        self._check(offset, length, write=True)
        if self._too_wide_for_al(offset, length):
            view = memoryview(data)
            for start, size in extent_pieces(offset, length):
                await self.write(start, view[start - offset:start - offset + size], fua)
            return
        if not self._local_usable() and not self._replicating():
            raise IOFailed(errno.EIO)
        extents = extents_of(offset, length) if self._local_usable() else range(0)
        await self._al_begin(extents)
        self.counters.ap += 1
        try:
            waiter = None
            if self._replicating():
                waiter = self._send_write(offset, data, fua)
            elif self._local_usable():
                self.bitmap.set_range(offset, length)
            local_ok = False
            if self._local_usable():
                try:
                    self._pwrite(offset, data)
                    if fua:
                        self._sync()
                    local_ok = True
                except IOFailed:
                    if waiter is None:      # with a peer the write may still succeed
                        raise
            if waiter is not None:
                if not await waiter and not local_ok:
                    raise IOFailed(errno.EIO, "written neither here nor on the peer")
            elif self.res.net and self.res.net.protocol == "A" and self.res.channel:
                await self.res.channel.drain(PROTO_A_QUEUE_LIMIT)
        finally:
            self.counters.ap -= 1
            self._al_end(extents)

    def _send_write(self, offset: int, data, fua: bool):
        """Queue a DATA packet; returns what to await for the protocol's completion.
        The waiter exists before the send: a send that finds the connection dead
        completes it at once (connection_lost)."""
        if self.res.net.protocol == "A":
            self._send_data(offset, data, fua, None)
            return None
        fut = self.loop.create_future()
        self._send_data(offset, data, fua, _resolver(fut))
        return fut

    def _send_data(self, offset: int, data, fua: bool, on_answer) -> None:
        """DATA to the peer; `on_answer(ok)` runs when the peer answers it (protocols
        B and C) or the connection ends, None for protocol A."""
        ch = self.res.channel
        self._seq += 1
        seq = self._seq
        self.tl[seq] = Pending(seq, offset, len(data), time.monotonic())
        self.counters.ns += len(data)
        head = wire.DATA_S.pack(seq, offset, wire.DF_FUA if fua else 0)
        if on_answer is None:
            ch.send_owning(wire.DATA, self.vnr, head, data)
            return
        self._expect_answer(seq, on_answer)
        ch.send(wire.DATA, self.vnr, head, data)

    def _expect_answer(self, seq: int, on_answer) -> None:
        """`on_answer(ok)` runs on the peer's ack or NegAck of `seq`, or on connection loss."""
        self._waiters[seq] = on_answer
        self.counters.pe += 1

    def start_write(self, offset: int, data, fua: bool, done) -> bool:
        """write() for the common case, without a task, a coroutine or a future: the
        write starts now and `done(error)` (None, or an OSError) runs once when it is
        complete per the protocol, maybe before this returns.  Returns False, having
        done nothing, when the case is not common (the caller awaits write() then)."""
        length = len(data)
        if self.state.role != Role.Primary or offset < 0 or offset + length > self.size \
                or not self._local_usable():
            return False
        replicating = self._replicating()
        protocol = self.res.net.protocol if replicating else ""
        if protocol == "A" and self.res.channel.out_bytes + length > PROTO_A_QUEUE_LIMIT:
            return False
        extents = extents_of(offset, length)
        if len(extents) > self.al.nslots or not self._al_try(extents):
            return False
        self.counters.ap += 1
        op = _Write(self, extents, done, waits_peer=protocol in ("B", "C"))
        if op.waits_peer:
            self._send_data(offset, data, fua, op.peer_answered)
        elif protocol == "A":
            self._send_data(offset, data, fua, None)
        else:
            self.bitmap.set_range(offset, length)
        try:
            self._pwrite(offset, data)
            if fua:
                self._sync()
        except IOFailed as e:
            op.local_done(e)
        else:
            op.local_done(None)
        return True

    def _waiter(self, table: dict, key: int) -> asyncio.Future:
        fut = self.loop.create_future()
        table[key] = fut
        return fut

    async def flush(self) -> None:
        if self._local_usable():
            self._sync()
        if self._replicating():
            ch = self.res.channel
            self._flush_id += 1
            fut = None
            if self.res.net.protocol != "A":
                fut = self._waiter(self._flush_waiters, self._flush_id)
            ch.send(wire.FLUSH, self.vnr, wire.U64.pack(self._flush_id))
            if fut is not None:
                await fut

    async def trim(self, offset: int, length: int) -> None:
        self._check(offset, length, write=True)
        if self._too_wide_for_al(offset, length):
            for start, size in extent_pieces(offset, length):
                await self.trim(start, size)
            return
        extents = extents_of(offset, length) if self._local_usable() else range(0)
        await self._al_begin(extents)
        try:
            waiter = None
            if self._replicating():
                self._seq += 1
                self.tl[self._seq] = Pending(self._seq, offset, length, time.monotonic())
                if self.res.net.protocol != "A":
                    waiter = self.loop.create_future()
                    self._expect_answer(self._seq, _resolver(waiter))
                self.res.channel.send(wire.TRIM, self.vnr,
                                      wire.TRIM_S.pack(self._seq, offset, length))
            elif self._local_usable():
                self.bitmap.set_range(offset, length)
            if self._local_usable():
                self._zero(offset, length)
            if waiter is not None:
                await waiter
        finally:
            self._al_end(extents)

    async def write_zeroes(self, offset: int, length: int) -> None:
        await self.trim(offset, length)

    # --- activity log -----------------------------------------------------------------
    def _too_wide_for_al(self, offset: int, length: int) -> bool:
        # A request needing more extents than the log has slots would wait forever for
        # them (0.7's al-extents 7 against a 32 MiB NBD write or mke2fs's whole-device
        # discard); the kernel's DRBD never sees one, the block layer splits it first.
        return (self.al is not None and self._local_usable()
                and len(extents_of(offset, length)) > self.al.nslots)

    async def _al_begin(self, extents) -> None:
        if not extents:
            return
        while not self._al_try(extents):
            self._al_freed.clear()
            await self._al_freed.wait()
            if not self.store:
                raise IOFailed(errno.EIO)

    def _al_try(self, extents) -> bool:
        """Take the extents in the activity log if that needs no waiting."""
        if self.store.sb.flags & MdFlag.AL_CLEAN:
            self.store.sb.flags &= ~MdFlag.AL_CLEAN
            self.store.write_superblock()
        return self.al.begin(extents)

    def _al_end(self, extents) -> None:
        if extents and self.al is not None:
            self.al.end(extents)
            self._al_freed.set()

    # --- acks from the peer -----------------------------------------------------------
    def got_ack(self, ptype: int, seq: int) -> None:
        """Cumulative: everything up to `seq` was received (RECV_ACK) or written."""
        waiters = self._waiters
        while waiters:
            first = next(iter(waiters))
            if first > seq:
                break
            on_answer = waiters.pop(first)
            self.counters.pe -= 1
            on_answer(True)
        if ptype == wire.WRITE_ACK:
            while self.tl:
                first = next(iter(self.tl))
                if first > seq:
                    break
                del self.tl[first]

    def got_neg_ack(self, seq: int, offset: int, length: int) -> None:
        """The peer could not write: the block is out of sync, the write still done."""
        if self.bitmap:
            self.bitmap.set_range(offset, length)
        self.tl.pop(seq, None)
        on_answer = self._waiters.pop(seq, None)
        if on_answer is not None:
            self.counters.pe -= 1
            on_answer(False)

    def got_flush_ack(self, flush_id: int) -> None:
        for fid in [f for f in self._flush_waiters if f <= flush_id]:
            fut = self._flush_waiters.pop(fid)
            if not fut.done():
                fut.set_result(True)

    def connection_lost(self) -> None:
        """Everything the peer did not confirm is out of sync; waiting writes complete
        (their local copy is done)."""
        if self.bitmap:
            for p in self.tl.values():
                self.bitmap.set_range(p.offset, p.length)
        self.tl.clear()
        answers, self._waiters = list(self._waiters.values()), OrderedDict()
        for on_answer in answers:
            on_answer(None)             # falsy: the peer did not confirm
        for fut in list(self._flush_waiters.values()) + list(self._read_waiters.values()):
            if not fut.done():
                fut.set_result(None)
        self._flush_waiters.clear()
        self._read_waiters.clear()
        self.counters.pe = 0
        self._ack_due = 0

    def tl_oldest(self) -> float:
        """When the oldest write the peer has not confirmed was sent."""
        return next(iter(self.tl.values())).t

    # --- receiving side ---------------------------------------------------------------
    def apply_data(self, payload) -> None:
        seq, offset, flags = wire.unpack(wire.DATA_S, payload, "Data")
        data = payload[wire.DATA_S.size:]
        self.counters.nr += len(data)
        self._apply(seq, offset, len(data), lambda: self._pwrite(offset, data),
                    fua=bool(flags & wire.DF_FUA))

    def apply_trim(self, payload) -> None:
        seq, offset, length = wire.unpack(wire.TRIM_S, payload, "Trim")
        self._apply(seq, offset, length, lambda: self._zero(offset, length), fua=False)

    def _apply(self, seq: int, offset: int, length: int, do_write, fua: bool) -> None:
        ch = self.res.channel
        if not self._local_usable() or offset + length > self.max_size():
            ch.send(wire.NEG_ACK, self.vnr, wire.NEG_ACK_S.pack(seq, offset, length))
            return
        extents = extents_of(offset, length)
        if not self.al.begin(extents):
            # all slots held by local writes: mark the blocks instead, on disk first
            self.bitmap.set_range(offset, length)
            self.write_bitmap()
            extents = range(0)
        try:
            do_write()
            if fua:
                self._sync()
        except IOFailed:
            ch.send(wire.NEG_ACK, self.vnr, wire.NEG_ACK_S.pack(seq, offset, length))
            return
        finally:
            if extents:
                self.al.end(extents)
        self._rx_seq = seq
        self._ack_due = wire.RECV_ACK if self.res.net.protocol == "B" else wire.WRITE_ACK

    def apply_flush(self, payload) -> None:
        (flush_id,) = wire.unpack(wire.U64, payload, "Flush")
        if self._local_usable():
            try:
                self._sync()
            except IOFailed:
                pass
        self.send_acks()
        self.res.channel.send(wire.FLUSH_ACK, self.vnr, wire.U64.pack(flush_id))

    def send_acks(self) -> None:
        """End of a burst of received packets: one cumulative ack covers them all."""
        if not self._ack_due:
            return
        ch = self.res.channel
        if self._ack_due == wire.RECV_ACK:
            ch.send(wire.RECV_ACK, self.vnr, wire.U64.pack(self._rx_seq))
        ch.send(wire.WRITE_ACK, self.vnr, wire.U64.pack(self._rx_seq))
        self._ack_due = 0

    def new_connection(self) -> None:
        self._rx_seq = 0
        self._ack_due = 0
        self.neg_sent = self.neg_received = False
        self.peer_state = None
        self.early_bitmap = []


class _Write:
    """A start_write() in flight: done when its local copy is written and, with
    protocols B and C, the peer answered (or the connection ended)."""
    __slots__ = ("vol", "extents", "done", "local_error", "local_finished", "waits_peer",
                 "answered", "peer_ok")

    def __init__(self, vol: Volume, extents, done, waits_peer: bool):
        self.vol, self.extents, self.done = vol, extents, done
        self.local_error = None
        self.local_finished = False
        self.waits_peer = waits_peer
        self.answered = not waits_peer
        self.peer_ok = False

    def peer_answered(self, ok) -> None:
        self.answered, self.peer_ok = True, bool(ok)
        if self.local_finished:
            self._finish()

    def local_done(self, error) -> None:
        self.local_error, self.local_finished = error, True
        if self.answered:
            self._finish()

    def _finish(self) -> None:
        vol = self.vol
        vol.counters.ap -= 1
        vol._al_end(self.extents)
        error = self.local_error
        if error is not None and self.waits_peer:
            # as in write(): the peer's copy covers a local failure
            error = None if self.peer_ok else IOFailed(
                errno.EIO, "written neither here nor on the peer")
        try:
            self.done(error)
        except Exception:
            vol.log.exception("write completion failed")


class AttachError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _attach_error(e: MetadataError) -> str:
    if e.code == 255:
        return ("Failure: (119) No valid meta-data signature found.\n\n"
                "\t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n")
    if e.code == 20:
        return ("Failure: (114) Lower device is already claimed. "
                "This usually means it is mounted.")
    return f"Failure: (104) Can not open backing device. ({e.message})"


def _resolver(fut: asyncio.Future):
    """An on_answer callback that completes `fut` with the peer's answer."""
    return lambda ok: fut.done() or fut.set_result(ok)


def _no_readahead(fd: int) -> None:
    """Our reads are exact (resync chunks, the NBD client's own requests, which its
    kernel already read ahead for): readahead here would only fill the page cache with
    large folios, and every 4 KiB write into one of those costs several times a write
    into a small one.  Resync and verify say what they will read next (read_ahead)."""
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    except OSError:
        pass


_FALLOC_FL_KEEP_SIZE = 1
_FALLOC_FL_PUNCH_HOLE = 2


@functools.lru_cache(maxsize=1)
def _fallocate():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return libc.fallocate


def _punch_hole(fd: int, offset: int, length: int) -> None:
    if _fallocate()(fd, _FALLOC_FL_KEEP_SIZE | _FALLOC_FL_PUNCH_HOLE, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
