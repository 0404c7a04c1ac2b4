"""The classic two-node cluster of the 2006 guides, on the test cluster: debian-420 and
debian-566 with the project's example files (etc/ha.d, etc/drbd.conf) where only the
addresses, the disks and the interface are adapted, DRBD resource drbd0 (/dev/drbd1, ext3
on /mnt/nd0) under heartbeat v1, and a third node as the client of the file service
nd0svc that heartbeat starts on the service address 192.0.2.222.

Shared by the scenario tests and the demo (tests/e2e/demo.py):

    pair = ClassicPair(run.cluster, FAST)      # or the `cluster` fixture
    pair.first_start()                         # drbd start, initial sync, mke2fs,
                                               # heartbeat start on both
    files = pair.put("before", 10, 4096)
    pair.crash(pair.preferred); ...; pair.boot(pair.preferred)
"""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster import ClusterError, wait_until
from tests.cluster.node import venv_bin

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PREFERRED, OTHER = "debian-420", "debian-566"
VIP = "192.0.2.222"
PORT = 6420
RESOURCE, DEVICE, MOUNT = "drbd0", "/dev/drbd1", "/mnt/nd0"
PROC_DRBD = "/run/drbd-py/proc-drbd"
HA_LOG = "/var/log/ha-log"
ENGINE_LOG = "/var/log/drbd-py-engine.log"


@dataclass(frozen=True)
class Timers:
    """ha.cf timer lines replacing the example's (None: the example's own line)."""
    name: str
    keepalive: str | None = None
    deadtime: str | None = None
    warntime: str | None = None
    # heartbeat 3.0.6 waits 10 s for a stable peer before a joint start takes its groups;
    # our daemon's HBPY_RQSTDELAY shortens that wait along with the timers
    rqstdelay: str | None = None

    @property
    def deadtime_s(self) -> float:
        return seconds(self.deadtime or "30")

    @property
    def keepalive_s(self) -> float:
        return seconds(self.keepalive or "2")


def seconds(value: str) -> float:
    """An ha.cf time: `2` (seconds) or `500ms`."""
    return float(value[:-2]) / 1000 if value.endswith("ms") else float(value)


CLASSIC = Timers("classic")                       # keepalive 2, deadtime 30, initdead 120
FAST = Timers("fast", keepalive="500ms", deadtime="2", warntime="1", rqstdelay="1")


# -- the configuration files ------------------------------------------------------------
def ha_cf(timers: Timers, peer_ip: str) -> str:
    text = (REPO / "etc/ha.d/ha.cf").read_text()
    text = _replace_line(text, "ucast", f"ucast eth0 {peer_ip}")
    for word in ("keepalive", "deadtime", "warntime"):
        value = getattr(timers, word)
        if value is not None:
            text = _replace_line(text, word, f"{word} {value}")
    return text


def haresources() -> str:
    text = (REPO / "etc/ha.d/haresources").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith(PREFERRED))
    new = line.replace("192.168.0.222", VIP) + " nd0svc"
    return text.replace(line, new)


AUTHKEYS = "auth 3\n3 md5 Hello!\n"


def drbd_conf(disks: dict[str, str], ips: dict[str, str]) -> str:
    """etc/drbd.conf (the 0.7 file) for these disks and addresses; its incon-degr-cmd
    `halt -f` would halt the machine every test node shares: it only logs here."""
    text = (REPO / "etc/drbd.conf").read_text()
    text = text.replace('incon-degr-cmd "halt -f";',
                        'incon-degr-cmd "echo incon-degr-cmd: would halt -f";')
    text = text.replace("/dev/sdb1", disks[PREFERRED]).replace("/dev/hda3", disks[OTHER])
    return text.replace("192.168.0.95", ips[PREFERRED]).replace("192.168.0.73", ips[OTHER])


def _replace_line(text: str, word: str, new: str) -> str:
    out, n = re.subn(rf"^{word}\s.*$", new, text, count=1, flags=re.M)
    if n != 1:
        raise ValueError(f"no `{word}` line in the example file")
    return out


# -- what a node shows ------------------------------------------------------------------
@dataclass(frozen=True)
class DrbdView:
    """One device line of the /proc/drbd-format status file."""
    role: str = "Unconfigured"
    peer: str = "Unknown"
    cs: str = "Unconfigured"
    ds: str = "DUnknown/DUnknown"
    synced: float | None = None          # percent, during a resync


