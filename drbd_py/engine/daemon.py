"""drbd-py-engine: the per-node daemon holding every DRBD resource's state.

Usage:
  drbd-py-engine [-f] [-d] [--rundir=DIR] [--logfile=FILE]
  drbd-py-engine (-h | --help)

Options:
  -f, --foreground  Stay in the foreground and log to stderr as well.
  -d, --debug       Log debug messages.
  --rundir=DIR      Sockets, pidfile and status file [default: $DRBD_PY_RUNDIR or /run/drbd-py].
  --logfile=FILE    Log file [default: $DRBD_PY_LOGFILE or /var/log/drbd-py-engine.log].
  -h, --help        Show this text.

Started by `drbdadm up` (or /etc/init.d/drbd start) when not running; drbdadm talks to
it over <rundir>/engine.sock.  SIGTERM takes every resource down and exits.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sys

from docopt import docopt

from . import enginelog, paths
from .control import ControlServer
from .engine import Engine
from .memtrim import give_back_free_heap

PROG = "drbd-py-engine"


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)
    os.chdir("/")


def _lock(rundir: str) -> int | None:
    """One engine per node: an flock on <rundir>/engine.lock for the daemon's life."""
    os.makedirs(rundir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(rundir, "engine.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


async def serve(rundir: str) -> int:
    log = logging.getLogger("drbd_py.engine")
    engine = Engine(rundir)
    if engine.devices:
        try:
            from ..device import cleanup_stale
            for problem in await cleanup_stale(rundir):
                log.warning("left from a previous run: %s", problem)
        except Exception as e:
            log.warning("cleanup of devices left by a previous run failed: %s", e)
    control = ControlServer(engine, paths.socket_path(rundir))
    await control.start()
    engine.changed()
    give_back_free_heap()           # what importing and start-up freed
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    log.info("%s started (pid %d), control socket %s", PROG, os.getpid(),
             paths.socket_path(rundir))
    waiter = asyncio.ensure_future(engine.stopping.wait())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait([waiter, signalled], return_when=asyncio.FIRST_COMPLETED)
    if signalled.done() and not engine.stopping.is_set():
        log.info("signal received: taking all resources down")
        await engine.shutdown()
    await asyncio.sleep(0.1)           # let the reply to `shutdown` leave
    await control.stop()
    for task in (waiter, signalled):
        task.cancel()
    log.info("%s stopped", PROG)
    return 0


def main(argv=None) -> int:
    args = docopt(__doc__, argv=argv)
    rundir = args["--rundir"]
    if not rundir or rundir.startswith("$"):
        rundir = paths.rundir()
    logfile = args["--logfile"]
    if not logfile or logfile.startswith("$"):
        logfile = paths.logfile()
    lock = _lock(rundir)
    if lock is None:
        sys.stderr.write(f"{PROG}: already running (lock {rundir}/engine.lock held)\n")
        return 1
    if not args["--foreground"]:
        os.close(lock)
        _daemonize()
        lock = _lock(rundir)
        if lock is None:
            return 1
    with open(paths.pid_path(rundir), "w") as f:
        f.write(f"{os.getpid()}\n")
    enginelog.setup(logfile, args["--foreground"], args["--debug"])
    try:
        return asyncio.run(serve(rundir))
    finally:
        for path in (paths.pid_path(rundir),):
            try:
                os.unlink(path)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
