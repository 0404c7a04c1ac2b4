"""One established connection of a resource: the packets after the handshake.

Per volume both sides first send SIZES, UUIDS and a STATE flagged "negotiate"; once a
side has sent its own and received the peer's, it runs the sync handshake
(negotiate.py) and enters Connected, WFBitMapS/T, or drops the connection.  Bitmaps
are exchanged and merged, the source hands out the sync UUID, and the resync runs
(resync.py).  Cluster-wide changes (promotion, invalidate, verify) are asked of the
peer with STATE_REQ and answered with STATE_REPLY.  Keep-alive: PING when idle for
ping-int, the connection is dead when nothing arrives within ping-timeout after it, or
when writes stay unacknowledged beyond timeout (and ko-count × timeout).
"""
from __future__ import annotations

import asyncio
import struct
import time
import zlib

from . import wire
from .bitmap import BLOCK
from .memtrim import give_back_free_heap
from .negotiate import Policies, Side, sync_handshake
from .resync import Sync
from .states import SS_CW_FAILED_BY_PEER, SS_SUCCESS, Conn, Disk, Role, State
from .uuids import UF_CRASHED_PRIMARY, UF_DISCARD_MY_DATA, UF_INCONSISTENT, GenIds
from .wire import WireError

BITMAP_CHUNK = 1 << 20


