"""/dev/drbd1 on the two-node test cluster as an admin's scripts use it: mke2fs -j, mount
through resource.d's drbddisk and Filesystem, files that must survive a switch-over and
a kill -9 of the Primary's engine (protocol C)."""
from pathlib import Path

import pytest

from tests.cluster import wait_until

RESOURCE_D = Path(__file__).resolve().parents[2] / "resource.d"
MNT = "/run/nd0"            # the node's own /run: the host never sees the mount point

CONF = """global {{ usage-count no; }}
resource r0 {{
  protocol C;
  syncer {{ rate 200M; }}
  net {{ ping-int 1; connect-int 1; timeout 50; ping-timeout 5; }}
  on alpha {{ device /dev/drbd1; disk {da}; address 192.0.2.11:7789; meta-disk internal; }}
  on beta  {{ device /dev/drbd1; disk {db}; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""

# Writes files of 2-4 KiB, fsyncs each file and the folder, then prints "PATH SHA256":
# a printed line is a file whose fsync returned.  With a count it stops, else never.
WRITER = r"""
import hashlib, os, sys
folder, count = sys.argv[1], int(sys.argv[2])
i = 0
while count == 0 or i < count:
    data = hashlib.sha256(b"%d" % i).digest() * (64 + i % 64)
    path = "%s/f%05d" % (folder, i)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    dfd = os.open(folder, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    print(path, hashlib.sha256(data).hexdigest(), flush=True)
    i += 1
"""

# Prints "PATH SHA256" for each path read from stdin ("PATH missing" when absent).
HASHER = r"""
import hashlib, sys
for path in sys.stdin.read().split():
    try:
        with open(path, "rb") as f:
            print(path, hashlib.sha256(f.read()).hexdigest())
    except FileNotFoundError:
        print(path, "missing")
"""


def script(node, name, *args, check=True):
    return node.run(["sh", str(RESOURCE_D / name), *args], check=check, timeout=60)


def cstate(node):
    return node.run("drbdadm cstate r0", check=False).stdout.strip()


def dstate(node):
    return node.run("drbdadm dstate r0", check=False).stdout.strip()


def pair(cluster, size="64M"):
    c = cluster("alpha", "beta")
    a, b = c["alpha"], c["beta"]
    conf = CONF.format(da=a.loop_device(size), db=b.loop_device(size))
    for node in (a, b):
        node.write_file("/etc/drbd.conf", conf)
        node.run("drbdadm create-md r0 && drbdadm up r0")
    wait_until(lambda: cstate(a) == "Connected", 30, message="alpha and beta connected")
    a.run("drbdadm -- --overwrite-data-of-peer primary r0")
    for node in (a, b):
        wait_until(lambda n=node: dstate(n) == "UpToDate/UpToDate", 60,
                   message=f"{node.name}: initial sync")
    a.run("mke2fs -q -j /dev/drbd1", timeout=120)
    return c, a, b


def hashes(node, listing):
    """{path: sha256 or 'missing'} of the files `listing` names, read on `node`."""
    paths = "\n".join(line.split()[0] for line in listing)
    out = node.run(["python3", "-c", HASHER], input=paths, timeout=120).stdout
    return dict(line.split() for line in out.splitlines())


def test_2000_files_move_to_the_peer_with_their_hashes(cluster):
    _, a, b = pair(cluster)
    assert script(a, "Filesystem", "/dev/drbd1", MNT, "ext3", "start").returncode == 0
    assert not b.exists("/dev/drbd1")       # beta's /dev is its own
    # the usable size: 64 MiB less the internal meta-data (4 KiB bitmap, 32 KiB
    # activity log, 4 KiB superblock: docs/drbd-metadata.md)
    assert a.run("blockdev --getsize64 /dev/drbd1").stdout.strip() == str((64 << 20) - 40960)
    written = a.run(["python3", "-c", WRITER, MNT, "2000"], timeout=300).stdout.splitlines()
    assert len(written) == 2000

    refused = a.run("drbdadm secondary r0", check=False)
    assert (refused.returncode, refused.stderr.strip()) == \
        (11, "1: State change failed: (-12) Device is held open by someone")
    assert a.run("drbdadm role r0").stdout.strip() == "Primary/Secondary"
    assert hashes(a, written) == dict(line.split() for line in written)   # untouched

    assert script(a, "Filesystem", "/dev/drbd1", MNT, "ext3", "stop").returncode == 0
    assert script(a, "drbddisk", "r0", "stop").returncode == 0
    assert not a.exists("/dev/drbd1")
    assert script(b, "drbddisk", "r0", "start").returncode == 0
    assert b.run("test -b /dev/drbd1").returncode == 0
    b.run("e2fsck -n -f /dev/drbd1", timeout=120)
    assert script(b, "Filesystem", "/dev/drbd1", MNT, "ext3", "start").returncode == 0
    assert hashes(b, written) == dict(line.split() for line in written)
    assert script(b, "Filesystem", "/dev/drbd1", MNT, "ext3", "stop").returncode == 0


@pytest.mark.parametrize("cut", [False, True], ids=["kill", "cut-link-then-kill"])
def test_kill_9_of_the_primary_engine_loses_no_fsynced_file(cluster, cut):
    c, a, b = pair(cluster)
    a.run(f"mkdir -p {MNT} && mount /dev/drbd1 {MNT}")
    writer = a.spawn(["python3", "-c", WRITER, MNT, "0"])
    wait_until(lambda: writer.output().count("\n") >= 100, 60,
               message="100 files fsynced on alpha")
    if cut:
        # as when the machine dies: what alpha's kernel still holds for beta never
        # leaves (the kill comes well within `timeout`, before alpha would go on alone)
        c.partition("alpha", "beta")
    a.run("kill -9 $(cat /run/drbd-py/engine.pid)")
    wait_until(lambda: cstate(b) == "WFConnection", 30, message="beta loses alpha")
    # every line the writer printed, before or after the kill, is an fsync that returned
    logged = [line for line in writer.output().splitlines() if len(line.split()) == 2]
    assert len(logged) >= 100

    b.run("drbdadm primary r0")
    assert dstate(b) == "UpToDate/DUnknown"
    # as after any crash, the journal is replayed when the file system is mounted
    b.run(f"mkdir -p {MNT} && mount /dev/drbd1 {MNT}")
    assert hashes(b, logged) == dict(line.split() for line in logged)
    b.run(f"umount {MNT}")
    fsck = b.run("e2fsck -n -f /dev/drbd1", check=False, timeout=120)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    if cut:
        return
    # alpha's engine comes back: what the dead one left (its loop device, nbdfuse, a
    # file system still mounted on the dead device) does not stop the next promotion
    a.run("drbdadm up r0")
    for node in (a, b):
        wait_until(lambda n=node: dstate(n) == "UpToDate/UpToDate"
                   and cstate(n) == "Connected", 60, message=f"{node.name}: resync")
    b.run("drbdadm secondary r0")
    a.run("drbdadm primary r0")
    a.run("mkdir -p /run/again && mount /dev/drbd1 /run/again")
    back = {line.split()[0].replace(MNT, "/run/again", 1): line.split()[1] for line in logged}
    assert hashes(a, [f"{k} {v}" for k, v in back.items()]) == back
    a.run("umount /run/again")


def test_primary_fails_and_stays_secondary_when_its_device_cannot_be_built(cluster):
    """A Primary without /dev/drbd1 would make drbddisk report success and the mount fail
    later: the promotion itself fails, so heartbeat sees the group's start fail there."""
    a = cluster("alpha", "beta")["alpha"]
    conf = CONF.format(da=a.loop_device("16M"), db="/dev/null")
    a.write_file("/etc/drbd.conf", conf)
    # the kernel nbd path forced on a kernel without nbd: the device cannot be built
    a.run("drbdadm create-md r0 && DRBD_PY_DEVICE_METHOD=nbd drbdadm up r0")
    refused = a.run("drbdadm -- --overwrite-data-of-peer primary r0", check=False)
    assert refused.returncode == 10
    assert refused.stderr.startswith("1: cannot create /dev/drbd1: ")
    assert refused.stderr.rstrip().endswith("(staying Secondary)")
    assert a.run("drbdadm role r0").stdout.strip() == "Secondary/Unknown"
    assert not a.exists("/dev/drbd1")
    drbddisk = script(a, "drbddisk", "r0", "start", check=False)
    assert drbddisk.returncode != 0
