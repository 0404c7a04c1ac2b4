"""A resource: its volumes, role and connection, the administrative steps drbdadm sends
(attach, connect, primary, ...), and the one place where states change.

Every change goes through _try(): the wanted state is sanitized and validated with
DRBD's rules (states.py), logged as `drbdN: role( A -> B ) conn( ... )`, and followed
by its consequences (_after): meta-data flags, new data generations, handlers, telling
the peer, writing the status file.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from . import wire
from .errors import (ERR_AUTH_ALG, ERR_AUTH_ALG_ND, ERR_DISCARD_IMPOSSIBLE,
                     ERR_DISK_CONFIGURED, ERR_INVALID_REQUEST, ERR_LOCAL_ADDR,
                     ERR_MINOR_OR_VOLUME_EXISTS, ERR_NET_CONFIGURED, ERR_NO_DISK,
                     ERR_PAUSE_IS_CLEAR, ERR_PAUSE_IS_SET, ERR_RESIZE_RESYNC, EngineError,
                     failure, state_failed)
from .link import Link, NetConfig, check_config
from .metadata import MdFlag
from .session import Session
from .states import (SS_CONNECTED_OUTDATES, SS_CW_FAILED_BY_PEER, SS_DEVICE_IN_USE, SS_IN_TRANSIENT_STATE,
                     SS_NEED_CONNECTION, SS_NO_UP_TO_DATE_DISK, SS_NO_VERIFY_ALG,
                     SS_RESYNC_RUNNING, SS_SUCCESS, SS_CONCURRENT_ST_CHG, SS_TEXT,
                     SS_TWO_PRIMARIES, SYNCING, Conn, Disk, Policy, Role, State, check,
                     describe, sanitize)
from .volume import AttachError, DiskConfig, Volume

# 0.7 handler names drbdadm may hand us, and the 8.x event each one serves
LEGACY_HANDLERS = {"pri-on-incon-degr": "incon-degr-cmd"}


@dataclass
class SyncerConfig:
    rate: int = 250 * 1024             # DRBD 8's default resync rate, 250 KiB/s
    al_extents: int = 127
    csums_alg: str = ""
    verify_alg: str = ""
    after: str | None = None
    group: int | None = None


class Resource:
    def __init__(self, name: str, host):
        self.name = name
        self.host = host
        self.log = logging.LoggerAdapter(logging.getLogger("drbd_py.engine"),
                                         {"prefix": f"drbd {name}"})
        self.handlers: dict[str, str] = {}
        self.options: dict = {}
        self.syncer = SyncerConfig()
        self.volumes: dict[int, Volume] = {}
        self.state = State()             # resource-wide part: role and link state
        self.net: NetConfig | None = None
        self.link: Link | None = None
        self.session: Session | None = None
        self.degraded_boot = False
        self._helpers: set[asyncio.Task] = set()
        self._promoting = False
        self._usage_checked = False     # secondary(): users were counted just before

    # --- helpers the volumes and the session use -------------------------------------------
    @property
    def channel(self):
        return self.session.ch if self.session is not None else None

    @property
    def role(self) -> Role:
        return self.state.role

    def who(self, vol: Volume | None = None) -> str:
        vol = vol or next(iter(self.volumes.values()), None)
        return str(vol.minor) if vol else self.name

    def policy(self, vol: Volume) -> Policy:
        return Policy(two_primaries=bool(self.net and self.net.allow_two_primaries),
                      verify_alg=self.syncer.verify_alg,
                      open_count=0 if self._usage_checked else self.host.open_count(vol))

    # --- state changes ----------------------------------------------------------------------
    def _try(self, plan: dict, hard: bool = False, verbose: bool = True) -> int:
        """Validate the changes for every volume, then apply all or none."""
        staged = []
        for vol, fields in plan.items():
            old = vol.state
            new = sanitize(old, old.with_(**fields), self.policy(vol))
            rv = check(old, new, self.policy(vol), hard)
            if rv < SS_SUCCESS:
                if verbose:
                    vol.log.error("State change failed: %s", SS_TEXT.get(rv, rv))
                    vol.log.error("  state = %s", old.short())
                    vol.log.error(" wanted = %s", new.short())
                return rv
            staged.append((vol, old, new))
        for vol, old, new in staged:
            if new != old:
                vol.state = new
                vol.log.info("%s", describe(old, new))
                self._after(vol, old, new)
        self.host.changed(self)
        return SS_SUCCESS

    def change(self, vol: Volume, hard: bool = False, **fields) -> int:
        return self._try({vol: fields}, hard)

    def change_all(self, hard: bool = False, **fields) -> int:
        """A resource-wide change (role, link state) on every volume."""
        if not self.volumes:
            old = self.state
            new = sanitize(old, old.with_(**fields), Policy())
            if new != old:
                self.state = new
                self.log.info("%s", describe(old, new))
            self.host.changed(self)
            return SS_SUCCESS
        rv = self._try({vol: fields for vol in self.volumes.values()}, hard)
        if rv >= SS_SUCCESS:
            first = next(iter(self.volumes.values())).state
            self.state = self.state.with_(role=first.role,
                                          conn=min(first.conn, Conn.Connected))
        return rv

    def _after(self, vol: Volume, old: State, new: State) -> None:
        self.state = self.state.with_(role=new.role)
        if old.conn != Conn.Connected and new.conn == Conn.Connected:
            vol.crashed_primary = False
        if vol.attached:
            vol.update_md_flags()
        degraded = lambda s: s.role == Role.Primary and s.disk < Disk.UpToDate \
            and s.pdsk < Disk.UpToDate  # noqa: E731
        if degraded(new) and not degraded(old):
            self.run_handler("pri-on-incon-degr", vol)
        lost = lambda d: d < Disk.Inconsistent or d in (Disk.DUnknown, Disk.Outdated)  # noqa
        if not lost(old.pdsk) and lost(new.pdsk) and vol.attached and \
                (new.role == Role.Primary or new.peer == Role.Primary) and \
                vol.gen.bitmap == 0 and new.disk >= Disk.UpToDate:
            vol.gen.new_current(new.role == Role.Primary)
            vol.write_md()
            if self.session and new.conn >= Conn.Connected:
                self.session.send_uuids(vol)
        if old.conn >= Conn.WFReportParams and new.conn < Conn.WFReportParams:
            vol.connection_lost()
            if vol.sync is not None:
                vol.sync.stop()
                vol.last_sync, vol.sync = vol.sync, None
            if vol.attached:
                vol.write_bitmap()
        if vol.sync is not None:
            vol.sync.pause(new.conn in (Conn.PausedSyncS, Conn.PausedSyncT))
        if old.role == Role.Primary and new.role == Role.Secondary and vol.attached:
            vol.gen.mark_primary(False)
            vol.write_bitmap()
            if not any(vol.al.refs.values()):
                vol.al.clear()
                vol.store.sb.flags |= MdFlag.AL_CLEAN
            vol.write_md()
        mine = ("role", "conn", "disk", "user_isp", "aftr_isp", "susp")
        if self.session and new.conn >= Conn.Connected and \
                any(getattr(old, f) != getattr(new, f) for f in mine):
            self.session.send_state(vol)

    # --- handlers -----------------------------------------------------------------------
    def run_handler(self, name: str, vol: Volume | None = None) -> None:
        command = self.handlers.get(name) or self.handlers.get(LEGACY_HANDLERS.get(name, ""))
        if not command:
            return
        env = dict(os.environ)
        env.update({"DRBD_RESOURCE": self.name, "DRBD_EVENT": name})
        if vol is not None:
            env.update({"DRBD_MINOR": str(vol.minor), "DRBD_VOLUME": str(vol.vnr),
                        "DRBD_DEVICE": vol.device or "",
                        "DRBD_BACKING_DEV": vol.cfg.disk if vol.cfg else ""})
        if self.net:
            env.update({"DRBD_PEER_ADDRESS": self.net.peer_host,
                        "DRBD_PEER_AF": self.net.family, "DRBD_PEER": self.net.peer_name})
        log = vol.log if vol else self.log
        log.info("helper command: %s (%s)", command, name)
        task = asyncio.get_running_loop().create_task(self._helper(command, name, env, log))
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _helper(self, command: str, name: str, env: dict, log) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", command, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True)
            code = await proc.wait()
        except OSError as e:
            log.error("helper command: %s (%s) failed: %s", command, name, e.strerror)
            return
        log.info("helper command: %s (%s) exit code %d (0x%x)", command, name,
                 code & 0xFF, (code & 0xFF) << 8)

    def io_error(self, vol: Volume, err: OSError) -> None:
        """A local disk error: on-io-error decides (pass_on, call-local-io-error, detach)."""
        vol.log.error("IO error on backing device: %s", err.strerror)
        policy = vol.cfg.on_io_error if vol.cfg else "detach"
        if policy == "pass_on":
            return
        if policy in ("call-local-io-error", "call-local-io-error-handler"):
            self.run_handler("local-io-error", vol)
        asyncio.get_running_loop().call_soon(self._detach_failed, vol)

    def _detach_failed(self, vol: Volume) -> None:
        if vol.attached:
            self.change(vol, hard=True, disk=Disk.Failed)
            vol.detach()
            self.change(vol, hard=True, disk=Disk.Diskless)

    # --- configuration steps -------------------------------------------------------------
    def configure(self, handlers: dict | None, options: dict | None) -> None:
        if handlers is not None:
            self.handlers = {str(k): str(v) for k, v in handlers.items()}
        if options is not None:
            self.options = dict(options)

    async def attach(self, args: dict) -> dict:
        vnr = int(args.get("volume") or 0)
        minor = int(args["minor"])
        owner = self.host.minor_owner(minor)
        if owner is not None and owner != (self.name, vnr):
            raise failure(ERR_MINOR_OR_VOLUME_EXISTS, str(minor))
        vol = self.volumes.get(vnr)
        if vol is not None and vol.attached:
            raise failure(ERR_DISK_CONFIGURED, str(minor))
        created = vol is None
        if created:
            vol = Volume(self, vnr, minor, args.get("device") or f"/dev/drbd{minor}")
            vol.state = State(role=self.state.role, conn=self.state.conn if self.session is None
                              else Conn.WFReportParams)
            self.volumes[vnr] = vol
        cfg = DiskConfig(disk=args["disk"], meta_disk=args.get("meta_disk") or "internal",
                         meta_index=args.get("meta_index"),
                         al_extents=int(args.get("al_extents") or self.syncer.al_extents),
                         on_io_error=args.get("on_io_error") or "detach",
                         size=int(args["size"]) if args.get("size") else None,
                         auto_create_md=bool(args.get("auto_create_md")))
        try:
            wanted = vol.attach(cfg, self.options.get("fencing", "dont-care"))
        except AttachError as e:
            if created:
                del self.volumes[vnr]
            raise EngineError(f"{minor}: {e}", e.code) from None
        sb = vol.store.sb
        self.degraded_boot = self.degraded_boot or (
            sb.has(MdFlag.PRIMARY_IND) and not sb.has(MdFlag.CONNECTED_IND))
        self.change(vol, hard=True, disk=Disk.Attaching)
        self.change(vol, hard=True, disk=wanted.disk, pdsk=wanted.pdsk)
        vol.attached_log()
        await self.host.expose(vol)
        if self.session is not None:
            self.session.negotiate(vol)
        return {}

    def set_syncer(self, args: dict) -> dict:
        s = self.syncer
        if args.get("rate"):
            s.rate = int(args["rate"])
        if args.get("al_extents"):
            s.al_extents = int(args["al_extents"])
        for key in ("csums_alg", "verify_alg"):
            if key in args:
                setattr(s, key, (args[key] or "").lower())
        if "after" in args:
            s.after = args["after"] or None
        if "group" in args:
            s.group = args["group"]
        from .resync import digest_function
        for key in ("csums_alg", "verify_alg"):
            name = getattr(s, key)
            if name and digest_function(name) is None:
                setattr(s, key, "")
                raise failure(144 if key == "csums_alg" else 146, self.who(),
                              "CSUMSAlgNotAvail" if key == "csums_alg" else "VERIFYAlgNotAvail")
        for vol in self.volumes.values():
            if vol.sync is not None:
                vol.sync.set_rate(s.rate)
            if vol.al is not None and not any(vol.al.refs.values()):
                vol.al.resize(s.al_extents)
        self.update_sync_after()
        return {}

    async def connect(self, args: dict) -> dict:
        if self.net is not None:
            raise failure(ERR_NET_CONFIGURED, self.who())
        net = NetConfig.from_step(args)
        problem = check_config(net)
        if problem:
            code = ERR_AUTH_ALG_ND if "not a digest" in problem else \
                ERR_AUTH_ALG if "cram-hmac" in problem else ERR_INVALID_REQUEST
            raise failure(code, self.who(), problem)
        if net.discard_my_data and self.role == Role.Primary:
            raise failure(ERR_DISCARD_IMPOSSIBLE, self.who())
        link = Link(self.name, net, self._algs, self.log, self._established,
                    self._handshake_failed, self._handshake_progress)
        try:
            link.start()
        except OSError as e:
            raise failure(ERR_LOCAL_ADDR, self.who(),
                          f"Local address(port) already in use. ({e.strerror})") from None
        self.net, self.link = net, link
        self.change_all(hard=True, conn=Conn.Unconnected)
        self.change_all(hard=True, conn=Conn.WFConnection)
        return {}

    def _algs(self) -> tuple[str, str]:
        return self.syncer.csums_alg, self.syncer.verify_alg

    async def disconnect(self) -> dict:
        if self.net is not None:
            self.drop_network("Disconnecting")
        return {}

    def drop_network(self, why: str = "Disconnecting") -> None:
        """Leave the network: Disconnecting, then StandAlone; forget the net config."""
        self.change_all(hard=True, conn=Conn.Disconnecting)
        if self.session is not None:
            session, self.session = self.session, None
            session.stop(why)
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.net = None
        self.change_all(hard=True, conn=Conn.StandAlone)

    async def detach(self, vnr: int) -> dict:
        vol = self._volume(vnr)
        if not vol.attached:
            return {}
        rv = self._try({vol: {"disk": Disk.Failed}})
        if rv < SS_SUCCESS:
            raise state_failed(rv, str(vol.minor))
        vol.detach()
        self.change(vol, hard=True, disk=Disk.Diskless)
        if vol.state.role != Role.Primary:
            await self.host.unexpose(vol)
        return {}

    def _volume(self, vnr) -> Volume:
        vol = self.volumes.get(int(vnr or 0))
        if vol is None:
            raise failure(ERR_NO_DISK, self.name)
        return vol

    # --- roles --------------------------------------------------------------------------
    async def _settle(self) -> None:
        """Role changes wait while a connection is being negotiated (DRBD's STATE_SENT)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                v.state.conn == Conn.WFReportParams for v in self.volumes.values()) \
                and self.session is not None:
            await asyncio.sleep(0.05)

    async def primary(self, force: bool = False) -> dict:
        if self.role == Role.Primary:
            return {}
        if not self.volumes:
            raise state_failed(SS_NO_UP_TO_DATE_DISK, self.name)
        await self._settle()
        plan = {vol: {"role": Role.Primary} for vol in self.volumes.values()}
        rv = self._check(plan)
        forced = False
        if rv == SS_NO_UP_TO_DATE_DISK and force:
            for vol, fields in plan.items():
                if Disk.Inconsistent <= vol.state.disk < Disk.UpToDate:
                    fields["disk"] = Disk.UpToDate
                    forced = True
            rv = self._check(plan)
        if rv >= SS_SUCCESS and not forced and any(
                v.state.disk < Disk.UpToDate for v in self.volumes.values()):
            # this engine serves I/O from the local disk only
            rv = SS_NO_UP_TO_DATE_DISK
        if rv < SS_SUCCESS:
            self._check(plan, verbose=True)
            raise state_failed(rv, self.who())
        if self.session is not None and self._connected():
            self._promoting = True
            try:
                answer = await self.session.request(wire.CONN_VOLUME, wire.REQ_PRIMARY)
            finally:
                self._promoting = False
            if answer is not None and answer < SS_SUCCESS:
                raise state_failed(SS_TWO_PRIMARIES if answer == SS_TWO_PRIMARIES
                                   else SS_CW_FAILED_BY_PEER, self.who())
            rv = self._check(plan)
            if rv < SS_SUCCESS:
                raise state_failed(rv, self.who())
        self._try(plan, hard=True)
        if forced:
            for vol in self.volumes.values():
                vol.log.warning("Forced to consider local data as UpToDate!")
        for vol in self.volumes.values():
            if not vol.attached:
                continue
            s = vol.state
            if ((s.conn < Conn.Connected or s.pdsk <= Disk.Failed) and vol.gen.bitmap == 0) \
                    or forced:
                vol.gen.new_current(True)
            vol.gen.mark_primary(True)
            vol.write_md()
            if self.session is not None and s.conn >= Conn.Connected:
                if forced:
                    self.session.negotiate(vol)
                else:
                    self.session.send_uuids(vol)
        problems = []
        for vol in self.volumes.values():
            why = await self.host.role_changed(vol)
            if why:
                problems.append(f"{vol.minor}: {why}")
        if problems:
            # A Primary without its /dev/drbdN would let drbddisk report success and the
            # mount fail later; step back so that heartbeat sees the start fail here.
            self.change_all(role=Role.Secondary)
            for vol in self.volumes.values():
                await self.host.role_changed(vol)
            raise EngineError("; ".join(problems) + " (staying Secondary)", 10)
        return {}

    def _check(self, plan: dict, verbose: bool = False) -> int:
        for vol, fields in plan.items():
            old = vol.state
            new = sanitize(old, old.with_(**fields), self.policy(vol))
            rv = check(old, new, self.policy(vol))
            if rv < SS_SUCCESS:
                if verbose:
                    vol.log.error("State change failed: %s", SS_TEXT.get(rv, rv))
                return rv
        return SS_SUCCESS

    def _connected(self) -> bool:
        return any(v.state.conn >= Conn.Connected for v in self.volumes.values())

    async def secondary(self) -> dict:
        if self.role == Role.Secondary:
            return {}
        for vol in self.volumes.values():
            if await self.host.open_count_async(vol):
                raise state_failed(SS_DEVICE_IN_USE, str(vol.minor))
        for vol in self.volumes.values():
            await self.host.device_down(vol)
        # the device's own NBD connection may still be closing: not a user any more
        self._usage_checked = True
        try:
            rv = self.change_all(role=Role.Secondary)
        finally:
            self._usage_checked = False
        if rv < SS_SUCCESS:
            raise state_failed(rv, self.who())
        for vol in self.volumes.values():
            await self.host.role_changed(vol)
        return {}

    def give_up_primary(self) -> bool:
        """call-pri-lost-after-sb: become Secondary now if nobody uses the device."""
        if any(self.host.open_count(v) for v in self.volumes.values()):
            return False
        if self.change_all(role=Role.Secondary) < SS_SUCCESS:
            return False
        for vol in self.volumes.values():
            asyncio.get_running_loop().create_task(self.host.role_changed(vol))
        return True

    async def down(self) -> dict:
        if self.role == Role.Primary:
            await self.secondary()
        await self.disconnect()
        for vol in list(self.volumes.values()):
            if vol.attached:
                vol.detach()
                self.change(vol, hard=True, disk=Disk.Diskless)
            await self.host.unexpose(vol)
        self.volumes.clear()
        return {}

    # --- resync control --------------------------------------------------------------------
    async def invalidate(self, vnr, remote: bool = False) -> dict:
        vol = self._volume(vnr)
        who = str(vol.minor)
        if not vol.attached:
            raise state_failed(-11, who)
        if vol.state.conn > Conn.Connected:
            raise state_failed(SS_RESYNC_RUNNING, who)
        if vol.state.conn == Conn.Connected and self.session is not None:
            if not remote and vol.state.role == Role.Primary:
                raise failure(ERR_INVALID_REQUEST, who,
                              "invalidate of a Primary is not supported; demote it first")
            if (vol.state.pdsk if not remote else vol.state.disk) != Disk.UpToDate:
                raise state_failed(SS_NO_UP_TO_DATE_DISK, who)
            kind = wire.REQ_SYNC_SOURCE if remote else wire.REQ_SYNC_TARGET
            answer = await self.session.request(vol.vnr, kind)
            if answer is None:
                raise state_failed(SS_NEED_CONNECTION, who)
            if answer < SS_SUCCESS:
                raise state_failed(SS_CW_FAILED_BY_PEER, who)
            self._start_full_sync(vol, source=remote)
            return {}
        # not connected: the next connect syncs in full
        if remote:
            if vol.state.disk != Disk.UpToDate:
                raise state_failed(SS_NO_UP_TO_DATE_DISK, who)
            rv = self.change(vol, pdsk=Disk.Inconsistent)
            if rv < SS_SUCCESS:
                raise state_failed(rv, who)
            if vol.gen.bitmap == 0:
                vol.gen.new_current(vol.state.role == Role.Primary)
        else:
            rv = self.change(vol, disk=Disk.Inconsistent)
            if rv < SS_SUCCESS:
                raise state_failed(rv, who)
        vol.bitmap.set_all()
        vol.write_bitmap()
        vol.write_md()
        return {}

    def _start_full_sync(self, vol: Volume, source: bool) -> None:
        vol.bitmap.set_all()
        vol.write_bitmap()
        vol.bm_received = False
        vol.pending_sync_uuid = None
        self.change(vol, hard=True,
                    conn=Conn.StartingSyncS if source else Conn.StartingSyncT)
        self.change(vol, hard=True, conn=Conn.WFBitMapS if source else Conn.WFBitMapT)
        self.session.exchange_bitmaps(vol)

    def peer_request(self, vol: Volume | None, kind: int, resolver: bool) -> int:
        """The peer asks for a cluster-wide change; our answer (SS code)."""
        if kind == wire.REQ_PRIMARY:
            if self.role == Role.Primary and not (self.net and self.net.allow_two_primaries):
                return SS_TWO_PRIMARIES
            if self._promoting and resolver:
                return SS_CONCURRENT_ST_CHG
            return SS_SUCCESS
        if vol is None:
            return SS_NEED_CONNECTION
        s = vol.state
        if kind in (wire.REQ_SYNC_SOURCE, wire.REQ_SYNC_TARGET):
            if s.conn != Conn.Connected:
                return SS_RESYNC_RUNNING if s.conn > Conn.Connected else SS_NEED_CONNECTION
            if kind == wire.REQ_SYNC_SOURCE and s.role == Role.Primary:
                return SS_CW_FAILED_BY_PEER
            if kind == wire.REQ_SYNC_TARGET and s.disk != Disk.UpToDate:
                return SS_NO_UP_TO_DATE_DISK
            return SS_SUCCESS
        if kind == wire.REQ_VERIFY:
            if s.conn != Conn.Connected:
                return SS_RESYNC_RUNNING if s.conn > Conn.Connected else SS_NEED_CONNECTION
            peer_alg = self.session.params.verify_alg if self.session else ""
            if not self.syncer.verify_alg or self.syncer.verify_alg != peer_alg:
                return SS_NO_VERIFY_ALG
            return SS_SUCCESS
        return SS_CW_FAILED_BY_PEER

    def peer_request_granted(self, vol: Volume, kind: int) -> None:
        if kind == wire.REQ_SYNC_TARGET:
            self._start_full_sync(vol, source=True)
        elif kind == wire.REQ_SYNC_SOURCE:
            self._start_full_sync(vol, source=False)
        elif kind == wire.REQ_VERIFY:
            self.session.start_verify(vol, "VT")

    async def outdate(self, vnr) -> dict:
        vol = self._volume(vnr)
        if vol.state.conn >= Conn.Connected:
            raise state_failed(SS_CONNECTED_OUTDATES, str(vol.minor))
        rv = self.change(vol, disk=Disk.Outdated)
        if rv < SS_SUCCESS:
            raise state_failed(rv, str(vol.minor))
        return {}

    async def pause_sync(self, vnr, pause: bool) -> dict:
        vol = self._volume(vnr)
        if vol.state.user_isp == pause:
            raise failure(ERR_PAUSE_IS_SET if pause else ERR_PAUSE_IS_CLEAR, str(vol.minor))
        self.change(vol, hard=True, user_isp=pause)
        return {}

    async def verify(self, vnr) -> dict:
        vol = self._volume(vnr)
        who = str(vol.minor)
        if not self.syncer.verify_alg:
            raise state_failed(SS_NO_VERIFY_ALG, who)
        if vol.state.conn < Conn.Connected or self.session is None:
            raise state_failed(SS_NEED_CONNECTION, who)
        if vol.state.conn > Conn.Connected:
            raise state_failed(SS_RESYNC_RUNNING, who)
        answer = await self.session.request(vol.vnr, wire.REQ_VERIFY)
        if answer is None:
            raise state_failed(SS_NEED_CONNECTION, who)
        if answer < SS_SUCCESS:
            raise state_failed(answer if answer == SS_NO_VERIFY_ALG else SS_CW_FAILED_BY_PEER,
                               who)
        self.session.start_verify(vol, "VS")
        return {}

    async def resize(self, vnr, size) -> dict:
        vol = self._volume(vnr)
        if vol.state.conn in SYNCING:
            raise failure(ERR_RESIZE_RESYNC, str(vol.minor))
        if not vol.attached:
            raise failure(ERR_NO_DISK, str(vol.minor))
        if size:
            if int(size) > vol.store.layout.data_limit:
                raise failure(111, str(vol.minor))
            vol.cfg.size = int(size)
        if self.session is not None and vol.state.conn >= Conn.Connected:
            self.session.negotiate(vol)
        else:
            vol.size = vol.max_size()
            vol.store.sb.la_size = vol.size
            vol.write_md()
        self.host.changed(self)
        return {}

    # --- resync-after / 0.7 sync groups ---------------------------------------------------
    def sync_after_blocked(self, vol: Volume) -> bool:
        """Must this resource's resync wait for another one (`after`, `group`)?"""
        for other in self.host.resources():
            if other is self:
                continue
            busy = any(v.state.conn in SYNCING and not v.state.aftr_isp
                       for v in other.volumes.values())
            if not busy:
                continue
            if self.syncer.after and other.name == self.syncer.after:
                return True
            if self.syncer.group is not None and other.syncer.group is not None and \
                    other.syncer.group < self.syncer.group:
                return True
        return False

    def update_sync_after(self) -> None:
        for vol in self.volumes.values():
            if vol.state.conn in SYNCING:
                blocked = self.sync_after_blocked(vol)
                if blocked != vol.state.aftr_isp:
                    self.change(vol, hard=True, aftr_isp=blocked)

    # --- connection events (link and session) ------------------------------------------------
    def _handshake_progress(self) -> None:
        if self.session is None and self.state.conn == Conn.WFConnection:
            self.change_all(hard=True, conn=Conn.WFReportParams)

    def _handshake_failed(self, message: str, fatal: bool) -> None:
        if self.session is not None or self.net is None:
            self.log.warning("%s (ignored: already connected)", message)
            return
        self.log.error("%s", message)
        if fatal:
            self.log.warning("Discarding network configuration.")
            self.drop_network("Disconnecting")
            return
        if self.state.conn == Conn.WFReportParams:
            self.change_all(hard=True, conn=Conn.Unconnected)
            self.change_all(hard=True, conn=Conn.WFConnection)

    def _established(self, ch, params) -> None:
        if self.net is None:
            ch.close("not configured")
            return
        if self.session is not None:
            self.log.warning("new connection from the peer replaces the old one")
            old, self.session = self.session, None
            old.stop("replaced")
            self._lost(Conn.NetworkFailure, redial=False)
        self.log.info("Handshake successful: Agreed network protocol version %d",
                      wire.PROTO_MAX)
        if self.state.conn != Conn.WFReportParams:
            self.change_all(hard=True, conn=Conn.WFReportParams)
        self.session = Session(self, ch, params)
        self.state = self.state.with_(conn=Conn.Connected)
        if not self.volumes:
            self.change_all(hard=True, conn=Conn.Connected)
        self.session.start()

    def session_closed(self, session: Session, reason: str) -> None:
        if session is not self.session:
            return
        self.session = None
        if reason.startswith("protocol error"):
            conn = Conn.ProtocolError
        elif reason == "connection closed by peer":
            self.log.info("sock was shut down by peer")
            conn = Conn.BrokenPipe
        else:
            conn = Conn.NetworkFailure
        self.log.info("connection lost: %s", reason)
        self._lost(conn)

    def connection_failed(self, session: Session, conn: Conn, reason: str) -> None:
        if session is not self.session:
            return
        self.session = None
        session.stop(reason)
        self._lost(conn)

    def _lost(self, conn: Conn, redial: bool = True) -> None:
        self.change_all(hard=True, conn=conn)
        if self.net is None:
            return
        self.change_all(hard=True, conn=Conn.Unconnected)
        self.change_all(hard=True, conn=Conn.WFConnection)
        if redial and self.link is not None:
            self.link.redial()

    def resync_finished(self, vol: Volume) -> None:
        if self.session is not None:
            self.session.resync_finished(vol)

    def verify_finished(self, vol: Volume) -> None:
        if self.session is not None:
            self.session.verify_finished(vol)

    # --- waiting and reporting -------------------------------------------------------------
    def connected_for_wait(self, sync: bool) -> bool | None:
        """True when wait-connect/wait-sync is satisfied, None when it cannot be."""
        if self.net is None:
            return None
        states = [v.state.conn for v in self.volumes.values()] or [self.state.conn]
        if sync:
            return all(c == Conn.Connected for c in states)
        return all(c >= Conn.Connected for c in states)

    def status(self) -> dict:
        vols = []
        for vol in self.volumes.values():
            s = vol.state
            entry = {"volume": vol.vnr, "minor": vol.minor, "device": vol.device,
                     "disk": s.disk.name, "peer_disk": s.pdsk.name, "cstate": s.conn.name,
                     "size": vol.size, "oos": (vol.bitmap.weight * 4096 if vol.bitmap else 0)}
            if s.conn >= Conn.Connected:
                entry["replication"] = s.conn.name
            sync = vol.sync
            if sync is not None:
                left = sync.left()
                total = sync.progress.total_bits or 1
                entry["done"] = round(100.0 * (total - left) / total, 2)
                entry["sync_total"] = sync.progress.total_bits * 4096
                entry["sync_left"] = left * 4096
            last = vol.last_sync
            if last is not None:
                entry["last_sync_total"] = last.progress.total_bits * 4096
                entry["last_sync_same_csum"] = last.progress.same_csum * 4096
                entry["last_verify_oos"] = last.ov_found * 4096
            if vol.gen is not None:
                entry["uuids"] = vol.gen.format()
            vols.append(entry)
        first = next(iter(self.volumes.values()), None)
        conn = first.state.conn if first else self.state.conn
        role = first.state.role if first else self.state.role
        peer = first.state.peer if first else Role.Unknown
        return {"name": self.name, "role": role.name, "peer_role": peer.name,
                "connection": conn.name, "protocol": self.net.protocol if self.net else None,
                "volumes": vols}
