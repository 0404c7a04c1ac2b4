"""Kernel device path 1: the kernel's nbd driver, connected by nbd-client.

    NBD socket --nbd-client -unix--> /dev/nbdX

Preferred where the kernel has the nbd module: no FUSE round trip and no loop device.
Not exercised by the tests on machines without the module (see docs/drbd-device.md).
"""
import logging
import os
import re
import shutil
import time

from . import commands
from .state import DeviceError, DeviceInfo

log = logging.getLogger("drbd_py.device")

BLOCK_SIZE = "512"      # DRBD shows 512-byte logical sectors; so do we


def _nbd_devices() -> list[str]:
    try:
        names = os.listdir("/sys/block")
    except FileNotFoundError:
        return []
    return sorted((n for n in names if re.fullmatch(r"nbd\d+", n)), key=lambda n: int(n[3:]))


def available() -> bool:
    return bool(_nbd_devices()) and os.path.exists("/dev/nbd0")


async def load_module() -> bool:
    """Try `modprobe nbd` once; True when nbd devices exist afterwards."""
    if not available() and shutil.which("modprobe"):
        try:
            await commands.run(["modprobe", "nbd"], 15.0)
        except commands.CommandTimeout:
            return False
    return available()


def _connected(name: str) -> bool:
    if os.path.exists(f"/sys/block/{name}/pid"):
        return True
    try:
        with open(f"/sys/block/{name}/size") as f:
            return int(f.read().strip() or 0) > 0
    except OSError:
        return False


async def attach(minor: int, device_path: str, socket_path: str, rundir: str,
                 timeout: float) -> DeviceInfo:
    deadline = time.monotonic() + timeout
    errors = []
    for name in _nbd_devices():
        if _connected(name):
            continue
        dev = f"/dev/{name}"
        # nbd-client hands the socket to the kernel and exits (netlink); its forked
        # child reads the partition table, which our own server must answer: hence
        # an asyncio subprocess, never a blocking call.
        rc, _, err = await commands.run(["nbd-client", "-unix", socket_path, dev,
                                         "-b", BLOCK_SIZE], max(1.0, deadline - time.monotonic()))
        if rc != 0:
            errors.append(err.strip())
            continue        # lost a race for this device, or it is busy: try the next
        if not await commands.poll(lambda: _connected(name), max(0.5, deadline - time.monotonic())):
            errors.append(f"{dev} did not come up")
            await commands.run(["nbd-client", "-d", dev], 10.0)
            continue
        with open(f"/sys/block/{name}/size") as f:
            size = int(f.read()) * 512
        return DeviceInfo(minor=minor, device_path=device_path, method="nbd", kernel_device=dev,
                          rdev=os.stat(dev).st_rdev, socket_path=socket_path, size=size)
    raise DeviceError("no free nbd device could be connected"
                      + (f": {errors[-1]}" if errors else ""))


async def take_apart(info: DeviceInfo, rundir: str, timeout: float,
                     stale: bool = False) -> list[str]:
    name = os.path.basename(info.kernel_device)
    if not _connected(name):
        return []
    await commands.run(["nbd-client", "-d", info.kernel_device], timeout)
    if await commands.poll(lambda: not _connected(name), timeout):
        return []
    return [f"{info.kernel_device} is still connected"]

