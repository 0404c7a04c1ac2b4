"""The /dev/drbdN block device node, carrying the numbers of the kernel device behind it."""
import grp
import os
import stat

from .state import DeviceError


def _disk_gid() -> int:
    try:
        return grp.getgrnam("disk").gr_gid
    except KeyError:
        return 0


def make_node(path: str, rdev: int) -> None:
    remove_node(path)
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    os.mknod(path, stat.S_IFBLK | 0o660, rdev)
    os.chown(path, 0, _disk_gid())
    os.chmod(path, 0o660)       # mknod's mode is cut by the umask


def remove_node(path: str, rdev: int | None = None) -> bool:
    """Remove a device node or symlink at `path` (only with number `rdev` if given)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or (stat.S_ISBLK(st.st_mode)
                                    and (rdev is None or st.st_rdev == rdev)):
        os.unlink(path)
        return True
    if not stat.S_ISBLK(st.st_mode):
        raise DeviceError(f"{path}: exists and is not a block device; not touching it")
    return False
