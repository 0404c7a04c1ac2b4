"""Finding and stopping the processes of one node.

There is no PID namespace: a node's processes are those whose network
namespace is the node's (the same rule as `ip netns pids`), never "all
processes with this name".
"""
import os
import signal
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    comm: str
    argv: tuple

    def matches(self, name):
        """True when `name` is this process's comm, program, or script basename.

        A Python daemon shows as `python3 /path/to/heartbeat`; a daemon may
        also rewrite its title ("heartbeat: master control process").
        """
        names = {self.comm}
        names.update(os.path.basename(a) for a in self.argv[:2])
        if self.argv:
            names.add(self.argv[0].split(":")[0].split(" ")[0])
        return name in names


def netns_inode(path):
    """Inode identifying a network namespace file (/run/netns/X or /proc/P/ns/net)."""
    return os.stat(path).st_ino


def pids_in_netns(ns_inode):
    """Live pids whose network namespace has inode `ns_inode` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == ns_inode:
                found.append(int(entry))
        except OSError:  # exited meanwhile, or a kernel thread
            continue
    return found


def proc_info(pid):
    """ProcInfo of `pid`, or None when it has exited."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    return ProcInfo(pid, comm, argv)


def is_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def signal_pids(pids, sig):
    """Send `sig` to each pid that still exists; return those signalled."""
    sent = []
    for pid in pids:
        try:
            os.kill(pid, sig)
            sent.append(pid)
        except ProcessLookupError:
            pass
    return sent


def wait_gone(pids, timeout):
    """Poll until none of `pids` is alive; return the ones still alive."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if is_alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if is_alive(p)]
    return left


def terminate(pids, grace=3.0, kill_wait=5.0, on_stuck=None):
    """SIGTERM, wait `grace` s, call `on_stuck()` (e.g. abort fuse), SIGKILL.

    Returns the pids that survived even SIGKILL (stuck in the kernel).
    """
    left = wait_gone(signal_pids(pids, signal.SIGTERM), grace) if grace else list(pids)
    if left and on_stuck:
        on_stuck()
    signal_pids(left, signal.SIGKILL)
    return wait_gone(left, kill_wait)
