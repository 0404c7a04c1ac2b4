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


class Run:
    """Factory and registry of the clusters of this process."""

    def __init__(self, base_dir=None):
        self.pid = os.getpid()
        self.prefix = f"hbt{self.pid}"
        base = base_dir or os.environ.get("HBT_TMPDIR") or tempfile.gettempdir()
        self.base_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-", dir=base))
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
    in its folder, the folder itself.  Returns errors as strings."""
    errors = []
    # Node namespaces first: their processes may hold the bridge's veths.
    for ns in sorted(namespaces_of(pid), key=lambda n: n.endswith("-br")):
        errors += delete_netns(ns)
    tmp = Path(base_dir) if base_dir else None
    prefixes = (f"{tmp}/",) if tmp else tuple(
        f"{p}/" for p in Path(tempfile.gettempdir()).glob(f"hbt{pid}-*"))
    stuck = storage.detach_loops(storage.owned_loops(set(), set(), prefixes))
    if stuck:
        errors.append(f"loop devices still attached: {' '.join(stuck)}")
    for folder in ([tmp] if tmp else Path(tempfile.gettempdir()).glob(f"hbt{pid}-*")):
        shutil.rmtree(folder, ignore_errors=True)
    return errors


def dead_runs():
    """Pids of harness runs that left namespaces and no longer exist."""
    return sorted({int(OWNER.match(ns).group(1)) for ns in namespaces_of()
                   if not procs.is_alive(int(OWNER.match(ns).group(1)))})


def sweep_dead_runs():
    """Clean up after runs that were killed before they could; [errors]."""
    errors = []
    for pid in dead_runs():
        errors += sweep(pid)
    return errors
