"""/dev/drbdN in a test node: built on promotion, refused while busy, gone on demotion.

The node runs `python -m drbd_py.device.standalone`: the engine's NBD server over a
plain file and the device layer, in one process and one event loop as in the engine.
Kernel path here: nbdfuse + loop (this kernel has no nbd driver); the nbd-client path
runs the same test where /sys/block/nbd0 exists.
"""
import os
import re
import signal
import weakref

import pytest

from drbd_py.device import nbd_kernel
from tests.cluster import wait_until
from tests.cluster.storage import attachment

MNT = "/run/data"              # the node's own /run: nothing is left on the host

# Loop devices are the machine's, not the node's: `losetup -l` in a node also lists the
# loops of other test runs going on at the same time (with the same /run/drbd-py/... path),
# and a number ours gave back may be taken by one of them the next moment. A node's
# leftovers are the attachments (the kernel's diskseq) its own device layer reported.
_node_loops: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _remember(node, attached_line):
    loop = attached_line.split()[2]
    if loop.startswith("/dev/loop"):
        _node_loops.setdefault(node, {})[loop] = attachment(loop)


class Standalone:
    """The device layer serving one file in a node, driven by signals."""

    def __init__(self, node, size, minor=1, env=None, fresh=True, options=()):
        self.node, self.minor = node, minor
        self.device = f"/dev/drbd{minor}"
        self.disk = node.root / "disks" / f"drbd{minor}.img"
        if fresh:
            with open(self.disk, "wb") as f:
                f.truncate(size)
        self.proc = node.spawn(["python", "-m", "drbd_py.device.standalone", *options,
                                str(minor), self.device, str(self.disk)], env=env)
        self.attached = self.expect("attached")
        _remember(node, self.attached)

    def lines(self, prefix):
        return [line for line in self.proc.output().splitlines() if line.startswith(prefix)]

    def expect(self, prefix, count=1, timeout=30):
        """Wait for the count-th output line starting with prefix (or any outcome line)."""
        def seen():
            if not self.proc.alive():
                raise AssertionError(f"standalone exited: {self.proc.output()}")
            got = self.lines(prefix)
            return got[count - 1] if len(got) >= count else None
        return wait_until(seen, timeout, message=f"{prefix!r} #{count} from standalone")

    def toggle(self, expect, count=1):
        self.proc.signal(signal.SIGUSR1)
        line = self.expect(expect, count)
        if line.startswith("attached"):
            _remember(self.node, line)
        return line

    def stats(self, count):
        self.proc.signal(signal.SIGUSR2)
        line = self.expect("stats", count)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

    def stop(self):
        self.proc.signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0, self.proc.output()


def in_use(node, device):
    code = f"from drbd_py.device import in_use; print(in_use({device!r}))"
    return {"True\n": True, "False\n": False}[node.run(["python", "-c", code]).stdout]


def leftovers(node):
    """What of a device the node still has: node, loops, FUSE mounts, nbdfuse processes."""
    found = []
    if node.exists("/dev/drbd1"):
        found.append("/dev/drbd1")
    ours = _node_loops.get(node, {})
    loops = node.run("losetup -l -n -O NAME,BACK-FILE").stdout
    found += [line for line in loops.splitlines()
              if "/run/drbd-py/" in line and line.split()[0] in ours
              and attachment(line.split()[0]) == ours[line.split()[0]]]
    mounts = node.run("cat /proc/self/mountinfo").stdout
    found += [line for line in mounts.splitlines() if "/run/drbd-py/" in line]
    found += [f"nbdfuse pid {p}" for p in node.pids("nbdfuse")]
    return found


@pytest.mark.parametrize("fs,size", [("ext4", "64M"), ("ext3", "64M"), ("xfs", "320M")])
def test_primary_device_takes_a_file_system_and_secondary_refuses_while_mounted(cluster, fs,
                                                                               size):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, int(size[:-1]) << 20)
    _, device, kernel_device, method, _ = dev.attached.split()
    assert device == "/dev/drbd1"
    assert kernel_device.startswith({"fuse": "/dev/loop", "nbd": "/dev/nbd"}[method])
    assert node.run("test -b /dev/drbd1 && blockdev --getsize64 /dev/drbd1").stdout.strip() \
        == str(int(size[:-1]) << 20)
    node.run(f"mkfs.{fs} -q /dev/drbd1" if fs != "xfs" else "mkfs.xfs -q /dev/drbd1")
    node.run(f"mkdir -p {MNT} && mount /dev/drbd1 {MNT} && echo payload > {MNT}/file && sync")
    # The device node (not a symlink) is what mount(8) records, as with real DRBD.
    assert f"/dev/drbd1 {MNT} {fs} " in node.run("cat /proc/mounts").stdout

    assert in_use(node, "/dev/drbd1")
    busy = dev.toggle("busy")
    message, users = busy.split("; ", 1)
    assert message == "busy: State change failed: (-12) Device is held open by someone"
    # (other test runs' `losetup -l` may be opening the loop device at that moment too)
    assert f"mounted on {MNT}" in users.split(", "), busy
    assert node.run(f"cat {MNT}/file").stdout == "payload\n"      # nothing was taken away

    node.run(f"umount {MNT}")
    assert not in_use(node, "/dev/drbd1")
    check = "xfs_repair -n /dev/drbd1" if fs == "xfs" else f"fsck.{fs} -n -f /dev/drbd1"
    node.run(check)
    dev.toggle("detached")
    assert leftovers(node) == []
    # The file system is in the backing file, intact, seen without any of our layers.
    check_file = (f"xfs_repair -n -f {dev.disk}" if fs == "xfs"
                  else f"fsck.{fs} -n -f {dev.disk}")
    node.run(check_file)

    dev.toggle("attached", count=2)                                # primary again
    node.run(f"mount /dev/drbd1 {MNT} && test \"$(cat {MNT}/file)\" = payload && umount {MNT}")
    dev.stop()
    assert leftovers(node) == []


