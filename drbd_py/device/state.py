"""What an attached device is made of, persisted under the run directory.

A record survives a crash of the engine (not a reboot: /run is tmpfs), so that the
next start can take apart exactly what the dead engine built and nothing else.
"""
import json
import os
from dataclasses import asdict, dataclass, field

DEFAULT_RUNDIR = "/run/drbd-py"


def rundir_default() -> str:
    return os.environ.get("DRBD_PY_RUNDIR", DEFAULT_RUNDIR)


class DeviceError(Exception):
    """Building or taking apart a device failed; the message is one line for the admin."""


class DeviceBusy(DeviceError):
    """The device is open or mounted: DRBD refuses to demote it (drbdsetup exit 11)."""

    MESSAGE = "State change failed: (-12) Device is held open by someone"

    def __init__(self, device_path: str, holders: list[str]):
        self.device_path = device_path
        self.holders = holders
        super().__init__(self.MESSAGE)


@dataclass
class DeviceInfo:
    minor: int
    device_path: str            # /dev/drbdN, a block device node (see docs/drbd-device.md)
    method: str                 # "nbd" (kernel nbd + nbd-client) or "fuse" (nbdfuse + loop)
    kernel_device: str          # /dev/nbdX or /dev/loopN
    rdev: int                   # device number of kernel_device, given to device_path
    socket_path: str
    size: int = 0
    mountpoint: str | None = None       # fuse: where nbdfuse mounts its one file
    fuse_dev: int | None = None         # fuse: st_dev of that mount (= FUSE connection id)
    fuse_ino: int | None = None         # fuse: inode of the file the loop device is bound to
    nbdfuse_pid: int | None = None
    nbdfuse_start: int | None = None    # start time in ticks: tells our pid from a reused one
    notes: list[str] = field(default_factory=list)

    @property
    def major_minor(self) -> str:
        return f"{os.major(self.rdev)}:{os.minor(self.rdev)}"


def state_dir(rundir: str) -> str:
    return os.path.join(rundir, "device")


def state_path(rundir: str, minor: int) -> str:
    return os.path.join(state_dir(rundir), f"{minor}.json")


def save(rundir: str, info: DeviceInfo) -> None:
    os.makedirs(state_dir(rundir), mode=0o700, exist_ok=True)
    path = state_path(rundir, info.minor)
    with open(path + ".tmp", "w") as f:
        json.dump(asdict(info), f)
    os.replace(path + ".tmp", path)


def load(rundir: str, minor: int) -> DeviceInfo | None:
    try:
        with open(state_path(rundir, minor)) as f:
            return DeviceInfo(**json.load(f))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as e:
        raise DeviceError(f"{state_path(rundir, minor)}: unreadable device record: {e}") from e


def load_all(rundir: str) -> list[DeviceInfo]:
    found = []
    try:
        names = sorted(os.listdir(state_dir(rundir)))
    except FileNotFoundError:
        return found
    for name in names:
        if name.endswith(".json") and name[:-5].isdigit():
            try:
                info = load(rundir, int(name[:-5]))
            except DeviceError:
                os.unlink(os.path.join(state_dir(rundir), name))   # nothing can be traced
                continue
            if info is not None:
                found.append(info)
    return found


def forget(rundir: str, minor: int) -> None:
    try:
        os.unlink(state_path(rundir, minor))
    except FileNotFoundError:
        pass
