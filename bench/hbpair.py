"""A heartbeat pair in the test cluster, run the same way for the real heartbeat
3.0.6 (the reference) and for ours: same ha.cf, haresources and authkeys."""
import importlib.util
import re
import time
from dataclasses import dataclass
from pathlib import Path

VIP = "192.0.2.100"
HA_LOG = "/var/log/ha-log"
DEAD_LINE = re.compile(rb"node (\S+): is dead", re.IGNORECASE)


@dataclass(frozen=True)
class Timers:
    name: str
    label: str
    keepalive: str
    deadtime: str
    warntime: str
    initdead: str


K1D5 = Timers("k1d5", "keepalive 1, deadtime 5", "1", "5", "3", "10")
# The fast set; 3.0.6 refuses deadtime <= 2 x keepalive.
FAST = Timers("fast", "keepalive 100ms, deadtime 400ms", "100ms", "400ms", "300ms", "1")


@dataclass(frozen=True)
class Flavour:
    """Which heartbeat runs in the nodes."""
    name: str               # key in the samples: "ref" or "ours"
    label: str
    start: str              # how an admin starts it
    cl_status: str
    venv_on_path: bool      # the project's tools first on PATH


REAL = Flavour("ref", "heartbeat 3.0.6", "/usr/libexec/heartbeat/heartbeat",
               "/usr/bin/cl_status", False)
OURS = Flavour("ours", "ours", "heartbeat", "cl_status", True)
# The real heartbeat over our DRBD: drbd-utils' drbddisk calls /sbin/drbdadm (the
# kernel's), so this one finds our drbdadm first on PATH and gets our drbddisk.
REAL_OUR_DRBD = Flavour("ref", "heartbeat 3.0.6", "/usr/libexec/heartbeat/heartbeat",
                        "/usr/bin/cl_status", True)
PROJECT_SCRIPTS = Path(__file__).resolve().parents[1] / "resource.d"


def install_scripts(node, names=None) -> None:
    """Put the project's resource scripts in the node's /etc/ha.d/resource.d, as
    tools/install.sh does on a real machine (all of them, or `names`)."""
    for path in sorted(PROJECT_SCRIPTS.iterdir()):
        if path.is_file() and (names is None or path.name in names):
            node.write_file(f"/etc/ha.d/resource.d/{path.name}", path.read_bytes(),
                            mode=path.stat().st_mode & 0o777)


def ours_missing() -> str:
    """Why our heartbeat daemon cannot run yet, or ''."""
    try:
        found = importlib.util.find_spec("heartbeat_py.daemon.actions")
    except ImportError as exc:
        return f"heartbeat_py.daemon.actions cannot be imported ({exc})"
    return "" if found else "our heartbeat daemon (heartbeat_py.daemon.actions) has not landed yet"


def ha_cf(t: Timers) -> str:
    return (f"logfile {HA_LOG}\nlogfacility none\n"
            f"keepalive {t.keepalive}\ndeadtime {t.deadtime}\nwarntime {t.warntime}\n"
            f"initdead {t.initdead}\nudpport 694\nbcast eth0\nauto_failback on\n"
            "node alpha beta\ncrm no\n")


def configure(nodes, flavour: Flavour, timers: Timers, haresources: str) -> None:
    """Same ha.cf/haresources/authkeys for either heartbeat; ours also gets our resource
    scripts, as installing the project gives them."""
    for n in nodes:
        n.venv_on_path = flavour.venv_on_path
        if flavour.name == OURS.name:
            install_scripts(n)
        n.write_file("/etc/ha.d/ha.cf", ha_cf(timers))
        n.write_file("/etc/ha.d/haresources", haresources)
        n.write_file("/etc/ha.d/authkeys", "auth 1\n1 sha1 bench-secret\n", mode=0o600)


def start(nodes, flavour: Flavour) -> None:
    for n in nodes:
        n.run(flavour.start, timeout=30)


def cl_status(node, flavour: Flavour, *args) -> str:
    p = node.run([flavour.cl_status, *args], check=False, timeout=10)
    return p.stdout.strip()


def wait_stable(owner, other, flavour: Flavour, timeout: float, extra=lambda: True) -> float:
    """Wait until `owner` holds its resources, neither is in transition, `other` sees
    the owner active and `extra()` holds; returns the seconds it took.  Raises RuntimeError with the logs' tails."""
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout:
        if (cl_status(other, flavour, "rscstatus") in ("none", "local")
                and cl_status(other, flavour, "nodestatus", owner.name) == "active"
                and cl_status(owner, flavour, "rscstatus") in ("local", "all")
                and extra()):
            return time.monotonic() - start_t
        time.sleep(0.2)
    raise RuntimeError(f"{flavour.label}: pair not stable after {timeout:.0f} s; "
                       f"{owner.name} log: {log_tail(owner)} / {other.name} log: {log_tail(other)}")


def log_tail(node, lines: int = 3) -> str:
    text = node.read_file(HA_LOG, missing_ok=True).strip().splitlines()
    return " | ".join(text[-lines:]) or "(empty)"


class LogWatch:
    """Reads a node's ha-log as it grows, from the current end."""

    def __init__(self, node):
        self.path = node.path(HA_LOG)
        try:
            self.offset = self.path.stat().st_size
        except FileNotFoundError:
            self.offset = 0
        self.buf = b""

    def find(self, pattern: re.Pattern) -> bool:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return False
        self.offset += len(chunk)
        self.buf = (self.buf + chunk)[-65536:]
        return bool(pattern.search(self.buf))
