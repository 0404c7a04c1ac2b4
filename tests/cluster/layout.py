"""The per-node folder on the host, and how node paths map onto it.

Each node has a root folder on the host holding the files that are bind-
mounted over the host's paths inside the node, so that tests can write
configuration and read logs from the host side, also after teardown.
"""
import os
import shutil
from pathlib import Path

# node path -> folder or file under the node's root, bind-mounted inside it.
# /etc/heartbeat is not listed: on Debian it is a symlink to ha.d.
BINDS = {
    "/etc/ha.d": "etc/ha.d",
    "/etc/drbd.conf": "etc/drbd.conf",
    "/etc/drbd.d": "etc/drbd.d",
    "/etc/hosts": "etc/hosts",
    "/var/lib/heartbeat": "var/lib/heartbeat",
    "/var/lib/drbd": "var/lib/drbd",
    "/var/log": "var/log",
}
# An admin's own files: never carried over from the host into a node.
ADMIN_FILES = {"ha.cf", "haresources", "authkeys"}


def copy_dirs(src, dst):
    """Recreate the folder tree of `src` (owners and modes, no files) at `dst`."""
    for top, dirs, _files in os.walk(src):
        target = Path(dst) / os.path.relpath(top, src)
        target.mkdir(parents=True, exist_ok=True)
        st = os.stat(top)
        os.chown(target, st.st_uid, st.st_gid)
        os.chmod(target, st.st_mode & 0o7777)


def populate(root, seed_etc=True):
    """Create the node's folder: the bind sources, /dev overlay dirs, logs, disks."""
    root = Path(root)
    for sub in ("etc/ha.d", "etc/drbd.d", "var/lib/heartbeat", "var/lib/drbd",
                "var/log", "dev-upper", "dev-work", "logs", "disks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name in ("etc/drbd.conf", "etc/hosts"):
        (root / name).touch()
    if not seed_etc:
        return
    # What the packages installed (harc, shellfuncs, resource.d, the state
    # folders owned by hacluster), as on a machine where heartbeat is installed.
    if os.path.isdir("/etc/ha.d"):
        shutil.copytree("/etc/ha.d", root / "etc/ha.d", symlinks=True, dirs_exist_ok=True,
                        ignore=lambda _d, names: [n for n in names if n in ADMIN_FILES])
    for path in ("/var/lib/heartbeat", "/var/lib/drbd"):
        if os.path.isdir(path):
            copy_dirs(path, root / path.lstrip("/"))


def bind_list(root):
    """[(host source, node target)] for the holder, in mount order."""
    return [(str(Path(root) / sub), target) for target, sub in BINDS.items()]


def host_path(root, node_path):
    """Where `node_path` lives on the host if it is under a bind, else None."""
    node_path = os.path.normpath(node_path)
    for target, sub in BINDS.items():
        if node_path == target or node_path.startswith(target + "/"):
            return Path(root) / sub / os.path.relpath(node_path, target)
    return None


# Where node.write_file may write besides the binds: the node's own /run and
# /dev, and the shared scratch areas.  Anything else would be the host's file.
WRITABLE_AREAS = ("/run", "/dev", "/tmp", "/work")


def may_write(node_path):
    """True when writing `node_path` cannot change a host file outside test areas."""
    node_path = os.path.normpath(node_path)
    if host_path("/", node_path) is not None:
        return True
    return any(node_path == p or node_path.startswith(p + "/") for p in WRITABLE_AREAS)
