"""A test cluster: nodes on one bridge, partitions between them, teardown."""
import ipaddress
import os
import shutil
from pathlib import Path

from . import layout, network, procs, shutdown
from .node import Node
from .shell import ClusterError, host_run


def _nodes_of(cluster, spec):
    """A Node, a node name, or an iterable of those -> list of Nodes."""
    if isinstance(spec, (Node, str)):
        spec = [spec]
    return [cluster[n] if isinstance(n, str) else n for n in spec]


class Cluster:
    """Nodes of one test, wired to one bridge.  Build with Run.cluster() or
    the `cluster` fixture; `teardown()` removes everything it made.

    `prefix` (e.g. "hbt4242-3") names its namespaces, `root` is its folder
    on the host (one sub-folder per node).
    """

    def __init__(self, prefix, root, seed_etc=True, stop_grace=1.5):
        self.prefix, self.root, self.seed_etc = prefix, Path(root), seed_etc
        # Teardown sends SIGTERM, then SIGKILL after this many seconds: the
        # nodes are thrown away, a graceful shutdown buys nothing.
        self.stop_grace = stop_grace
        self.bridge_ns = f"{prefix}-br"
        self.nodes = {}
        self.cuts = {}
        self.closed = False
        self.kept = False
        self._bridge_up = False
        self.root.mkdir(parents=True, exist_ok=True)

    def __getitem__(self, name):
        return self.nodes[name]

    def __iter__(self):
        return iter(self.nodes.values())

    def __len__(self):
        return len(self.nodes)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.teardown()

    def __repr__(self):
        return f"<Cluster {self.prefix} {list(self.nodes)}>"

    # -- building ----------------------------------------------------------------
    def add_node(self, name, ip=None, venv_on_path=True):
        """Start node `name` (its hostname) with `ip` on eth0; default
        192.0.2.11, .12, ... in order of creation.  A node with no
        configuration serves as a client on the same wire.  With
        venv_on_path=False, commands find the system's tools (the real
        heartbeat's cl_status...) before the project's."""
        if self.closed:
            raise ClusterError(f"{self.prefix}: cluster is torn down")
        if name in self.nodes:
            raise ValueError(f"{name}: node exists")
        index = len(self.nodes) + 1
        ip = str(ip or ipaddress.ip_address("192.0.2.10") + index)
        network.check_address(ip)
        if any(n.ip == ip for n in self):
            raise ValueError(f"{ip}: address taken")
        if not self._bridge_up:
            self._bridge_up = True  # set first: teardown must delete a half-made bridge
            network.create_bridge(self.bridge_ns)
        root = self.root / name
        layout.populate(root, seed_etc=self.seed_etc)
        node = Node(self, name, ip, network.mac_for(ip), f"{self.prefix}-{index}-{name}", root)
        node.venv_on_path = venv_on_path
        self.nodes[name] = node
        host_run(["ip", "netns", "add", node.netns])
        network.sysctl_quiet(node.netns)
        network.wire_node(self.bridge_ns, f"p{index}", node.netns, ip, node.mac)
        self.cuts[name] = network.Cuts(node.netns)
        self._write_hosts()
        node.start_holder()
        return node

    def _write_hosts(self):
        text = "127.0.0.1\tlocalhost\n" + "".join(f"{n.ip}\t{n.name}\n" for n in self)
        for n in self:
            # In place: a bind-mounted file keeps its inode.
            with open(n.root / "etc/hosts", "w") as f:
                f.write(text)

    # -- partitions ----------------------------------------------------------------
    def _set_cut(self, a, b, cut):
        for src, dst in ((a, b), (b, a)):
            macs = self.cuts[src.name].macs
            if cut:
                macs.add(dst.mac)
            else:
                macs.discard(dst.mac)

    def _apply(self, nodes):
        for n in {n.name: n for n in nodes}.values():
            self.cuts[n.name].apply()

    def partition(self, side_a, side_b):
        """Cut every node of `side_a` from every node of `side_b` (each side:
        a Node, a name, or a list of them), frames dropped in both directions."""
        a_nodes, b_nodes = _nodes_of(self, side_a), _nodes_of(self, side_b)
        for a in a_nodes:
            for b in b_nodes:
                if a is not b:
                    self._set_cut(a, b, True)
        self._apply(a_nodes + b_nodes)

    def isolate(self, node):
        """Cut `node` from every other node (now present)."""
        node = _nodes_of(self, node)[0]
        self.partition(node, [n for n in self if n is not node])

    def heal(self, side_a=None, side_b=None):
        """Undo cuts: all of them, all of `side_a`'s, or those between two sides."""
        a_nodes = list(self) if side_a is None else _nodes_of(self, side_a)
        b_nodes = list(self) if side_b is None else _nodes_of(self, side_b)
        for a in a_nodes:
            for b in b_nodes:
                if a is not b:
                    self._set_cut(a, b, False)
        self._apply(a_nodes + b_nodes)

    # -- teardown ------------------------------------------------------------------
    def teardown(self, keep_files=False):
        """Stop every process of every node, unmount, detach loops, delete the
        namespaces and (unless keep_files) the folders.  Safe to call twice.
        Raises ClusterError naming whatever could not be removed."""
        if self.closed:
            return
        self.closed = True
        nodes = list(self)
        errors = shutdown.power_off(nodes, self.root, self.stop_grace)
        for ns in [n.netns for n in nodes] + ([self.bridge_ns] if self._bridge_up else []):
            try:
                errors += delete_netns(ns)
            except Exception as exc:  # the other namespaces must still go
                errors.append(f"netns {ns}: {exc!r}")
        self.kept = keep_files
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise ClusterError(f"{self.prefix}: teardown left: " + "; ".join(errors))


def delete_netns(ns):
    """Kill whatever still runs in `ns` and delete it; [] or [error]."""
    path = f"/run/netns/{ns}"
    if not os.path.exists(path):
        return []
    try:
        left = procs.terminate(procs.pids_in_netns(procs.netns_inode(path)), grace=0)
    except OSError:
        left = []
    proc = host_run(["ip", "netns", "del", ns], check=False)
    if proc.returncode != 0:
        return [f"netns {ns}: {proc.stderr.strip()}"]
    return [f"netns {ns}: unkillable {left}"] if left else []
