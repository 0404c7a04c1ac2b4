"""The engine: every resource of this node, the steps drbdadm sends (docs/drbd-control.md),
the NBD export and /dev/drbdN of each volume, and the status file."""
from __future__ import annotations

import asyncio
import logging
import os

from . import paths, proc_status
from .errors import ERR_RES_NOT_KNOWN, EngineError, failure
from .resource import Resource
from .states import SYNCING, Role

log = logging.getLogger("drbd_py.engine")

STATUS_INTERVAL = 1.0       # rewrite the status file this often while a resync runs


class Engine:
    def __init__(self, rundir: str | None = None, *, export: bool = True,
                 devices: bool | None = None):
        self.rundir = rundir or paths.rundir()
        self.resources_by_name: dict[str, Resource] = {}
        self.export = export
        self.devices = paths.devices_enabled() if devices is None else devices
        self.servers: dict[int, object] = {}
        self.attached_devices: dict[int, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._status_pending = False
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task | None = None
        self.stopping = asyncio.Event()
        os.makedirs(self.rundir, mode=0o700, exist_ok=True)

    # --- the host interface resources use --------------------------------------------------
    def resources(self) -> list[Resource]:
        return list(self.resources_by_name.values())

    def minor_owner(self, minor: int):
        for res in self.resources_by_name.values():
            for vol in res.volumes.values():
                if vol.minor == minor:
                    return res.name, vol.vnr
        return None

    def changed(self, res: Resource | None = None) -> None:
        """A state changed: refresh the status file soon and wake waiters."""
        self._changed.set()
        if not self._status_pending:
            self._status_pending = True
            asyncio.get_running_loop().call_soon(self._write_status)
        syncing = any(v.state.conn in SYNCING for r in self.resources_by_name.values()
                      for v in r.volumes.values())
        if syncing and (self._ticker is None or self._ticker.done()):
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while any(v.state.conn in SYNCING for r in self.resources_by_name.values()
                  for v in r.volumes.values()):
            await asyncio.sleep(STATUS_INTERVAL)
            for res in self.resources_by_name.values():
                res.update_sync_after()
            self._write_status()
        self._write_status()

    def _write_status(self) -> None:
        self._status_pending = False
        for res in list(self.resources_by_name.values()):
            res.update_sync_after()
        text = proc_status.render(self.resources())
        path = paths.status_path(self.rundir)
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError as e:
            log.error("cannot write %s: %s", path, e.strerror)

    def open_count(self, vol) -> int:
        """Users of the volume seen without touching the device (nothing here may open
        /dev/drbdN: its I/O is served by this very loop): with /dev/drbdN, its holders
        (mounts, open files; the device's own NBD connections, several with multi-conn,
        are not users); without it, the NBD clients of the socket."""
        count = 0
        server = self.servers.get(vol.minor)
        path = self.attached_devices.get(vol.minor)
        if server is not None and not path:
            count += server.client_count
        if path:
            try:
                from ..device import holders
                count += len(holders(path))
            except (ImportError, OSError):
                pass
        return count

    async def open_count_async(self, vol) -> int:
        """open_count(), with the checks in a thread: an exclusive-open probe (a file
        system mounted in another mount namespace shows only that way), and a process
        that merely has the device open (`losetup -l` elsewhere opens every loop
        device for a moment) given a second to let go, as device.settled_holders."""
        path = self.attached_devices.get(vol.minor)
        if not path:
            return self.open_count(vol)
        try:
            from ..device import settled_holders
            return len(await settled_holders(path))
        except (ImportError, OSError):
            return self.open_count(vol)

    async def expose(self, vol) -> None:
        """Serve the volume over NBD (read-only unless Primary)."""
        if not self.export or vol.minor in self.servers:
            return
        try:
            from .nbd import NbdServer
        except ImportError:
            vol.log.warning("NBD server not available; volume not exported")
            return
        sock = paths.nbd_socket(self.rundir, vol.minor)
        os.makedirs(os.path.dirname(sock), mode=0o700, exist_ok=True)
        server = NbdServer(sock, vol, export_name=vol.res.name)
        server.set_read_only(vol.state.role != Role.Primary)
        await server.start()
        vol.server = server
        self.servers[vol.minor] = server

    async def unexpose(self, vol) -> None:
        await self.device_down(vol, force=True)
        server = self.servers.pop(vol.minor, None)
        if server is not None:
            vol.server = None
            await server.stop()

    async def role_changed(self, vol) -> str | None:
        """Follow the volume's role: export read-write and build /dev/drbdN on the Primary.
        Returns why the device could not be built (the caller decides what that means)."""
        server = self.servers.get(vol.minor)
        primary = vol.state.role == Role.Primary
        if server is None and primary:
            await self.expose(vol)
            server = self.servers.get(vol.minor)
        if server is not None:
            server.set_read_only(not primary)
        if primary and self.devices and server is not None and \
                vol.minor not in self.attached_devices:
            try:
                from .. import device
                await device.attach(vol.minor, vol.device, server.socket_path,
                                    rundir=self.rundir)
                self.attached_devices[vol.minor] = vol.device
            except Exception as e:
                vol.log.error("cannot create %s: %s", vol.device, e)
                return f"cannot create {vol.device}: {e}"
        return None

    async def device_down(self, vol, force: bool = False) -> None:
        path = self.attached_devices.get(vol.minor)
        if path is None:
            return
        from .. import device
        try:
            await device.detach(vol.minor, path, rundir=self.rundir)
        except device.DeviceBusy as e:
            if not force:
                raise EngineError(f"{vol.minor}: {e}", 11) from None
            vol.log.error("%s", e)
        except device.DeviceError as e:
            vol.log.error("%s", e)
        self.attached_devices.pop(vol.minor, None)

    # --- steps -------------------------------------------------------------------------
    async def handle(self, msg: dict) -> dict:
        op = msg.get("op")
        if not isinstance(op, str):
            raise failure(162, detail="request without op")
        if op == "status":
            name = msg.get("resource")
            found = [r.status() for r in self.resources() if name in (None, r.name)]
            return {"resources": found}
        if op == "shutdown":
            await self.shutdown()
            return {}
        name = msg.get("resource")
        if not isinstance(name, str) or not name:
            raise failure(162, detail=f"{op}: no resource named")
        if op in ("wait-connect", "wait-sync"):
            return await self._wait(name, msg, sync=op == "wait-sync")
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            return await self._step(op, name, msg)

    async def _step(self, op: str, name: str, msg: dict) -> dict:
        if op == "new-resource":
            res = self.resources_by_name.get(name)
            if res is None:
                res = Resource(name, self)
                self.resources_by_name[name] = res
            res.configure(msg.get("handlers"), msg.get("options"))
            self.changed(res)
            return {}
        res = self.resources_by_name.get(name)
        if res is None:
            if op in ("down", "disconnect", "detach", "secondary"):
                return {}
            raise failure(ERR_RES_NOT_KNOWN, name)
        vnr = msg.get("volume", 0)
        if op == "attach":
            return await res.attach(msg)
        if op == "syncer":
            return res.set_syncer(msg)
        if op == "connect":
            return await res.connect(msg)
        if op == "disconnect":
            return await res.disconnect()
        if op == "detach":
            return await res.detach(vnr)
        if op == "primary":
            return await res.primary(bool(msg.get("force")))
        if op == "secondary":
            return await res.secondary()
        if op == "down":
            result = await res.down()
            self.resources_by_name.pop(name, None)
            self.changed()
            return result
        if op in ("invalidate", "invalidate-remote"):
            return await res.invalidate(vnr, remote=op == "invalidate-remote")
        if op == "outdate":
            return await res.outdate(vnr)
        if op in ("pause-sync", "resume-sync"):
            return await res.pause_sync(vnr, op == "pause-sync")
        if op == "verify":
            return await res.verify(vnr)
        if op == "resize":
            return await res.resize(vnr, msg.get("size"))
        raise failure(162, name, f"unknown step {op!r}")

    async def _wait(self, name: str, msg: dict, sync: bool) -> dict:
        """wait-connect / wait-sync: 0 when reached (or StandAlone), exit 5 on timeout."""
        res = self.resources_by_name.get(name)
        if res is None:
            raise failure(ERR_RES_NOT_KNOWN, name)
        timeout = float(msg.get("timeout") or 0)
        if res.degraded_boot and msg.get("degr_timeout") is not None:
            timeout = float(msg.get("degr_timeout") or 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        while True:
            res = self.resources_by_name.get(name)
            if res is None:
                return {}
            done = res.connected_for_wait(sync)
            if done is None or done:
                return {}
            self._changed.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise EngineError("", 5)
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                raise EngineError("", 5) from None

    async def shutdown(self) -> None:
        """Take every resource down as cleanly as possible, then stop."""
        for res in list(self.resources_by_name.values()):
            try:
                async with self._locks.setdefault(res.name, asyncio.Lock()):
                    await res.down()
            except EngineError as e:
                log.error("%s: %s", res.name, e.message)
                await self.abandon(res)
            self.resources_by_name.pop(res.name, None)
        self._write_status()
        self.stopping.set()

    async def abandon(self, res: Resource) -> None:
        """Stop serving a resource that refused a clean down (still mounted)."""
        for vol in list(res.volumes.values()):
            await self.unexpose(vol)
            vol.detach()
        if res.net is not None:
            res.drop_network()
