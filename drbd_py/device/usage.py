"""Is a block device open or mounted? (DRBD refuses to demote a device in use.)

The kernel device behind /dev/drbdN is known by its device number, so every check
compares numbers, not names: a process may have opened /dev/loop3 or /dev/drbd1, in
this mount namespace or another one.
"""
import asyncio
import errno
import os
import stat
import time

# Loop devices are the machine's: `losetup -l` run by anyone (another engine's
# cleanup, a monitoring script) opens every one of them for a moment. A device that is
# only open by processes gets this long to be let go of before it counts as in use.
OPENER_GRACE = 1.0


def device_number(path: str) -> int | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_rdev if stat.S_ISBLK(st.st_mode) else None


def _mounts_of(rdev: int) -> list[str]:
    wanted = f"{os.major(rdev)}:{os.minor(rdev)}"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[2] == wanted:
                found.append(f"mounted on {fields[4]}")
    return found


def _stacked_on(rdev: int) -> list[str]:
    try:
        names = os.listdir(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}/holders")
    except FileNotFoundError:
        return []
    return [f"held by {name}" for name in names]


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _openers_of(rdev: int) -> list[str]:
    found = []
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                # Only device nodes can be the device; stat'ing anything else could
                # hang on a dead FUSE mount (the kind we ourselves take apart).
                if not target.startswith("/dev/"):
                    continue
                st = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if stat.S_ISBLK(st.st_mode) and st.st_rdev == rdev:
                found.append(f"opened by {_comm(pid)} (pid {pid})")
                break
    return found


def holders(device_path: str) -> list[str]:
    """Who has the device: 'mounted on /mnt', 'opened by mkfs (pid 12)', 'held by dm-0'."""
    rdev = device_number(device_path)
    if rdev is None:
        return []
    return _mounts_of(rdev) + _stacked_on(rdev) + _openers_of(rdev)


def _exclusively_claimed(device_path: str) -> bool:
    # A file system mounted in any mount namespace holds its device exclusively.
    try:
        fd = os.open(device_path, os.O_RDONLY | os.O_EXCL | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.EBUSY:
            return True
        if e.errno in (errno.ENOENT, errno.ENXIO, errno.ENODEV):
            return False
        raise
    os.close(fd)
    return False


def _users(device_path: str) -> list[str]:
    found = holders(device_path)
    if not found and device_number(device_path) is not None \
            and _exclusively_claimed(device_path):
        found = ["mounted in another mount namespace"]
    return found


def in_use(device_path: str) -> bool:
    """True while the device is mounted, open, or stacked under another device.

    Opens the device for a moment (O_EXCL): from inside the engine's event loop use
    in_use_async, so that the kernel's I/O on that close is still served.
    """
    return bool(_users(device_path))


async def in_use_async(device_path: str) -> bool:
    return await asyncio.to_thread(in_use, device_path)


async def settled_holders(device_path: str, grace: float = OPENER_GRACE) -> list[str]:
    """holders() (plus an exclusive claim from elsewhere), once brief opens are over:
    while the device is only open by processes, look again for up to `grace` seconds.
    A mount or a device stacked on top is an answer at once.  Runs the checks in a
    thread (the probe's close may need the caller's event loop)."""
    deadline = time.monotonic() + grace
    while True:
        found = await asyncio.to_thread(_users, device_path)
        if not found or not all(h.startswith("opened by ") for h in found) \
                or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(0.05)
