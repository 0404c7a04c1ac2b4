"""Loop devices and FUSE mounts made by or for nodes, and their removal.

Loop devices are global to the kernel: a node's loop is found by its
backing file, which either lies in a file system only that node mounted
(its /run tmpfs, a FUSE mount such as nbdfuse's, a loop-mounted ext4) or is
a file under the cluster's folder on the host.
"""
import errno
import json
import os
import time

from .shell import host_run


def _devnum(text):
    major, minor = text.strip().split(":")
    return os.makedev(int(major), int(minor))


def mount_table(pid="self"):
    """(dev, mount point, fs type) of each mount seen by `pid`."""
    table = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            table.append((_devnum(fields[2]), fields[4], right.split()[0]))
    return table


def private_devs(holder_pid):
    """Devices of the file systems mounted in the node but not on the host."""
    host = {dev for dev, _mp, _fs in mount_table()}
    return {dev for dev, _mp, _fs in mount_table(holder_pid)} - host


def fuse_connections(holder_pid):
    """Numbers of the node's FUSE connections (the minor of each FUSE mount)."""
    return sorted({os.minor(dev) for dev, _mp, fs in mount_table(holder_pid)
                   if fs == "fuse" or fs.startswith("fuse.")})


def abort_fuse(holder_pid, connections):
    """Abort FUSE connections through the fusectl that the node's /sys mounts."""
    for conn in connections:
        try:
            with open(f"/proc/{holder_pid}/root/sys/fs/fuse/connections/{conn}/abort", "w") as f:
                f.write("1")
        except OSError:  # already gone with its daemon
            pass


def list_loops():
    """[{name, back-file, back-ino, back-maj:min}] for every attached loop device."""
    proc = host_run(["losetup", "-J", "-l", "-O", "NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN"], check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    return json.loads(proc.stdout).get("loopdevices", [])


def files_under(root):
    """(dev, inode) of every regular file under `root`."""
    found = set()
    for top, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            found.add((st.st_dev, st.st_ino))
    return found


def on_dead_fuse(holder_pids, back_file):
    """True when `back_file`, seen from one of the nodes, is on a FUSE mount
    whose daemon died: neither stat nor the loop ioctl can trace it then."""
    path = back_file.removesuffix(" (deleted)")
    for pid in holder_pids:
        try:
            os.stat(f"/proc/{pid}/root{path}")
        except OSError as exc:
            if exc.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                return True
    return False


def owned_loops(devs, files, back_prefixes=(), holder_pids=()):
    """{loop device: attachment} (see attachment()) for the loops whose
    backing file is on one of `devs`, is one of `files` ((dev, inode) pairs),
    whose path (as the host sees it) starts with one of `back_prefixes`, or
    that sit on a dead FUSE mount of a node."""
    owned = {}
    for loop in list_loops():
        back = loop.get("back-file") or ""
        try:
            dev = _devnum(loop["back-maj:min"])
            ino = int(loop["back-ino"])
        except (KeyError, TypeError, ValueError, AttributeError):
            dev = ino = None
        if (dev in devs or (dev, ino) in files or any(back.startswith(p) for p in back_prefixes)
                or (dev is None and back and on_dead_fuse(holder_pids, back))):
            current = attachment(loop["name"])
            if current is not None:
                owned[loop["name"]] = current
    return owned


def make_loop(backing, size):
    """Create `backing` of `size` bytes (sparse) and attach a loop device to it."""
    with open(backing, "ab") as f:
        f.truncate(size)
    return host_run(["losetup", "--find", "--show", backing]).stdout.strip()


def attachment(loop):
    """Which attachment of `loop` this is, None when it is detached.

    Once detached, a device name may go to another test run at once: the
    kernel's disk sequence number, which every attach and detach of a loop
    raises, tells ours from theirs.  (Without it, before Linux 5.15, the
    backing file's name has to do.)"""
    sysfs = f"/sys/block/{os.path.basename(loop)}"
    try:
        with open(f"{sysfs}/loop/backing_file") as f:
            backing = f.read().rstrip("\n")
    except OSError:
        return None
    try:
        with open(f"{sysfs}/diskseq") as f:
            return f"diskseq {f.read().strip()}"
    except OSError:
        return backing


def detach_loops(loops, timeout=5.0):
    """Detach `loops` ({device: attachment}, as owned_loops gives them),
    retrying: a loop still mounted in a dying mount namespace is only marked
    for auto-clear and goes a moment later.  A device attached anew meanwhile
    is another run's and is left alone.  Returns the loops of ours still
    attached at the deadline."""
    deadline = time.monotonic() + timeout
    left = dict(loops)
    while left:
        for loop, which in left.items():
            if attachment(loop) == which:
                host_run(["losetup", "-d", loop], check=False)
        left = {loop: which for loop, which in left.items() if attachment(loop) == which}
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return sorted(left)


def parse_size(size):
    """Bytes from 1048576, "64M", "1G", "512K"."""
    if isinstance(size, int):
        return size
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = size.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)
