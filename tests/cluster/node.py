"""One test node: its namespaces, its folder on the host, and commands in it."""
import json
import os
import select
import shlex
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

from . import layout, network, procs, shutdown, storage
from .shell import ClusterError
from .wait import wait_until

HOLDER = Path(__file__).with_name("holder.py")
PROBE = Path(__file__).with_name("probe.py")
SYSLOGD = Path(__file__).with_name("syslogd.py")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class CommandFailed(ClusterError):
    """A command run in a node exited non-zero with check=True."""

    def __init__(self, node, argv, proc):
        self.node, self.argv, self.returncode = node, argv, proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr
        super().__init__(f"{node}: {shlex.join(argv)}: exit {proc.returncode}\n"
                         f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")


def venv_bin():
    """The bin folder of the Python running the tests (the project's venv)."""
    if sys.prefix != sys.base_prefix:
        return str(Path(sys.prefix) / "bin")
    return str(Path(__file__).resolve().parents[2] / ".venv" / "bin")


def argv_of(cmd):
    """A string is a shell command line; a list is an argv."""
    return ["sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]


class Spawned:
    """A background process started in a node, its output going to a log file."""

    def __init__(self, node, argv, popen, log):
        self.node, self.argv, self.popen, self.log = node, argv, popen, Path(log)

    @property
    def pid(self):
        return self.popen.pid

    @property
    def returncode(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout=30):
        return self.popen.wait(timeout)

    def signal(self, sig=signal.SIGTERM):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def output(self):
        """Everything the process wrote so far (stdout and stderr interleaved)."""
        return self.log.read_text(errors="replace")

    def __repr__(self):
        return f"<Spawned {self.node}:{self.pid} {shlex.join(self.argv)}>"


class Node:
    """A machine of the test cluster.

    Attributes: name (its `uname -n`), ip (on eth0, /24), mac, netns (the
    `ip netns` name), root (its folder on the host), cluster, venv_on_path.
    """

    def __init__(self, cluster, name, ip, mac, netns, root):
        self.cluster, self.name, self.ip, self.mac = cluster, name, ip, mac
        self.netns, self.root = netns, Path(root)
        self.venv_on_path = True
        self.holder = None
        self.netns_inode = None
        self.spawned = []
        self.loops = []
        self._spawn_count = 0

    def __repr__(self):
        return f"<Node {self.name} {self.ip} ns={self.netns}>"

    # -- life cycle (driven by Cluster) -------------------------------------
    def start_holder(self, timeout=10.0):
        """Start the namespace holder and wait until the node's mounts are ready."""
        spec = {
            "hostname": self.name,
            "dev_upper": str(self.root / "dev-upper"),
            "dev_work": str(self.root / "dev-work"),
            "binds": layout.bind_list(self.root),
        }
        with open(self.root / "logs" / "holder.log", "wb") as errlog:
            self.holder = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, "unshare", "--uts", "--mount",
                 "--propagation", "private", sys.executable, str(HOLDER), json.dumps(spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
                # Ctrl-C must reach pytest (which tears down), not the holder.
                start_new_session=True)
        self.netns_inode = procs.netns_inode(f"/run/netns/{self.netns}")
        ready, _, _ = select.select([self.holder.stdout], [], [], timeout)
        line = self.holder.stdout.readline() if ready else b""
        if line.strip() != b"READY":
            err = (self.root / "logs" / "holder.log").read_text(errors="replace").strip()
            raise ClusterError(f"{self.name}: node did not come up: {err or 'no answer'}")

    def stop_holder(self):
        """End the holder; the mount namespace goes when its last process does."""
        if self.holder is None:
            return
        for pipe in (self.holder.stdin, self.holder.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.holder.wait(3)
        except subprocess.TimeoutExpired:
            self.holder.kill()
            self.holder.wait(3)

    def reboot(self):
        """What a crash and power-up does to this machine: every process
        killed at once (SIGKILL), a fresh /run, /dev and /dev/shm, loops made
        by its software detached, eth0 back to its one address (a VIP a
        killed daemon left behind is gone).  What lives on disk stays: its
        /etc, /var/lib, /var/log and its loop_device() disks.  Partitions are
        the switch's business and stay too."""
        errors = shutdown.power_off([self], self.root, grace=0, keep_loops=self.loops)
        if errors:
            raise ClusterError(f"{self.name}: reboot: " + "; ".join(errors))
        for sub in ("dev-upper", "dev-work"):
            shutil.rmtree(self.root / sub)
            (self.root / sub).mkdir()
        network.reset_addresses(self.netns, self.ip)
        self.spawned = []
        self.start_holder()

    @property
    def holder_pid(self):
        if self.holder is None or self.holder.poll() is not None:
            raise ClusterError(f"{self.name}: node is not running")
        return self.holder.pid

    # -- commands ------------------------------------------------------------
    def env(self, extra=None):
        """The environment commands get: a root login's, with the project's
        venv first on PATH unless `venv_on_path` is False (a node running
        the real heartbeat as a reference peer)."""
        path = f"{venv_bin()}:{SYSTEM_PATH}" if self.venv_on_path else SYSTEM_PATH
        env = {"PATH": path, "HOME": "/root", "LANG": "C.UTF-8",
               "USER": "root", "LOGNAME": "root", "SHELL": "/bin/sh", "PYTHONUNBUFFERED": "1"}
        env.update(extra or {})
        return env

    def _nsenter(self, argv, cwd):
        return ["nsenter", "-t", str(self.holder_pid), "-n", "-u", "-m",
                f"--wdns={cwd}", "--", *argv]

    def run(self, cmd, check=True, timeout=60, input=None, env=None, cwd="/"):
        """Run `cmd` in the node and wait; return a CompletedProcess (text).

        `cmd` is an argv list or a shell command line.  With check=True a
        non-zero exit raises CommandFailed (with stdout and stderr).
        """
        argv = argv_of(cmd)
        popen = subprocess.Popen(self._nsenter(argv, cwd), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=self.env(env))
        try:
            out, err = popen.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            code = popen.poll()
            popen.kill()
            popen.wait()
            for pipe in (popen.stdout, popen.stderr):
                pipe.close()
            why = (f"exited {code}, but a process it started still holds its stdout/stderr "
                   "(start daemons with spawn(), or redirect their output)"
                   if code is not None else f"still running after {timeout}s")
            raise ClusterError(f"{self.name}: {shlex.join(argv)}: {why}; "
                               f"stdout: {exc.stdout!r} stderr: {exc.stderr!r}") from None
        proc = subprocess.CompletedProcess(popen.args, popen.returncode, out, err)
        if check and proc.returncode != 0:
            raise CommandFailed(self.name, argv, proc)
        return proc

    def spawn(self, cmd, env=None, cwd="/", log=None):
        """Start `cmd` in the node in the background; output goes to `log`
        (default: a file under root/logs).  Teardown stops it."""
        argv = argv_of(cmd)
        self._spawn_count += 1
        if log is None:
            stem = os.path.basename(argv[0]) if argv[0] != "sh" else "sh"
            log = self.root / "logs" / f"{self._spawn_count:02d}-{stem}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(self._nsenter(argv, cwd), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, env=self.env(env),
                                     start_new_session=True)
        spawned = Spawned(self.name, argv, popen, log)
        self.spawned.append(spawned)
        return spawned

    def start_syslog(self, logfile="/var/log/syslog", timeout=5):
        """Receive the node's syslog (/dev/log) into `logfile` (node path), one
        `facility.severity message` line each; returns the Spawned receiver."""
        receiver = self.spawn([sys.executable, str(SYSLOGD), logfile])

        def bound():
            return stat.S_ISSOCK(os.lstat(self.path("/dev/log")).st_mode)
        wait_until(lambda: not receiver.alive() or bound(), timeout, ignore=(FileNotFoundError,),
                   message=f"{self.name}: syslog receiver on /dev/log")
        if not receiver.alive():
            raise ClusterError(f"{self.name}: syslog receiver died: {receiver.output()}")
        return receiver

    # -- processes -----------------------------------------------------------
    def processes(self, name=None):
        """ProcInfo of the node's processes (not the holder), optionally only `name`."""
        found = []
        for pid in procs.pids_in_netns(self.netns_inode):
            if self.holder is not None and pid == self.holder.pid:
                continue
            info = procs.proc_info(pid)
            if info is not None and (name is None or info.matches(name)):
                found.append(info)
        return found

    def pids(self, name=None):
        return [p.pid for p in self.processes(name)]

    def kill(self, sig=signal.SIGKILL, name=None):
        """Signal the node's processes (all of them, or those called `name`):
        SIGKILL with no name is a crash of the machine's software.  Returns
        the pids signalled."""
        sent = procs.signal_pids(self.pids(name), sig)
        self.reap()
        return sent

    def reap(self):
        """Collect exit codes of spawned processes that ended (no zombies)."""
        for s in self.spawned:
            s.popen.poll()

    # -- files ---------------------------------------------------------------
    def path(self, node_path):
        """Host path of `node_path` as this node sees it now (through its holder)."""
        if not os.path.isabs(node_path):
            raise ValueError(f"{node_path}: node paths are absolute")
        mapped = layout.host_path(self.root, node_path)
        if mapped is not None:
            return mapped
        return Path(f"/proc/{self.holder_pid}/root") / node_path.lstrip("/")

    def write_file(self, node_path, text, mode=0o644):
        """Write `text` (str or bytes) at `node_path` inside the node, creating folders."""
        if not layout.may_write(node_path):
            raise ValueError(f"{node_path}: outside the node's own files; use node.bind() first")
        target = self.path(node_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        target.write_bytes(data)
        os.chmod(target, mode)
        return target

    def read_file(self, node_path, missing_ok=False):
        """Text of `node_path` inside the node ('' if absent and missing_ok)."""
        try:
            return self.path(node_path).read_text(errors="replace")
        except FileNotFoundError:
            if missing_ok:
                return ""
            raise

    def exists(self, node_path):
        return os.path.lexists(self.path(node_path))

    def bind(self, host_path, node_path):
        """Bind-mount `host_path` over `node_path` in this node only."""
        self.run(["mount", "--bind", str(host_path), node_path])

    # -- block devices ---------------------------------------------------------
    def loop_device(self, size="64M", name=None):
        """A loop device over a fresh sparse file under root/disks; detached at teardown."""
        name = name or f"disk{len(self.loops)}"
        loop = storage.make_loop(str(self.root / "disks" / f"{name}.img"), storage.parse_size(size))
        self.loops.append(loop)
        return loop

    # -- network ---------------------------------------------------------------
    def can_reach(self, other, timeout=2.0):
        """True as soon as an ICMP echo to `other` (Node or address) is
        answered; False after `timeout` s.  Replies on the local bridge take
        < 1 ms, but right after a heal ARP may need up to a second: to
        assert a cut, pass a short timeout (0.3)."""
        ip = other.ip if isinstance(other, Node) else other
        proc = self.run([sys.executable, str(PROBE), ip, str(timeout)],
                        check=False, timeout=timeout + 10)
        return proc.returncode == 0

    def partition(self, other):
        self.cluster.partition(self, other)

    def isolate(self):
        self.cluster.isolate(self)

    def heal(self, other=None):
        self.cluster.heal(self, other)
