"""/dev/drbdN: the kernel block device in front of the engine's NBD export.

    info = await attach(minor, "/dev/drbd1", "/run/drbd-py/nbd/1.sock")
    await detach(minor, "/dev/drbd1", timeout=30)     # DeviceBusy if open or mounted
    in_use("/dev/drbd1") / await in_use_async("/dev/drbd1")
    await cleanup_stale("/run/drbd-py")               # at engine start, after a crash

See docs/drbd-device.md.
"""
from .lifecycle import attach, choose_method, detach
from .stale import cleanup_stale
from .state import DeviceBusy, DeviceError, DeviceInfo
from .usage import holders, in_use, in_use_async, settled_holders

__all__ = ["attach", "choose_method", "cleanup_stale", "detach", "DeviceBusy", "DeviceError",
           "DeviceInfo", "holders", "in_use", "in_use_async", "settled_holders"]