class Session:
    def __init__(self, res, ch, params):
        self.res = res
        self.ch = ch
        self.params = params
        self.resolve_conflicts = params.resolver
        self._requests: dict[int, asyncio.Future] = {}
        self._req_id = 0
        self._keepalive: asyncio.Task | None = None
        self.closed = False
        self._handlers = {
            wire.SIZES: self._got_sizes, wire.UUIDS: self._got_uuids,
            wire.STATE: self._got_state, wire.SYNC_UUID: self._got_sync_uuid,
            wire.BITMAP: self._got_bitmap,
            wire.DATA: lambda v, p: v.apply_data(p), wire.TRIM: lambda v, p: v.apply_trim(p),
            wire.FLUSH: lambda v, p: v.apply_flush(p),
            wire.RECV_ACK: lambda v, p: v.got_ack(wire.RECV_ACK, *wire.unpack(wire.U64, p, "RecvAck")),
            wire.WRITE_ACK: lambda v, p: v.got_ack(wire.WRITE_ACK, *wire.unpack(wire.U64, p, "WriteAck")),
            wire.NEG_ACK: lambda v, p: v.got_neg_ack(*wire.unpack(wire.NEG_ACK_S, p, "NegAck")),
            wire.FLUSH_ACK: lambda v, p: v.got_flush_ack(*wire.unpack(wire.U64, p, "FlushAck")),
            wire.READ_REQ: lambda v, p: v.serve_read(p),
            wire.READ_REPLY: lambda v, p: v.got_read_reply(p),
            wire.RS_REQUEST: lambda v, p: self._sync(v, p, "got_rs_request", False),
            wire.CSUM_RS_REQUEST: lambda v, p: self._sync(v, p, "got_rs_request", True),
            wire.RS_DATA: lambda v, p: self._sync(v, p, "got_rs_data"),
            wire.RS_IS_IN_SYNC: lambda v, p: self._sync(v, p, "got_in_sync"),
            wire.RS_NEG: lambda v, p: self._sync(v, p, "got_rs_neg"),
            wire.RS_WRITE_ACK: lambda v, p: self._sync(v, p, "got_rs_write_ack"),
            wire.OV_REQUEST: lambda v, p: self._sync(v, p, "got_ov_request"),
            wire.OV_REPLY: lambda v, p: self._sync(v, p, "got_ov_reply"),
            wire.OV_RESULT: lambda v, p: self._sync(v, p, "got_ov_result"),
        }

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        # our half of the negotiation goes out before the peer's packets that arrived
        # during the handshake are dispatched: otherwise we would answer them and then
        # open a second round
        for vol in self.res.volumes.values():
            vol.new_connection()
            self.negotiate(vol)
        self.ch.attach(self._on_packet, self._on_batch, self._on_close)
        if self.ch.closed or self.closed:
            return
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    def stop(self, reason: str = "") -> None:
        """End the session from our side (the resource already knows)."""
        if self._end():
            self.ch.close(reason or "closed")

    def _on_close(self, reason: str) -> None:
        if self._end():
            self.res.session_closed(self, reason)

    def _end(self) -> bool:
        """Mark the session over, once; waiting requests get None."""
        if self.closed:
            return False
        self.closed = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        for fut in self._requests.values():
            if not fut.done():
                fut.set_result(None)
        self._requests.clear()
        return True

    # --- dispatch ----------------------------------------------------------------------
    def _on_packet(self, ptype: int, vnr: int, payload) -> None:
        if ptype == wire.PING:
            self.ch.send(wire.PING_ACK, wire.CONN_VOLUME)
            return
        if ptype == wire.PING_ACK:
            return
        if ptype == wire.STATE_REPLY:
            rid, rv = wire.unpack(wire.STATE_REPLY_S, payload, "StateChgReply")
            fut = self._requests.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(rv)
            return
        if ptype == wire.STATE_REQ:
            self._got_state_req(self.res.volumes.get(vnr), vnr, payload)
            return
        handler = self._handlers.get(ptype)
        if handler is None:
            raise WireError(f"unexpected packet {wire.NAMES.get(ptype, hex(ptype))}")
        vol = self.res.volumes.get(vnr)
        if vol is None:
            if ptype in (wire.DATA, wire.TRIM):
                seq, offset, length = _seq_offset_length(ptype, payload)
                self.ch.send(wire.NEG_ACK, vnr, wire.NEG_ACK_S.pack(seq, offset, length))
            return
        try:
            handler(vol, payload)
        except WireError:
            raise
        except (ValueError, KeyError, struct.error) as e:
            raise WireError(f"bad {wire.NAMES.get(ptype, hex(ptype))} packet: {e}")

    def _on_batch(self) -> None:
        for vol in self.res.volumes.values():
            if vol._ack_due:
                vol.send_acks()

    def _sync(self, vol, payload, method: str, *args) -> None:
        if vol.sync is None:
            if method == "got_rs_request":
                offset, length = wire.unpack(wire.BLOCK_S, payload, "RSDataRequest")
                self.ch.send(wire.RS_NEG, vol.vnr, wire.BLOCK_S.pack(offset, length))
            return
        getattr(vol.sync, method)(payload, *args)

    # --- sending state -----------------------------------------------------------------
    def send_sizes(self, vol) -> None:
        user = vol.cfg.size if vol.cfg and vol.cfg.size else 0
        self.ch.send(wire.SIZES, vol.vnr, wire.SIZES_S.pack(vol.max_size(), user, vol.size))

    def send_uuids(self, vol) -> None:
        gen = vol.gen or GenIds(0, 0, [0, 0])
        flags = (UF_DISCARD_MY_DATA if self.res.net.discard_my_data else 0) | \
                (UF_CRASHED_PRIMARY if vol.crashed_primary else 0) | \
                (UF_INCONSISTENT if vol.state.disk == Disk.Inconsistent else 0)
        bits = vol.bitmap.weight if vol.bitmap else 0
        self.ch.send(wire.UUIDS, vol.vnr, wire.UUIDS_S.pack(*gen.as_tuple(), bits, flags))

    def send_state(self, vol, negotiate: bool = False) -> None:
        s = vol.state
        flags = wire.state_flags(s.susp, s.user_isp, s.aftr_isp, negotiate)
        self.ch.send(wire.STATE, vol.vnr,
                     wire.STATE_S.pack(s.role, s.peer, s.conn, s.disk, s.pdsk, flags))

    def negotiate(self, vol) -> None:
        """Start (or answer) a round of the sync handshake for `vol`."""
        self.send_sizes(vol)
        self.send_uuids(vol)
        self.send_state(vol, negotiate=True)
        vol.neg_sent = True
        if vol.neg_received:
            self._decide(vol)

    # --- receiving state ---------------------------------------------------------------
    def _got_sizes(self, vol, payload) -> None:
        vol.peer_sizes = wire.unpack(wire.SIZES_S, payload, "ReportSizes")

    def _got_uuids(self, vol, payload) -> None:
        cur, bm, h0, h1, bits, flags = wire.unpack(wire.UUIDS_S, payload, "ReportUUIDs")
        vol.peer_gen = GenIds(cur, bm, [h0, h1])
        vol.peer_bits, vol.peer_uuid_flags = bits, flags

    def _got_state(self, vol, payload) -> None:
        role, peer, conn, disk, pdsk, flags = wire.unpack(wire.STATE_S, payload, "ReportState")
        try:
            ps = State(role=Role(role), peer=Role(peer), conn=Conn(conn), disk=Disk(disk),
                       pdsk=Disk(pdsk), susp=bool(flags & wire.SF_SUSP),
                       user_isp=bool(flags & wire.SF_USER_ISP),
                       aftr_isp=bool(flags & wire.SF_AFTR_ISP))
        except ValueError as e:
            raise WireError(f"bad state packet: {e}")
        vol.peer_state = ps
        if flags & wire.SF_NEGOTIATE:
            vol.neg_received = True
            if not vol.neg_sent:
                self.negotiate(vol)
            else:
                self._decide(vol)
            return
        self._peer_state_changed(vol, ps)

    def _peer_state_changed(self, vol, ps: State) -> None:
        res = self.res
        s = vol.state
        if s.conn < Conn.Connected:
            return      # still negotiating: the negotiate STATE decides
        if s.conn in (Conn.SyncSource, Conn.PausedSyncS) and ps.conn == Conn.Connected \
                and ps.disk == Disk.UpToDate:
            self.finish_source(vol)
            return
        if s.conn == Conn.VerifyT and ps.conn == Conn.Connected:
            self._finish_verify(vol)
            return
        changes = {"peer": ps.role, "pdsk": ps.disk,
                   "peer_isp": ps.user_isp or ps.aftr_isp}
        if s.conn in (Conn.SyncTarget, Conn.PausedSyncT, Conn.WFBitMapT, Conn.WFSyncUUID,
                      Conn.SyncSource, Conn.PausedSyncS, Conn.WFBitMapS):
            changes.pop("pdsk")
        res.change(vol, hard=True, **changes)

    # --- the sync handshake -------------------------------------------------------------
    def _decide(self, vol) -> None:
        vol.neg_sent = vol.neg_received = False
        res = self.res
        ps = vol.peer_state
        net = res.net
        if vol.peer_gen is None or vol.peer_sizes is None:
            raise WireError("negotiation without sizes or uuids")
        if not vol.attached or ps.disk == Disk.Diskless:
            res.change(vol, hard=True, conn=Conn.Connected, peer=ps.role, pdsk=ps.disk)
            return
        sized = self._agree_size(vol)
        if sized is None:
            return
        me = Side(vol.gen, vol.state.disk, vol.state.role, vol.bitmap.weight,
                  vol.crashed_primary, net.discard_my_data)
        peer = Side(vol.peer_gen, ps.disk, ps.role, vol.peer_bits,
                    discard_my_data=bool(vol.peer_uuid_flags & UF_DISCARD_MY_DATA))
        d = sync_handshake(me, peer, peer_flags=vol.peer_uuid_flags,
                           resolve_conflicts=self.resolve_conflicts,
                           policies=Policies(net.after_sb_0pri, net.after_sb_1pri,
                                             net.after_sb_2pri, net.rr_conflict),
                           try_secondary=res.give_up_primary)
        for level, text in d.messages:
            getattr(vol.log, "critical" if level == "alert" else
                    "warning" if level == "warn" else "error" if level == "err" else "info")(
                "%s", text)
        for handler in d.handlers:
            res.run_handler(handler, vol)
        if d.local_gen is not None and d.local_gen.as_tuple() != vol.gen.as_tuple():
            vol.store.sb.gen = d.local_gen
            vol.write_md()
        if d.peer_gen is not None:
            vol.peer_gen = d.peer_gen
        if d.disconnect:
            res.drop_network("Disconnecting")
            return
        net.discard_my_data = False
        if d.hg == 0 and sized == "grew" and vol.state.disk == Disk.UpToDate == ps.disk:
            # the new area is out of sync on both sides: the Primary (or, between
            # equals, the arbiter) becomes the source of its resync
            if vol.state.role != ps.role:
                source = vol.state.role == Role.Primary
            else:
                source = self.resolve_conflicts
            vol.log.info("Resync of the grown area as %s", "source" if source else "target")
            d.hg = 1 if source else -1
        if d.hg == 0:
            res.change(vol, hard=True, conn=Conn.Connected, peer=ps.role, pdsk=ps.disk)
            return
        if d.full:
            vol.bitmap.set_all()
            vol.write_bitmap()
        target = Conn.WFBitMapS if d.hg > 0 else Conn.WFBitMapT
        vol.bm_received = False
        vol.pending_sync_uuid = None
        res.change(vol, hard=True, conn=target, peer=ps.role, pdsk=ps.disk)
        self.exchange_bitmaps(vol)

    def _agree_size(self, vol) -> str | None:
        """The smaller usable size wins: "same", "grew" (the area beyond the old size is
        marked out of sync), "shrunk", or None when a Primary would lose data."""
        backing, user, _ = vol.peer_sizes
        theirs = min(backing, user) if user else backing
        agreed = min(vol.max_size(), theirs)
        agreed -= agreed % BLOCK
        old = vol.size
        if agreed == old:
            if vol.store.sb.la_size != agreed:      # first agreement: remember it
                vol.store.sb.la_size = agreed
                vol.write_md()
            return "same"
        if vol.state.role == Role.Primary and agreed < old:
            vol.log.error("The peer's disk size is too small!")
            self.res.drop_network("Disconnecting")
            return None
        grew = agreed > old and vol.store.sb.la_size == old and old > 0
        vol.size = agreed
        vol.store.sb.la_size = agreed
        if grew:
            vol.bitmap.set_range(old, agreed - old)
            vol.write_bitmap()
        vol.write_md()
        vol.log.info("size = %s (%d KB)", _human(agreed), agreed // 1024)
        return "grew" if grew else "shrunk"

    # --- bitmap exchange and resync start ---------------------------------------------------
    def exchange_bitmaps(self, vol) -> None:
        """We just entered WFBitMapS/T: send ours, then take what the peer may have sent
        before we got here (the side granting an invalidate starts first)."""
        self.send_bitmap(vol)
        early, vol.early_bitmap = vol.early_bitmap, []
        for offset, raw, last in early:
            self._merge_bitmap(vol, offset, raw, last)

    def send_bitmap(self, vol) -> None:
        raw = memoryview(vol.bitmap.buf)
        n = len(raw)
        for offset in range(0, max(n, 1), BITMAP_CHUNK):
            chunk = raw[offset:offset + BITMAP_CHUNK]
            last = offset + BITMAP_CHUNK >= n
            self.ch.send(wire.BITMAP, vol.vnr, wire.BITMAP_S.pack(offset, len(chunk), last),
                         zlib.compress(chunk, 1))

    def _got_bitmap(self, vol, payload) -> None:
        offset, length, last = wire.unpack(wire.BITMAP_S, payload, "ReportBitMap")
        if not vol.bitmap:
            return
        try:
            d = zlib.decompressobj()
            raw = d.decompress(bytes(payload[wire.BITMAP_S.size:]), length)
        except zlib.error as e:
            raise WireError(f"bad bitmap: {e}")
        if len(raw) != length or offset + length > len(vol.bitmap.buf):
            raise WireError("bitmap does not fit")
        if vol.state.conn in (Conn.Connected, Conn.StartingSyncS, Conn.StartingSyncT):
            vol.early_bitmap.append((offset, raw, last))
            return
        self._merge_bitmap(vol, offset, raw, last)

    def _merge_bitmap(self, vol, offset: int, raw: bytes, last: bool) -> None:
        if vol.state.conn not in (Conn.WFBitMapS, Conn.WFBitMapT):
            return
        vol.bitmap.merge(raw, offset)
        if last:
            self._bitmap_done(vol)

    def _bitmap_done(self, vol) -> None:
        vol.bm_received = True
        vol.write_bitmap()
        res = self.res
        if vol.state.conn == Conn.WFBitMapS:
            uuid = vol.gen.next_sync_uuid()
            vol.gen.set_bitmap_keeping_history(uuid)
            vol.write_md()
            vol.log.info("updated sync UUID %s", vol.gen.format())
            self.ch.send(wire.SYNC_UUID, vol.vnr, wire.U64.pack(uuid))
            self.start_sync(vol, "S")
        elif vol.state.conn == Conn.WFBitMapT:
            res.change(vol, hard=True, conn=Conn.WFSyncUUID)
            if vol.pending_sync_uuid is not None:
                self._sync_uuid(vol, vol.pending_sync_uuid)

    def _got_sync_uuid(self, vol, payload) -> None:
        (uuid,) = wire.unpack(wire.U64, payload, "SyncUUID")
        if vol.state.conn == Conn.WFSyncUUID:
            self._sync_uuid(vol, uuid)
        elif vol.state.conn == Conn.WFBitMapT:
            vol.pending_sync_uuid = uuid

    def _sync_uuid(self, vol, uuid: int) -> None:
        vol.pending_sync_uuid = None
        vol.gen.set_current(uuid, vol.state.role == Role.Primary)
        vol.gen.bitmap = 0
        vol.write_md()
        self.start_sync(vol, "T")

    def start_sync(self, vol, side: str) -> None:
        res = self.res
        syncer = res.syncer
        # blocks past the agreed size are not part of the device (a smaller peer)
        vol.bitmap.clear_bits(-(-vol.size // BLOCK), vol.bitmap.nbits - 1)
        csums = syncer.csums_alg if syncer.csums_alg == self.params.csums_alg else ""
        vol.sync = Sync(vol, side, syncer.rate, csums_alg=csums)
        conn = Conn.SyncSource if side == "S" else Conn.SyncTarget
        aftr = res.sync_after_blocked(vol)
        res.change(vol, hard=True, conn=conn, aftr_isp=aftr)
        bits = vol.bitmap.weight
        vol.log.info("Began resync as %s (will sync %d KB [%d bits set]).",
                     conn.name, bits * 4, bits)
        vol.sync.start()
        vol.sync.pause(vol.state.isp)
        if bits == 0:
            if side == "T":
                self.resync_finished(vol)
            else:
                self.finish_source(vol)

    # --- resync end ----------------------------------------------------------------------
    def _log_done(self, vol, what: str) -> None:
        p = vol.sync.progress if vol.sync else None
        if p is None:
            return
        total = int(p.elapsed() + p.paused)
        done_bits = p.total_bits - (vol.sync.left() if what == "Resync" else vol.sync.ov_left)
        speed = int(done_bits * 4 / max(p.elapsed(), 1e-9)) if done_bits else 0
        vol.log.info("%s done (total %d sec; paused %d sec; %d K/sec)", what, max(total, 1),
                     int(p.paused), speed)
        if what == "Resync" and vol.sync.csum is not None and p.total_bits:
            same = p.same_csum
            vol.log.info("%d %% had equal checksums, eliminated: %dK; transferred %dK total %dK",
                         same * 100 // p.total_bits, same * 4, (p.total_bits - same) * 4,
                         p.total_bits * 4)

    def resync_finished(self, vol) -> None:
        """SyncTarget: all blocks arrived."""
        res = self.res
        sync = vol.sync
        self._log_done(vol, "Resync")
        failed = sync.progress.failed if sync else 0
        if sync:
            sync.stop()
        vol.last_sync = sync
        vol.sync = None
        if failed:
            vol.log.info("            %d failed blocks", failed)
            res.change(vol, hard=True, conn=Conn.Connected, disk=Disk.Inconsistent,
                       pdsk=Disk.UpToDate)
        else:
            vol.gen.adopt_from_source(vol.peer_gen, vol.state.role == Role.Primary)
            vol.log.info("updated UUIDs %s", vol.gen.format())
            vol.peer_gen = vol.gen.copy()
            res.change(vol, hard=True, conn=Conn.Connected, disk=Disk.UpToDate,
                       pdsk=Disk.UpToDate)
        vol.write_bitmap()
        vol.write_md()
        self.send_uuids(vol)
        res.run_handler("after-resync-target", vol)
        give_back_free_heap()
        # after the packet being handled now, when the receive buffer is empty
        asyncio.get_running_loop().call_soon(self.ch.trim_receive_buffer)

    def finish_source(self, vol) -> None:
        sync = vol.sync
        failed = sync.progress.failed if sync else 0
        if vol.bitmap.weight > failed:
            vol.log.warning("peer finished resync, %d bits still set here", vol.bitmap.weight)
        self._log_done(vol, "Resync")
        if sync:
            sync.stop()
        vol.last_sync = sync
        vol.sync = None
        vol.gen.set_bitmap(0)
        vol.log.info("updated UUIDs %s", vol.gen.format())
        vol.peer_gen = vol.gen.copy()
        vol.write_bitmap()
        vol.write_md()
        self.res.change(vol, hard=True, conn=Conn.Connected, pdsk=Disk.UpToDate)
        give_back_free_heap()

    # --- online verify -------------------------------------------------------------------
    def start_verify(self, vol, side: str) -> None:
        res = self.res
        vol.sync = Sync(vol, side, res.syncer.rate, verify_alg=res.syncer.verify_alg)
        res.change(vol, hard=True, conn=Conn.VerifyS if side == "VS" else Conn.VerifyT)
        if side == "VS":
            vol.log.info("Starting Online Verify from sector 0")
        vol.sync.start()

    def verify_finished(self, vol) -> None:
        """VerifyS: every block compared."""
        self._finish_verify(vol)

    def _finish_verify(self, vol) -> None:
        sync = vol.sync
        if sync is None:
            return
        sync._flush_oos_run()
        self._log_done(vol, "Online verify")
        if sync.ov_found:
            vol.log.critical("Online verify found %d %dk block out of sync!", sync.ov_found, 4)
            self.res.run_handler("out-of-sync", vol)
        sync.stop()
        vol.last_sync = sync
        vol.sync = None
        vol.write_bitmap()
        self.res.change(vol, hard=True, conn=Conn.Connected)

    # --- cluster-wide state changes --------------------------------------------------------
    async def request(self, vnr: int, kind: int) -> int | None:
        """Ask the peer; returns its SS answer, or None if the connection went away."""
        if self.closed:
            return None
        self._req_id += 1
        rid = self._req_id
        fut = asyncio.get_running_loop().create_future()
        self._requests[rid] = fut
        self.ch.send(wire.STATE_REQ, vnr, wire.STATE_REQ_S.pack(rid, kind))
        try:
            return await asyncio.wait_for(fut, max(self.res.net.timeout * 2, 5.0))
        except asyncio.TimeoutError:
            self._requests.pop(rid, None)
            return SS_CW_FAILED_BY_PEER

    def _got_state_req(self, vol, vnr: int, payload) -> None:
        rid, kind = wire.unpack(wire.STATE_REQ_S, payload, "StateChgRequest")
        rv = self.res.peer_request(vol, kind, self.resolve_conflicts)
        self.ch.send(wire.STATE_REPLY, vnr, wire.STATE_REPLY_S.pack(rid, rv))
        if rv >= SS_SUCCESS:
            self.res.peer_request_granted(vol, kind)

    # --- keep-alive ----------------------------------------------------------------------
    async def _keep_alive(self) -> None:
        net = self.res.net
        ch = self.ch
        tick = max(0.05, min(net.ping_timeout, net.ping_int, net.timeout) / 4)
        ping_sent = None
        try:
            while not self.closed and not ch.closed:
                await asyncio.sleep(tick)
                now = time.monotonic()
                if ch.last_rx > (ping_sent or 0):
                    ping_sent = None
                if ping_sent is None and now - ch.last_rx >= net.ping_int:
                    ch.send(wire.PING, wire.CONN_VOLUME)
                    ping_sent = now
                elif ping_sent is not None and now - ping_sent > net.ping_timeout:
                    self.res.log.error("PingAck did not arrive in time.")
                    self.res.connection_failed(self, Conn.NetworkFailure, "ping timeout")
                    return
                waiting = [v.tl_oldest() for v in self.res.volumes.values() if v.tl]
                if waiting:
                    oldest = min(waiting)
                    if now - ch.last_rx > net.timeout and now - oldest > net.timeout:
                        self.res.log.error("peer did not answer within timeout")
                        self.res.connection_failed(self, Conn.Timeout, "timeout")
                        return
                    if net.ko_count and now - oldest > net.timeout * net.ko_count:
                        self.res.log.error("Remote failed to finish a request within "
                                           "ko-count * timeout")
                        self.res.connection_failed(self, Conn.Timeout, "ko-count")
                        return
        except asyncio.CancelledError:
            pass


def _seq_offset_length(ptype: int, payload) -> tuple[int, int, int]:
    if ptype == wire.DATA:
        seq, offset, _ = wire.unpack(wire.DATA_S, payload, "Data")
        return seq, offset, len(payload) - wire.DATA_S.size
    return wire.unpack(wire.TRIM_S, payload, "Trim")


def _human(n: int) -> str:
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20)):
        if n >= size:
            return f"{n // size} {unit}"
    return f"{n // 1024} KB"
