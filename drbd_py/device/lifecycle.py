"""attach/detach: make /dev/drbdN a working block device on promotion, take it away on demotion."""
import logging
import os
import time

from . import commands, fuse_loop, nbd_kernel, state
from .node import make_node, remove_node
from .state import DeviceBusy, DeviceError, DeviceInfo
from .usage import device_number, in_use_async, settled_holders

log = logging.getLogger("drbd_py.device")

METHOD_ENV = "DRBD_PY_DEVICE_METHOD"     # "nbd" or "fuse": skip detection


async def choose_method() -> str:
    forced = os.environ.get(METHOD_ENV, "").strip()
    if forced in ("nbd", "fuse"):
        return forced
    if forced:
        raise DeviceError(f"{METHOD_ENV}={forced}: expected nbd or fuse")
    return "nbd" if await nbd_kernel.load_module() else "fuse"


def _path_module(method: str):
    return nbd_kernel if method == "nbd" else fuse_loop


async def attach(minor: int, device_path: str, socket_path: str, rundir: str | None = None,
                 timeout: float = 30.0) -> DeviceInfo:
    """Build the kernel block device for the NBD export at socket_path; make device_path it.

    A coroutine: the kernel's first I/O (partition scan, udev probes) comes back to the
    caller's NBD server while this waits.
    """
    rundir = rundir or state.rundir_default()
    old = state.load(rundir, minor)
    if old is not None:
        log.warning("drbd%d: taking apart what a previous run left: %s", minor,
                    old.kernel_device or old.mountpoint)
        await take_apart_record(old, rundir, timeout)
    method = await choose_method()
    info = await _path_module(method).attach(minor, device_path, socket_path, rundir, timeout)
    try:
        make_node(device_path, info.rdev)
        state.save(rundir, info)
    except BaseException:
        await _path_module(method).take_apart(info, rundir, timeout)
        state.forget(rundir, minor)
        raise
    how = ("nbd-client on the kernel's nbd driver" if method == "nbd"
           else "nbdfuse + loop device (no nbd driver in this kernel)")
    log.info("drbd%d: %s is %s (%s), %d bytes, via %s", minor, device_path, info.kernel_device,
             info.major_minor, info.size, how)
    return info


async def detach(minor: int, device_path: str, timeout: float = 30.0,
                 rundir: str | None = None) -> None:
    """Refuse (DeviceBusy) if the device is open or mounted; else flush and take it apart."""
    deadline = time.monotonic() + timeout
    rundir = rundir or state.rundir_default()
    info = state.load(rundir, minor)
    if info is None:
        if device_number(device_path) is not None and not await in_use_async(device_path):
            remove_node(device_path)       # a node with no record behind it leads nowhere
        return
    probe = device_path if device_number(device_path) == info.rdev else info.kernel_device
    users = await settled_holders(probe)
    if users:
        raise DeviceBusy(device_path, users)
    rc, _, err = await commands.run(["blockdev", "--flushbufs", info.kernel_device],
                                    max(1.0, deadline - time.monotonic()))
    if rc != 0 and os.path.exists(info.kernel_device):
        raise DeviceError(f"blockdev --flushbufs {info.kernel_device}: {err.strip()}")
    # The node goes first: once the kernel device is freed its number can be handed
    # to someone else, and /dev/drbdN must never lead there.
    remove_node(device_path, info.rdev)
    problems = await _path_module(info.method).take_apart(
        info, rundir, max(1.0, deadline - time.monotonic()))
    if problems:
        raise DeviceError(f"{device_path}: " + "; ".join(problems))
    state.forget(rundir, minor)
    log.info("drbd%d: %s removed (%s released)", minor, device_path, info.kernel_device)


async def take_apart_record(info: DeviceInfo, rundir: str, timeout: float) -> list[str]:
    """Remove everything a record names, busy or not (its engine is gone)."""
    remove_node(info.device_path, info.rdev)
    problems = await _path_module(info.method).take_apart(info, rundir, timeout, stale=True)
    if problems:
        log.warning("drbd%d: left behind: %s", info.minor, "; ".join(problems))
    state.forget(rundir, info.minor)
    return problems