_DEVICE_LINE = re.compile(r"^\s*1: cs:(\S+) (?:st|ro):(\w+)/(\w+) ds:(\S+)", re.M)
_SYNCED = re.compile(r"sync'ed:\s*([\d.]+)%")


def parse_proc_drbd(text: str) -> DrbdView:
    m = _DEVICE_LINE.search(text)
    if not m:
        return DrbdView()
    synced = _SYNCED.search(text[m.end():])
    return DrbdView(role=m.group(2), peer=m.group(3), cs=m.group(1), ds=m.group(4),
                    synced=float(synced.group(1)) if synced else None)


@dataclass(frozen=True)
class NodeView:
    vip: bool = False
    mounted: bool = False
    drbd: DrbdView = DrbdView()
    up: bool = True                       # False while the node is down (crashed, rebooting)


def look(node) -> NodeView:
    """What node shows now; cheap enough to call every 50 ms."""
    try:
        holder = node.holder_pid
        # the holder lives in the node's mount namespace: its mounts are the node's
        with open(f"/proc/{holder}/mounts") as f:
            mounted = any(line.split()[1] == MOUNT for line in f)
        try:
            drbd = parse_proc_drbd(node.path(PROC_DRBD).read_text())
        except OSError:
            drbd = DrbdView()
        addrs = subprocess.run(["ip", "-n", node.netns, "-o", "-4", "addr", "show", "dev",
                                "eth0"], capture_output=True, text=True, timeout=5).stdout
    except (ClusterError, OSError, subprocess.TimeoutExpired):
        return NodeView(up=False)
    return NodeView(vip=f"inet {VIP}/" in addrs, mounted=mounted, drbd=drbd)


# -- the sampler ------------------------------------------------------------------------
class Periodic:
    """Calls `tick()` every `interval` s (a fixed rate, not a fixed pause) in a thread,
    from start() until stop()."""

    def __init__(self, tick, interval: float, name: str):
        self.tick, self.interval = tick, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self):
        due = time.monotonic()
        while not self._stop.is_set():
            self.tick()
            due += self.interval
            self._stop.wait(max(0.0, due - time.monotonic()))


@dataclass
class Event:
    at: float                             # seconds since the sampler started
    node: str
    what: str


@dataclass
class Watch:
    """Samples both nodes every `interval` s in a thread: the latest views, every change
    as an Event, and each moment two nodes had the VIP, the mount or the Primary role."""
    nodes: list
    interval: float = 0.05
    t0: float = field(default_factory=time.monotonic)
    views: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    samples: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()
        self._ticker = Periodic(self.sample, self.interval, "watch")

    def start(self):
        self._ticker.start()
        return self

    def stop(self):
        self._ticker.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def sample(self):
        views = {n.name: look(n) for n in self.nodes}
        at = self.now()
        with self._lock:
            self.samples += 1
            found = [Event(at, name, what) for name, view in views.items()
                     # the first sample is where things stand, not something that happened
                     for what in (changes(self.views[name], view) if self.views else ())]
            # seen in one sample: what a node gave up went before what the other took
            self.events += sorted(found, key=lambda e: not e.what.startswith(LOSSES))
            self.views = views
            for what in ("vip", "mounted"):
                holders = [n for n, v in views.items() if getattr(v, what)]
                if len(holders) > 1:
                    self.violations.append((at, what, holders))
            primaries = [n for n, v in views.items() if v.drbd.role == "Primary"]
            if len(primaries) > 1:
                self.violations.append((at, "Primary", primaries))

    def first(self, node: str, what: str, after: float = 0.0) -> float | None:
        """Time of the first event `what` of `node` at or after `after`."""
        with self._lock:
            return next((e.at for e in self.events
                         if e.node == node and e.what == what and e.at >= after), None)


LOSSES = ("machine down", "VIP removed", "unmounted", "role Secondary", "role Unconfigured")


def changes(old: NodeView, new: NodeView) -> list[str]:
    """Events between two views of one node, in words."""
    out = []
    if old.up != new.up:
        # the machine, not the cluster software: that starts only from its init scripts
        out.append("machine up, nothing started" if new.up else "machine down")
    if old.vip != new.vip:
        out.append(f"VIP {'added' if new.vip else 'removed'}")
    if old.drbd.role != new.drbd.role:
        out.append(f"role {new.drbd.role}")
    if old.drbd.cs != new.drbd.cs:
        out.append(f"cs {new.drbd.cs}")
    if old.drbd.ds != new.drbd.ds:
        out.append(f"ds {new.drbd.ds}")
    if old.mounted != new.mounted:
        out.append("mounted" if new.mounted else "unmounted")
    return out


