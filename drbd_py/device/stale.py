"""After a crash: take apart the devices a dead engine left, so that `primary` works again."""
import json
import logging
import os

from . import commands, fuse_loop, state
from .lifecycle import take_apart_record

log = logging.getLogger("drbd_py.device")


def _fuse_mounts_under(directory: str) -> list[tuple[int, str]]:
    found = []
    prefix = directory.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            fstype = right.split()[0]
            if fields[4].startswith(prefix) and (fstype == "fuse" or fstype.startswith("fuse.")):
                major, minor = (int(x) for x in fields[2].split(":"))
                found.append((os.makedev(major, minor), fields[4]))
    return found


async def _loops_backed_by(fuse_dev: int) -> list[str]:
    rc, out, _ = await commands.run(["losetup", "-J", "-l", "-O", "NAME,BACK-MAJ:MIN"], 10.0)
    if rc != 0 or not out.strip():
        return []
    wanted = f"{os.major(fuse_dev)}:{os.minor(fuse_dev)}"
    return [loop["name"] for loop in json.loads(out).get("loopdevices", [])
            if loop.get("back-maj:min") == wanted]


async def cleanup_stale(rundir: str | None = None, timeout: float = 30.0) -> list[str]:
    """Remove stale /dev/drbdN nodes, loop devices, FUSE mounts and nbdfuse processes.

    Call before serving anything. Returns the problems left (also logged); none of them
    stops a later attach, which takes a fresh loop device and mount.
    """
    rundir = rundir or state.rundir_default()
    problems = []
    for info in state.load_all(rundir):
        log.info("drbd%d: cleaning up after a previous run: %s %s", info.minor,
                 info.device_path, info.kernel_device)
        problems += await take_apart_record(info, rundir, timeout)
    # FUSE mounts of ours that no record names (a crash between mount and record).
    for fuse_dev, mnt in _fuse_mounts_under(fuse_loop.fuse_dir(rundir)):
        log.info("cleaning up a stale FUSE mount on %s", mnt)
        for loop in await _loops_backed_by(fuse_dev):
            await commands.run(["losetup", "-d", loop], 10.0)
        await commands.run(["fusermount3", "-u", "-z", mnt], 10.0)
        fuse_loop.abort_connection(fuse_dev)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
    return problems
