"""Kernel device path 2: nbdfuse shows the export as one file, a loop device serves it.

    NBD socket --nbdfuse--> <rundir>/fuse/<minor>/nbd --losetup --direct-io=on--> /dev/loopN

Direct I/O keeps a second page cache (the loop's file) out of the way, so a FLUSH from
the file system above reaches the engine as an NBD flush instead of lingering in
the page cache of the FUSE file.
"""
import asyncio
import errno
import json
import logging
import os
import subprocess
import time

from . import commands, state
from .state import DeviceError, DeviceInfo
from .usage import in_use_async

log = logging.getLogger("drbd_py.device")

FUSECTL = "/sys/fs/fuse/connections"


def fuse_dir(rundir: str) -> str:
    return os.path.join(rundir, "fuse")


def _paths(rundir: str, minor: int) -> tuple[str, str, str]:
    mnt = os.path.join(fuse_dir(rundir), str(minor))
    return mnt, mnt + ".pid", mnt + ".log"


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


async def attach(minor: int, device_path: str, socket_path: str, rundir: str,
                 timeout: float) -> DeviceInfo:
    deadline = time.monotonic() + timeout
    mnt, pidfile, logfile = _paths(rundir, minor)
    os.makedirs(mnt, mode=0o700, exist_ok=True)
    for leftover in (pidfile, logfile):
        if os.path.exists(leftover):
            os.unlink(leftover)
    with open(logfile, "wb") as out:
        # Not an asyncio subprocess: its transport would kill nbdfuse when collected.
        # A new session keeps a ^C aimed at the engine from killing it mid-I/O.
        proc = subprocess.Popen(["nbdfuse", "-P", pidfile, mnt, "--unix", socket_path],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True)
    info = DeviceInfo(minor=minor, device_path=device_path, method="fuse", kernel_device="",
                      rdev=0, socket_path=socket_path, mountpoint=mnt, nbdfuse_pid=proc.pid,
                      nbdfuse_start=commands.start_time(proc.pid))
    state.save(rundir, info)
    try:
        ready = await commands.poll(lambda: os.path.exists(pidfile) or proc.poll() is not None,
                                    deadline - time.monotonic())
        if proc.poll() is not None or not ready:
            raise DeviceError(f"nbdfuse did not start: {_tail(logfile) or 'no answer'}")
        image = os.path.join(mnt, "nbd")
        st = await asyncio.to_thread(os.stat, image)
        info.fuse_dev, info.fuse_ino, info.size = st.st_dev, st.st_ino, st.st_size
        state.save(rundir, info)
        rc, out, err = await commands.run(["losetup", "--direct-io=on", "--find", "--show", image],
                                          max(1.0, deadline - time.monotonic()))
        if rc != 0:
            raise DeviceError(f"losetup: {err.strip() or f'exit {rc}'}")
        info.kernel_device = out.strip()
        info.rdev = os.stat(info.kernel_device).st_rdev
        state.save(rundir, info)
        return info
    except BaseException:
        if not await take_apart(info, rundir, timeout=10.0):
            state.forget(rundir, minor)
        raise


async def _loop_still_ours(info: DeviceInfo) -> bool:
    """The loop device is still bound to our FUSE file (and not reused by someone else)."""
    if not info.kernel_device or not os.path.exists(_backing_file_attr(info.kernel_device)):
        return False
    rc, out, _ = await commands.run(["losetup", "-J", "-l", "-O", "NAME,BACK-MAJ:MIN,BACK-INO",
                                     info.kernel_device], 10.0)
    if rc != 0 or not out.strip():
        return False
    for loop in json.loads(out).get("loopdevices", []):
        majmin, ino = loop.get("back-maj:min"), loop.get("back-ino")
        if majmin is None:
            # The kernel cannot trace a file on a dead FUSE mount (nbdfuse died): then
            # our record and the backing path have to do.
            with open(_backing_file_attr(info.kernel_device)) as f:
                back = f.read().strip().removesuffix(" (deleted)")
            return back == os.path.join(info.mountpoint or "", "nbd")
        major, minor = (int(x) for x in majmin.split(":"))
        return os.makedev(major, minor) == info.fuse_dev and int(ino) == info.fuse_ino
    return False