# -- the cluster --------------------------------------------------------------------------
class ClassicPair:
    """debian-420 (preferred), debian-566 and a client on one bridge, configured with the
    classic files; `make_cluster(*names)` is the `cluster` fixture or `Run().cluster`."""

    def __init__(self, make_cluster, timers: Timers = FAST, disk_size: str = "32M"):
        self.timers = timers
        self.heartbeat_started: dict[str, float] = {}
        self.cluster = make_cluster(PREFERRED, OTHER)
        self.preferred, self.other = self.cluster[PREFERRED], self.cluster[OTHER]
        self.client = self.cluster.add_node("client")
        self.nodes = [self.preferred, self.other]
        self.disks = {n.name: n.loop_device(disk_size) for n in self.nodes}
        ips = {n.name: n.ip for n in self.nodes}
        for node in self.nodes:
            peer = self.peer_of(node)
            node.write_file("/etc/ha.d/ha.cf", ha_cf(timers, peer.ip))
            node.write_file("/etc/ha.d/haresources", haresources())
            node.write_file("/etc/ha.d/authkeys", AUTHKEYS, mode=0o600)
            node.write_file("/etc/drbd.conf", drbd_conf(self.disks, ips))
            init_d = node.root / "init.d"
            init_d.mkdir()
            for name, target in (("drbd", REPO / "etc/init.d/drbd"),
                                 ("heartbeat", REPO / "etc/init.d/heartbeat"),
                                 ("nd0svc", HERE / "nd0svc")):
                (init_d / name).symlink_to(target)
            (node.root / "mnt").mkdir()
            self.power_on(node)

    def peer_of(self, node):
        return self.other if node is self.preferred else self.preferred

    def power_on(self, node):
        """What the machine's own disk provides after boot: the installed software (the
        project's init scripts and resource.d, as `make install` puts them), a /mnt of its
        own, and syslog for `logfacility local0`."""
        node.bind(node.root / "init.d", "/etc/init.d")
        node.bind(REPO / "resource.d", "/etc/ha.d/resource.d")
        node.bind(node.root / "mnt", "/mnt")
        node.start_syslog()

    # -- admin commands --------------------------------------------------------------------
    def sh(self, node, cmd, check=True, timeout=60):
        return node.run(cmd, check=check, timeout=timeout, env=self.env())

    def env(self) -> dict[str, str]:
        """What admin commands get besides a root login's environment: the init scripts
        pointed at the checkout's programs (they are first on PATH too)."""
        env = {"HEARTBEAT": f"{venv_bin()}/heartbeat", "HB_STANDBY": f"{venv_bin()}/hb_standby"}
        if self.timers.rqstdelay:
            env["HBPY_RQSTDELAY"] = self.timers.rqstdelay
        return env

    def init(self, node, service, action, check=True, timeout=90):
        out = self.sh(node, f"/etc/init.d/{service} {action}", check=check, timeout=timeout)
        if (service, action) == ("heartbeat", "start"):
            self.heartbeat_started[node.name] = time.monotonic()
        return out

    def past_start_lapse(self, node):
        """Wait out the first 5 s of node's heartbeat, during which it asks its peer for
        2 s more than deadtime (3.0.6's start lapse), and the keepalives that then tell
        the peer the plain deadtime: a kill measures deadtime after that."""
        lapse_over = self.heartbeat_started[node.name] + 5.0 + 2 * self.timers.keepalive_s
        time.sleep(max(0.0, lapse_over - time.monotonic()))

    def drbd(self, node) -> DrbdView:
        return parse_proc_drbd(node.read_file(PROC_DRBD, missing_ok=True))

    def first_start(self):
        """The classic guide's first start: `/etc/init.d/drbd start` on both, the
        initial full sync from debian-420, mke2fs -j, then heartbeat on both."""
        self.start_drbd()
        self.initial_sync()
        self.make_filesystem()
        self.start_heartbeat()

    def start_drbd(self):
        """/etc/init.d/drbd start on both, with no create-md: as DRBD 0.7 did, the first
        attach of a 0.7 resource creates its meta-data ("Creating state block")."""
        # without a startup section the script waits for the peer for ever, as DRBD's
        # did: debian-566's runs in the background until debian-420's engine comes up
        # and the two connect (both engines dial: the order of the starts is the guide's,
        # the engines do not need it)
        waiting = self.other.spawn("/etc/init.d/drbd start", env=self.env())
        wait_until(lambda: self.drbd(self.other).cs == "WFConnection", 30,
                   message="debian-566 waiting for its peer")
        self.init(self.preferred, "drbd", "start")
        if waiting.wait(30) != 0:
            raise ClusterError(f"debian-566: /etc/init.d/drbd start: {waiting.output()}")

    def initial_sync(self):
        self.sh(self.preferred, "drbdadm -- --do-what-I-say primary all")
        self.wait_drbd(self.preferred, "Connected", "UpToDate/UpToDate", timeout=120)
        self.wait_drbd(self.other, "Connected", "UpToDate/UpToDate", timeout=30)

    def make_filesystem(self):
        self.sh(self.preferred, f"mke2fs -q -j {DEVICE}", timeout=120)
        # heartbeat promotes it again (drbddisk); the first start leaves it Secondary
        self.sh(self.preferred, f"drbdadm secondary {RESOURCE}")

    def start_heartbeat(self):
        for node in self.nodes:
            self.init(node, "heartbeat", "start")
        self.wait_service_on(self.preferred, timeout=60)

    def wait_drbd(self, node, cs, ds, timeout=60):
        wait_until(lambda: (v := self.drbd(node)).cs == cs and v.ds == ds, timeout,
                   interval=0.1, message=f"{node.name}: cs:{cs} ds:{ds} (now {self.drbd(node)})")

    def wait_service_on(self, node, timeout):
        """The client is served by `node`, which has the VIP and the mount; the other
        holds neither."""
        peer = self.peer_of(node)

        def served():
            return (self.who() == node.name and look(node).mounted
                    and not look(peer).vip and not look(peer).mounted)
        wait_until(served, timeout, interval=0.2, message=f"service on {node.name}")

    def crash(self, node):
        """kill -9 of everything the node runs, then what its reboot does (VIP and
        the dead device gone, disks kept) and its software mounted again."""
        node.kill()
        node.reboot()
        self.power_on(node)

    def boot(self, node):
        """The node's boot sequence: /etc/init.d/drbd start, /etc/init.d/heartbeat start."""
        self.init(node, "drbd", "start")
        self.init(node, "heartbeat", "start")

    def rscstatus(self, node) -> str:
        return node.run(["cl_status", "rscstatus"], check=False).stdout.strip()

    def log(self, node, path=HA_LOG) -> str:
        return node.read_file(path, missing_ok=True)

    # -- the client --------------------------------------------------------------------------
    def nd0client(self, *args, input=None, check=True, timeout=120):
        return self.client.run([sys.executable, str(HERE / "nd0client.py"), *map(str, args)],
                               input=input, check=check, timeout=timeout)

    def ping(self) -> bool:
        return self.client.can_reach(VIP, timeout=2)

    def who(self) -> str | None:
        out = self.nd0client("who", VIP, PORT, check=False, timeout=20)
        return out.stdout.strip() if out.returncode == 0 else None

    def put(self, prefix: str, count: int, size: int, seed: int = 1) -> dict[str, str]:
        """Write files through the service; {name: sha256} of those acknowledged."""
        out = self.nd0client("put", VIP, PORT, prefix, count, size, seed)
        return dict(line.split() for line in out.stdout.splitlines())

    def missing(self, files: dict[str, str]) -> list[str]:
        """`missing NAME` / `corrupt NAME` for each file the service does not return as
        written; [] when all are there."""
        text = "".join(f"{n} {d}\n" for n, d in files.items())
        out = self.nd0client("check", VIP, PORT, input=text, check=False)
        if out.returncode not in (0, 1):
            raise ClusterError(f"nd0client check: {out.stderr.strip()}")
        return out.stdout.split("\n")[:-1]

    def start_waiting_client(self, timeout: float):
        """A client that asks the service every 50 ms from now on; `.answered()` gives
        (CLOCK_MONOTONIC of the first answer, node) once it has one."""
        return AnswerWait(self.client.spawn(
            [sys.executable, str(HERE / "nd0client.py"), "wait", VIP, str(PORT), str(timeout)]))


@dataclass
class AnswerWait:
    proc: object

    def answered(self, timeout: float) -> tuple[float, str]:
        code = self.proc.wait(timeout)
        out = self.proc.output().split()
        if code != 0 or len(out) < 2:
            raise AssertionError(f"the service never answered: {self.proc.output()!r}")
        return float(out[0]), out[1]
