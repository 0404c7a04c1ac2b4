"""One test run (one pytest process): unique names, and every cluster it
made, so that whatever happens all of them are torn down.

Names start with `hbt<pid>-`: several runs on one machine never collide,
and leftovers of a run that was killed can be told apart from a live run's.
"""
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path

from . import procs, storage
from .cluster import Cluster, delete_netns
from .shell import ClusterError

NETNS_DIR = "/run/netns"
OWNER = re.compile(r"^hbt(\d+)-")
# In a run's folder: it holds node folders kept for a post-mortem (HBT_KEEP).
KEEP_MARK = "KEPT"


def temp_base():
    """Where runs put their folders: $HBT_TMPDIR, else the system's temp dir."""
    return Path(os.environ.get("HBT_TMPDIR") or tempfile.gettempdir())


class Run:
    """Factory and registry of the clusters of this process."""

    def __init__(self, base_dir=None):
        self.pid = os.getpid()
        self.prefix = f"hbt{self.pid}"
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-", dir=base_dir or temp_base()))
        self.clusters = []
        self._ids = itertools.count(1)

    def cluster(self, *names, **options):
        """A new Cluster with nodes `names` (hostnames, in address order);
        `options` go to Cluster (seed_etc, stop_grace)."""
        cid = next(self._ids)
        c = Cluster(f"{self.prefix}-{cid}", self.base_dir / f"c{cid}", **options)
        self.clusters.append(c)
        for name in names:
            c.add_node(name)
        return c

    def teardown_all(self):
        """Tear down every cluster, then sweep anything of this run left over."""
        errors = []
        for c in self.clusters:
            try:
                c.teardown()
            except ClusterError as exc:
                errors.append(str(exc))
        if any(c.kept for c in self.clusters):
            (self.base_dir / KEEP_MARK).touch()
        errors += sweep(self.pid, self.base_dir)
        if errors:
            raise ClusterError("; ".join(errors))


def namespaces_of(pid=None):
    """Network namespaces made by the harness: all, or those of run `pid`."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    found = []
    for name in sorted(names):
        m = OWNER.match(name)
        if m and (pid is None or int(m.group(1)) == pid):
            found.append(name)
    return found


def sweep(pid, base_dir=None):
    """Remove what run `pid` left: processes and namespaces, loops over files
    in its folder, the folder itself unless marked KEPT.  Returns errors as strings."""
    errors = []
    # Loops over a node's own mounts (nbdfuse's file) are only traceable while the
    # node's processes live: once its mount namespace is gone such a loop shows
    # its backing file as "/nbd" and nothing names it any more.
    in_nodes = _loops_in_namespaces(namespaces_of(pid), errors)
    # Node namespaces first: their processes may hold the bridge's veths.
    for ns in sorted(namespaces_of(pid), key=lambda n: n.endswith("-br")):
        errors += delete_netns(ns)
    folders = [Path(base_dir)] if base_dir else list(temp_base().glob(f"hbt{pid}-*"))
    owned = storage.owned_loops(set(), set(), tuple(f"{f}/" for f in folders))
    owned.update(in_nodes)
    stuck = storage.detach_loops(owned)
    if stuck:
        errors.append(f"loop devices still attached: {' '.join(stuck)}")
    for folder in folders:
        if not (folder / KEEP_MARK).exists():
            shutil.rmtree(folder, ignore_errors=True)
    return errors


def _loops_in_namespaces(names, errors):
    """{loop: attachment} for the loops over files in mounts private to the
    processes of network namespaces `names` (as shutdown.owned_loops does for
    live nodes); their FUSE connections are aborted, since a loop worker can
    wait for ever on a FUSE request that the killed nbdfuse never answers."""
    pids = []
    for ns in names:
        try:
            pids += procs.pids_in_netns(procs.netns_inode(f"{NETNS_DIR}/{ns}"))
        except OSError:
            continue
    devs = set()
    for p in pids:
        try:
            devs |= storage.private_devs(p)
        except OSError:  # exited meanwhile
            continue
    try:
        owned = storage.owned_loops(devs, set(), (), pids) if pids else {}
    except Exception as exc:  # the rest of the sweep must still run
        errors.append(f"finding loops in nodes: {exc!r}")
        owned = {}
    for p in pids:
        try:
            storage.abort_fuse(p, storage.fuse_connections(p))
        except OSError:
            continue
    return owned


def dead_runs():
    """Pids of harness runs that left namespaces or folders and no longer exist."""
    owners = {int(OWNER.match(ns).group(1)) for ns in namespaces_of()}
    owners |= {int(OWNER.match(f.name).group(1)) for f in temp_base().glob("hbt*-*")
               if OWNER.match(f.name) and f.is_dir() and not (f / KEEP_MARK).exists()}
    return sorted(pid for pid in owners if not procs.is_alive(pid))


def sweep_dead_runs():
    """Clean up after runs that were killed before they could; [errors]."""
    errors = []
    for pid in dead_runs():
        errors += sweep(pid)
    return errors