def _backing_file_attr(loopdev: str) -> str:
    return f"/sys/block/{os.path.basename(loopdev)}/loop/backing_file"


async def _detach_loop(info: DeviceInfo, deadline: float, stale: bool) -> bool:
    if not await _loop_still_ours(info):
        return True
    attr = _backing_file_attr(info.kernel_device)
    # A loop still open (say, mounted in a dying namespace) is only marked for
    # auto-clear by `losetup -d` and goes a moment later: retry until the deadline.
    while True:
        await commands.run(["losetup", "-d", info.kernel_device], 10.0)
        if await commands.poll(lambda: not os.path.exists(attr), 0.5):
            return True
        # What a dead engine left may still be mounted: it goes by itself (auto-clear)
        # once unmounted; waiting for that would only hold up the engine's start.
        if time.monotonic() >= deadline or (
                stale and await in_use_async(info.kernel_device)):
            return False


def abort_connection(fuse_dev: int | None) -> None:
    if fuse_dev is None:
        return
    if os.path.isdir(FUSECTL) and not os.listdir(FUSECTL):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL], capture_output=True,
                       timeout=10)
    try:
        with open(os.path.join(FUSECTL, str(os.minor(fuse_dev)), "abort"), "w") as f:
            f.write("1")
    except OSError:
        pass        # connection already gone


def _mounted(mnt: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


async def _stop_nbdfuse(info: DeviceInfo, deadline: float, stale: bool) -> bool:
    mnt = info.mountpoint
    if mnt and _mounted(mnt):
        rc, _, _ = await commands.run(["fusermount3", "-u", mnt], 10.0)
        if rc != 0:
            await commands.run(["fusermount3", "-u", "-z", mnt], 10.0)
    pid, started = info.nbdfuse_pid, info.nbdfuse_start

    def gone():
        _reap(pid)
        return not commands.same_process(pid, started)
    # nbdfuse sometimes stays after the unmount: wait for it, then abort its FUSE
    # connection, and only then kill it.  A dead engine's nbdfuse has nothing left to
    # serve (and stays while a loop device still holds its file): a second is enough.
    wait = max(0.0, deadline - time.monotonic())
    if await commands.poll(gone, min(wait, 1.0) if stale else wait):
        return True
    log.warning("drbd%d: nbdfuse (pid %s) still running after unmount; aborting its "
                "FUSE connection", info.minor, pid)
    abort_connection(info.fuse_dev)
    if await commands.poll(gone, 2.0):
        return True
    commands.kill(pid)
    return await commands.poll(gone, 2.0)


def _reap(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass        # not our child (an earlier engine started it): init reaps it


async def take_apart(info: DeviceInfo, rundir: str, timeout: float,
                     stale: bool = False) -> list[str]:
    """Detach the loop device, unmount and stop nbdfuse. Returns what could not be done.
    `stale`: a dead engine's leftovers, which may still be in use (then left to go by
    themselves) and whose nbdfuse has nothing to serve."""
    deadline = time.monotonic() + timeout
    problems = []
    if not await _detach_loop(info, deadline, stale):
        problems.append(f"{info.kernel_device} is still attached"
                        + (" (in use; it goes when released)" if stale else ""))
    if not await _stop_nbdfuse(info, deadline, stale):
        problems.append(f"nbdfuse (pid {info.nbdfuse_pid}) did not stop")
    mnt, pidfile, logfile = _paths(rundir, info.minor)
    for leftover in (pidfile, logfile):
        try:
            os.unlink(leftover)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(mnt)
    except OSError as e:
        if e.errno not in (errno.ENOENT,):
            problems.append(f"{mnt}: {e.strerror}")
    return problems