def test_secondary_refused_while_a_process_has_the_device_open(cluster):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, 16 << 20)
    holder = node.spawn(["sh", "-c", "exec 3</dev/drbd1; echo open; exec sleep 300"])
    wait_until(lambda: "open" in holder.output(), 10, message="holder to open /dev/drbd1")
    busy = dev.toggle("busy")
    assert f"opened by sleep (pid {holder.pid})" in busy
    holder.signal(signal.SIGKILL)
    holder.wait(10)
    dev.toggle("detached")
    assert leftovers(node) == []
    dev.stop()


def test_fsync_reaches_the_server_as_flush_and_fstrim_punches_holes(cluster):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, 128 << 20)
    node.run(f"mkfs.ext4 -q -E nodiscard /dev/drbd1 && mkdir -p {MNT} && mount /dev/drbd1 {MNT}")
    before = dev.stats(1)
    node.run(f"dd if=/dev/urandom of={MNT}/big bs=1M count=48 conv=fsync status=none")
    after = dev.stats(2)
    assert after["flush"] > before["flush"]
    assert after["write"] - before["write"] > 0 and after["errors"] == 0
    used = os.stat(dev.disk).st_blocks * 512
    node.run(f"rm {MNT}/big && sync && fstrim {MNT}")
    assert dev.stats(3)["trim"] > after["trim"]
    freed = used - os.stat(dev.disk).st_blocks * 512
    assert freed >= 40 << 20, f"only {freed} bytes punched out of the backing file"
    node.run(f"umount {MNT}")
    dev.stop()
    assert leftovers(node) == []


def test_kill_9_leaves_nothing_that_blocks_the_next_primary(cluster):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, 32 << 20)
    node.run("mkfs.ext4 -q /dev/drbd1")
    old_loop = dev.attached.split()[2]
    dev.proc.signal(signal.SIGKILL)
    dev.proc.wait(10)
    stale = leftovers(node)
    assert "/dev/drbd1" in stale and any(s.startswith("nbdfuse pid") for s in stale)
    assert any(old_loop in s for s in stale)

    cleanup = node.run("python -m drbd_py.device.standalone cleanup", check=False)
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert leftovers(node) == []

    # And the next start cleans up by itself too: crash again, start again.
    dev = Standalone(node, 0, fresh=False)
    dev.proc.signal(signal.SIGKILL)
    dev.proc.wait(10)
    dev = Standalone(node, 0, fresh=False)
    node.run(f"fsck.ext4 -n -f /dev/drbd1 && mkdir -p {MNT} && mount /dev/drbd1 {MNT} "
             f"&& umount {MNT}")
    assert len([s for s in leftovers(node) if s.startswith("nbdfuse pid")]) == 1
    dev.stop()
    assert leftovers(node) == []


ATTACH_WITHOUT_A_SERVER = (
    "import asyncio\n"
    "from drbd_py.device import attach, DeviceError\n"
    "try:\n"
    "    asyncio.run(attach(1, '/dev/drbd1', '/run/drbd-py/nbd/1.sock', timeout=5))\n"
    "except DeviceError as e:\n"
    "    print('error:', e)\n")


def test_attach_without_a_server_fails_in_one_line_and_leaves_nothing(cluster):
    node = cluster("alpha")["alpha"]
    out = node.run(["python", "-c", ATTACH_WITHOUT_A_SERVER]).stdout
    assert out.startswith("error: nbdfuse did not start: ") and out.count("\n") == 1, out
    assert leftovers(node) == []
    assert node.run("ls /run/drbd-py/fuse /run/drbd-py/device").stdout.split() == [
        "/run/drbd-py/device:", "/run/drbd-py/fuse:"]


@pytest.mark.skipif(nbd_kernel.available(), reason="this kernel has the nbd driver")
def test_nbd_path_forced_without_the_nbd_driver_fails_in_one_line(cluster):
    node = cluster("alpha")["alpha"]
    out = node.run(["python", "-c", ATTACH_WITHOUT_A_SERVER],
                   env={"DRBD_PY_DEVICE_METHOD": "nbd"}).stdout
    assert out == "error: no free nbd device could be connected\n"
    assert leftovers(node) == []


def test_nbdfuse_staying_after_unmount_is_aborted_then_killed(cluster):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, 16 << 20, options=["--timeout=1"])
    [pid] = node.pids("nbdfuse")
    os.kill(pid, signal.SIGSTOP)        # it can neither answer nor exit by itself
    dev.toggle("detached")
    assert "still running after unmount; aborting its FUSE connection" in dev.proc.output()
    assert leftovers(node) == []
    dev.stop()


@pytest.mark.skipif(not nbd_kernel.available(),
                    reason="this kernel has no nbd driver: the nbd-client path cannot run here")
def test_nbd_client_path(cluster):
    node = cluster("alpha")["alpha"]
    dev = Standalone(node, 64 << 20, env={"DRBD_PY_DEVICE_METHOD": "nbd"})
    assert dev.attached.split()[3] == "nbd"
    node.run(f"mkfs.ext4 -q /dev/drbd1 && mkdir -p {MNT} && mount /dev/drbd1 {MNT}")
    assert dev.toggle("busy").startswith("busy: State change failed: (-12)")
    node.run(f"umount {MNT} && fsck.ext4 -n -f /dev/drbd1")
    dev.stop()
    assert not node.exists("/dev/drbd1")
