"""The engine's own /dev/drbdN (devices on, as drbddisk uses it): a Primary whose device
nobody uses demotes, although nbdfuse holds several NBD connections (multi-conn) for it;
a mount keeps it Primary."""
import pytest

CONF = """resource r0 {{
  protocol C;
  on alpha {{ device /dev/drbd1; disk {disk}; address 192.0.2.11:7789; meta-disk internal; }}
  on beta  {{ device /dev/drbd1; disk /dev/null; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""

pytestmark = pytest.mark.timeout(90)


def drbdadm(node, args, check=True):
    return node.run(f"drbdadm {args}", check=check)


def test_unused_device_demotes_and_a_mount_keeps_it(cluster):
    node = cluster("alpha")["alpha"]
    node.write_file("/etc/drbd.conf", CONF.format(disk=node.loop_device("16M")))
    drbdadm(node, "create-md r0")
    drbdadm(node, "up r0")
    drbdadm(node, "-- --overwrite-data-of-peer primary r0")
    assert node.run("test -b /dev/drbd1").returncode == 0
    # the device's own nbdfuse connections do not count as users
    assert drbdadm(node, "secondary r0", check=False).returncode == 0
    assert not node.exists("/dev/drbd1")

    drbdadm(node, "primary r0")
    node.run("mke2fs -q -j /dev/drbd1 && mkdir -p /run/m && mount /dev/drbd1 /run/m")
    busy = drbdadm(node, "secondary r0", check=False)
    assert (busy.returncode, busy.stderr.strip()) == \
        (11, "1: State change failed: (-12) Device is held open by someone")
    node.run("umount /run/m")
    assert drbdadm(node, "secondary r0", check=False).returncode == 0
    assert drbdadm(node, "role r0").stdout.split("/")[0] == "Secondary"
