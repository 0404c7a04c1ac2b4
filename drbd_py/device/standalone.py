"""Serve a plain file as /dev/drbdN, without replication: the device layer on its own,
for tests, benchmarks and trying it by hand. One process, one event loop, as in the engine.
Run as `python -m drbd_py.device.standalone`.

Usage:
  standalone [--rundir=DIR] [--timeout=S] MINOR DEVICE FILE
  standalone cleanup [--rundir=DIR]

Options:
  --rundir=DIR   where sockets, mounts and records live [default: /run/drbd-py]
  --timeout=S    seconds a detach may take [default: 30]

While serving: SIGUSR1 detaches the device (as `drbdadm secondary` would) or, when
detached, attaches it again (`drbdadm primary`); SIGUSR2 prints the NBD request counts;
SIGTERM detaches and exits. Each outcome is one line on stdout:
`attached DEVICE KERNEL-DEVICE METHOD SIZE`, `detached`, `busy: MESSAGE; HOLDERS`,
`error: MESSAGE`, `stats read=N write=N flush=N trim=N write_zeroes=N errors=N`.
"""
import asyncio
import logging
import os
import signal
import sys

from docopt import docopt

from ..engine.nbd import NbdServer
from ..engine.nbd_file_backend import FileBackend
from . import attach, cleanup_stale, detach
from .state import DeviceBusy, DeviceError


def say(line: str) -> None:
    print(line, flush=True)


class Standalone:
    def __init__(self, minor: int, device: str, path: str, rundir: str, timeout: float):
        self.minor, self.device, self.rundir, self.timeout = minor, device, rundir, timeout
        self.backend = FileBackend(path)
        self.server = NbdServer(os.path.join(rundir, "nbd", f"{minor}.sock"), self.backend,
                                export_name=f"drbd{minor}")
        self.attached = False

    async def promote(self) -> None:
        try:
            info = await attach(self.minor, self.device, self.server.socket_path, self.rundir)
        except DeviceError as e:
            say(f"error: {e}")
            return
        self.server.set_read_only(False)
        self.attached = True
        say(f"attached {info.device_path} {info.kernel_device} {info.method} {info.size}")

    async def demote(self) -> bool:
        try:
            await detach(self.minor, self.device, timeout=self.timeout, rundir=self.rundir)
        except DeviceBusy as e:
            say(f"busy: {e}; {', '.join(e.holders)}")
            return False
        except DeviceError as e:
            say(f"error: {e}")
            return False
        self.server.set_read_only(True)
        self.attached = False
        say("detached")
        return True

    async def run(self) -> int:
        await cleanup_stale(self.rundir)
        await self.server.start()
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[int] = asyncio.Queue()
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, events.put_nowait, sig)
        await self.promote()
        try:
            while True:
                sig = await events.get()
                if sig == signal.SIGUSR1:
                    await (self.demote() if self.attached else self.promote())
                elif sig == signal.SIGUSR2:
                    counts = self.server.stats()
                    say("stats " + " ".join(f"{k}={v}" for k, v in counts.items()))
                elif not self.attached or await self.demote():
                    return 0
        finally:
            await self.server.stop()
            self.backend.close()


def main(argv=None) -> int:
    args = docopt(__doc__, argv=argv)
    logging.basicConfig(level=logging.INFO, format="standalone: %(message)s")
    rundir = args["--rundir"]
    os.makedirs(rundir, mode=0o700, exist_ok=True)
    if args["cleanup"]:
        problems = asyncio.run(cleanup_stale(rundir))
        for p in problems:
            say(f"left: {p}")
        return 1 if problems else 0
    try:
        minor, timeout = int(args["MINOR"]), float(args["--timeout"])
    except ValueError:
        print("standalone: MINOR must be a number and --timeout seconds", file=sys.stderr)
        return 1
    try:
        return asyncio.run(Standalone(minor, args["DEVICE"], args["FILE"], rundir,
                                      timeout).run())
    except OSError as e:
        print(f"standalone: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
