"""resource.d/ scripts at work in test nodes (tests/cluster): addresses on
eth0 of a node, gratuitous ARP seen by the other node, a file system on a
loop device in the node's own mount namespace.  Where the real
resource-agents scripts run here, ours are compared with them and each
takes over from the other.
"""
import os
import re
import shutil

import pytest

from tests.cluster import wait_until
from tests.unit.test_resource_scripts import HB_DATEFMT, RESOURCE_D, real

pytestmark = pytest.mark.timeout(120)

VIP = "192.0.2.100"


class Scripts:
    """Runs resource scripts in one node as heartbeat does."""

    def __init__(self, node):
        self.node = node
        self.env = {"HA_LOGFILE": "/var/log/ha-log", "HA_DATEFMT": HB_DATEFMT,
                    "HA_RSCTMP": "/run/resource-agents",
                    # The real IPaddr/IPaddr2 keep stdout open until their ARP
                    # sender ends: one ARP each, not seconds of them.
                    "OCF_RESKEY_ARP_REPEAT": "1", "OCF_RESKEY_arp_count": "1"}

    def __call__(self, script, *args):
        """(exit code, stdout) of `script args...`; script is a name in our
        resource.d or a path."""
        path = script if "/" in str(script) else RESOURCE_D / script
        # input="": stdin is no terminal, as under heartbeat
        proc = self.node.run([str(path), *args], check=False, input="", env=self.env)
        return proc.returncode, proc.stdout

    def log(self):
        return self.node.read_file("/var/log/ha-log", missing_ok=True)


def addresses(node, dev="eth0"):
    """{address: (prefix, broadcast, label)} of `dev` in `node`."""
    found = {}
    for line in node.run(["ip", "-o", "-4", "addr", "show", "dev", dev]).stdout.splitlines():
        words = line.replace("\\", " ").split()
        addr, plen = words[3].split("/")
        brd = words[words.index("brd") + 1] if "brd" in words else None
        label = words[words.index("valid_lft") - 1]
        found[addr] = (int(plen), brd, label)
    return found


def neighbour_mac(node, ip):
    out = node.run(["ip", "neigh", "show", ip, "dev", "eth0"]).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else None


@pytest.fixture
def pair(cluster):
    """Nodes alpha (192.0.2.11) and beta (.12); beta learns addresses from
    gratuitous ARP (arp_accept) and starts with an empty neighbour table."""
    c = cluster("alpha", "beta")
    c["beta"].run("sysctl -qw net.ipv4.conf.eth0.arp_accept=1 && ip neigh flush dev eth0")
    return c["alpha"], c["beta"]


@pytest.fixture
def alpha(pair):
    return Scripts(pair[0])


def test_ipaddr_start_status_stop(pair, alpha):
    node, peer = pair
    assert alpha("IPaddr", VIP, "status") == (7, "INFO:  Resource is stopped\n")
    assert alpha("IPaddr", VIP, "start") == (0, "INFO:  Success\n")
    # the interface whose network holds the address, as the first alias
    assert addresses(node)[VIP] == (24, "192.0.2.255", "eth0:0")
    assert alpha("IPaddr", VIP, "status") == (0, "INFO:  Running OK\n")
    assert peer.can_reach(VIP)
    # gratuitous ARP: beta learnt the address without asking
    wait_until(lambda: neighbour_mac(peer, VIP) == node.mac, 5, message="ARP at beta")
    assert alpha("IPaddr", VIP, "start") == (0, "INFO:  Success\n")
    assert list(addresses(node)).count(VIP) == 1
    assert alpha("IPaddr", VIP, "stop") == (0, "INFO:  Success\n")
    assert VIP not in addresses(node)
    assert alpha("IPaddr", VIP, "stop") == (0, "INFO:  Success\n")
    assert alpha("IPaddr", VIP, "status") == (7, "INFO:  Resource is stopped\n")
    log = alpha.log()
    assert re.search(r"\d  IPaddr\(IPaddr_192\.0\.2\.100\)\[\d+\]:    INFO: Using calculated "
                     r"netmask for 192\.0\.2\.100: 255\.255\.255\.0\n", log)
    # the ARP sender ran in the background and was ended by stop
    assert node.pids("arping") == []


def test_ipaddr_aliases_netmask_and_broadcast_as_given(pair, alpha):
    node, _ = pair
    assert alpha("IPaddr", VIP, "start")[0] == 0
    assert alpha("IPaddr", "192.0.2.101/27/eth0/192.0.2.127", "start")[0] == 0
    assert alpha("IPaddr", "192.0.2.102/255.255.255.0", "start")[0] == 0
    addrs = addresses(node)
    assert addrs["192.0.2.101"] == (27, "192.0.2.127", "eth0:1")
    assert addrs["192.0.2.102"] == (24, "192.0.2.255", "eth0:2")
    assert alpha("IPaddr", "192.0.2.101/27/eth0/192.0.2.127", "stop")[0] == 0
    # a freed alias is taken again
    assert alpha("IPaddr", "192.0.2.103", "start")[0] == 0
    assert addresses(node)["192.0.2.103"][2] == "eth0:1"


def test_ipaddr_finds_the_interface_whose_network_holds_the_address(pair, alpha):
    node, _ = pair
    node.run("ip link add eth1 type veth peer name eth1p && ip link set eth1p up && "
             "ip addr add 192.0.2.129/25 dev eth1 && ip link set eth1 up")
    # both networks hold .200: the narrower one wins
    assert alpha("IPaddr", "192.0.2.200", "start") == (0, "INFO:  Success\n")
    assert addresses(node, "eth1")["192.0.2.200"] == (25, "192.0.2.255", "eth1:0")
    assert alpha("IPaddr", "192.0.2.50", "start")[0] == 0
    assert addresses(node, "eth0")["192.0.2.50"] == (24, "192.0.2.255", "eth0:0")
    # named on eth0, running on eth1: status says so
    assert alpha("IPaddr", "192.0.2.200/24/eth0", "status") == (1, "ERROR:  Generic error\n")


def test_ipaddr_address_in_no_local_network_fails(pair, alpha):
    node, _ = pair
    before = addresses(node)
    assert alpha("IPaddr", "198.51.100.7", "start") == (1, "ERROR:  Generic error\n")
    assert "ERROR: Unable to find nic or netmask." in alpha.log()
    assert alpha("IPaddr", "192.0.2.60/24/eth9", "start") == (1, "ERROR:  Generic error\n")
    assert "Invalid interface name [eth9]" in alpha.log()
    assert alpha("IPaddr", "192.0.2.60/33", "start") == (1, "ERROR:  Generic error\n")
    assert addresses(node) == before


def test_ipaddr2_label_only_when_named(pair, alpha):
    node, peer = pair
    assert alpha("IPaddr2", "192.0.2.102/24/eth0:web", "start") == (0, "INFO:  Success\n")
    assert alpha("IPaddr2", "192.0.2.103", "start") == (0, "INFO:  Success\n")
    addrs = addresses(node)
    assert addrs["192.0.2.102"] == (24, "192.0.2.255", "eth0:web")
    assert addrs["192.0.2.103"] == (24, "192.0.2.255", "eth0")
    assert alpha("IPaddr2", "192.0.2.103", "status") == (0, "INFO:  Running OK\n")
    wait_until(lambda: neighbour_mac(peer, "192.0.2.103") == node.mac, 5, message="ARP at beta")
    assert alpha("IPaddr2", "192.0.2.102/24/eth0:web", "stop") == (0, "INFO:  Success\n")
    assert alpha("IPaddr2", "192.0.2.102/24/eth0:web", "status") == \
        (7, "INFO:  Resource is stopped\n")
    assert "192.0.2.102" not in addresses(node)
    assert alpha("IPaddr2", "abc", "start") == (6, "ERROR:  Program is not configured\n")
    assert "ERROR: IP address [abc] not valid." in alpha.log()


def test_sendarp_announces_without_adding(pair, alpha):
    node, peer = pair
    before = addresses(node)
    assert alpha("SendArp", "192.0.2.11/eth0", "status") == (7, "INFO:  Resource is stopped\n")
    assert alpha("SendArp", "192.0.2.11/eth0", "start") == (0, "INFO:  Success\n")
    wait_until(lambda: neighbour_mac(peer, "192.0.2.11") == node.mac, 5, message="ARP at beta")
    assert addresses(node) == before
    assert alpha("SendArp", "192.0.2.11/eth0", "start") == (0, "INFO:  Success\n")
    assert alpha("SendArp", "192.0.2.11/eth0", "status") == (0, "INFO:  Running OK\n")
    assert alpha("SendArp", "192.0.2.11/eth0", "stop") == (0, "INFO:  Success\n")
    assert alpha("SendArp", "192.0.2.11/eth0", "status") == (7, "INFO:  Resource is stopped\n")
    assert alpha("SendArp", "192.0.2.11/eth0", "stop") == (0, "INFO:  Success\n")
    assert alpha("SendArp", "192.0.2.11", "start") == (6, "ERROR:  Program is not configured\n")
    assert alpha("SendArp", "192.0.2.11/eth9", "start")[0] == 6


# ---- against the real resource-agents scripts ------------------------------------------

def real_ipaddr(name):
    path = real(name)
    if name == "IPaddr" and not shutil.which("ifconfig"):
        pytest.skip("the real IPaddr needs ifconfig (net-tools)")
    return path


@pytest.mark.parametrize("name", ["IPaddr", "IPaddr2"])
def test_same_answers_as_the_real_script(pair, alpha, name):
    theirs = real_ipaddr(name)
    seen, made = {}, {}
    for who, script in (("real", theirs), ("ours", name)):
        answers = [alpha(script, VIP, action) for action in ("status", "start", "start")]
        made[who] = addresses(pair[0])[VIP]
        answers += [alpha(script, VIP, action) for action in ("status", "stop", "stop", "status")]
        seen[who] = answers
        assert VIP not in addresses(pair[0])
    assert seen["ours"] == seen["real"]
    # the same address, prefix, broadcast and label (eth0:0 for IPaddr)
    assert made["ours"] == made["real"]


@pytest.mark.parametrize("name", ["IPaddr", "IPaddr2"])
@pytest.mark.parametrize("starter", ["real", "ours"])
def test_interchangeable_with_the_real_script(pair, alpha, name, starter):
    theirs = real_ipaddr(name)
    first, second = (theirs, name) if starter == "real" else (name, theirs)
    spec = f"{VIP}/24/eth0"
    assert alpha(first, spec, "start") == (0, "INFO:  Success\n")
    started = addresses(pair[0])[VIP]
    assert alpha(second, spec, "status") == (0, "INFO:  Running OK\n")
    assert alpha(second, spec, "start") == (0, "INFO:  Success\n")
    assert addresses(pair[0])[VIP] == started
    assert alpha(second, spec, "stop") == (0, "INFO:  Success\n")
    assert VIP not in addresses(pair[0])
    assert alpha(first, spec, "status") == (7, "INFO:  Resource is stopped\n")


# ---- Filesystem ---------------------------------------------------------------------

@pytest.fixture
def disk(cluster):
    """(node, Scripts, device): an ext4 loop device for a lone node."""
    if not shutil.which("mkfs.ext4") or not shutil.which("fuser"):
        pytest.skip("needs mkfs.ext4 (e2fsprogs) and fuser (psmisc)")
    node = cluster("alpha")["alpha"]
    dev = node.loop_device("32M")
    node.run(["mkfs.ext4", "-q", dev])
    return node, Scripts(node), dev


def mounted_at(node, mountpoint):
    """(device, fs type, options) of the mount on `mountpoint` in the node, or None."""
    for line in node.run(["cat", "/proc/self/mounts"]).stdout.splitlines():
        dev, mp, fstype, opts = line.split()[:4]
        if mp == mountpoint:
            return dev, fstype, opts.split(",")
    return None


def test_filesystem_start_status_stop(disk):
    node, scripts, dev = disk
    mp = "/run/data"  # the node's own /run: the host never sees it
    assert scripts("Filesystem", dev, mp, "ext4", "status") == (7, "INFO:  Resource is stopped\n")
    assert scripts("Filesystem", dev, mp, "ext4", "start") == (0, "INFO:  Success\n")
    assert mounted_at(node, mp)[:2] == (dev, "ext4")
    assert not os.path.ismount(mp)
    node.run(f"echo payload > {mp}/file")
    assert scripts("Filesystem", dev, mp, "ext4", "start") == (0, "INFO:  Success\n")
    assert node.run(["cat", "/proc/self/mounts"]).stdout.count(f" {mp} ") == 1
    assert scripts("Filesystem", dev, mp, "ext4", "status") == (0, "INFO:  Running OK\n")
    assert scripts("Filesystem", dev, mp, "ext4", "stop") == (0, "INFO:  Success\n")
    assert mounted_at(node, mp) is None
    assert scripts("Filesystem", dev, mp, "ext4", "stop") == (0, "INFO:  Success\n")
    assert scripts("Filesystem", dev, mp, "ext4", "status") == (7, "INFO:  Resource is stopped\n")
    # options go to mount -o; the data is still there
    assert scripts("Filesystem", dev, mp, "ext4", "ro,noatime", "start")[0] == 0
    assert "ro" in mounted_at(node, mp)[2]
    assert node.run(["cat", f"{mp}/file"]).stdout == "payload\n"
    assert scripts("Filesystem", dev, mp, "ext4", "ro,noatime", "stop")[0] == 0


def test_filesystem_stop_ends_the_processes_that_keep_it_busy(disk):
    node, scripts, dev = disk
    mp = "/run/busy data"
    assert scripts("Filesystem", dev, mp, "ext4", "start")[0] == 0
    node.run(["mkdir", f"{mp}/sub"])
    node.run(["mount", "-t", "tmpfs", "tmpfs", f"{mp}/sub"])
    users = [node.spawn("exec sleep 60", cwd=mp), node.spawn("exec sleep 60", cwd=f"{mp}/sub")]
    wait_until(lambda: len(node.pids("sleep")) == 2, 5, message="sleepers")
    assert scripts("Filesystem", dev, mp, "ext4", "stop") == (0, "INFO:  Success\n")
    assert mounted_at(node, mp) is None and mounted_at(node, f"{mp}/sub") is None
    for user in users:
        user.wait(5)
        assert user.returncode == -15  # TERM was enough
    log = scripts.log()
    assert f"Couldn't unmount {mp}/sub; trying cleanup with TERM" in log
    assert f"unmounted {mp} successfully" in log


def test_filesystem_errors(disk):
    node, scripts, dev = disk
    assert scripts("Filesystem", "/dev/nonexistent", "/run/x", "ext4", "start") == \
        (5, "ERROR:  Program is not installed\n")
    assert "Couldn't find device [/dev/nonexistent]" in scripts.log()
    # a device that holds no ext4
    blank = node.loop_device("8M")
    assert scripts("Filesystem", blank, "/run/x", "ext4", "start") == \
        (1, "ERROR:  Generic error\n")
    assert mounted_at(node, "/run/x") is None
    # stop on / would signal every process
    assert scripts("Filesystem", dev, "/", "ext4", "stop") == \
        (6, "ERROR:  Program is not configured\n")


# ---- drbddisk with our drbdadm ---------------------------------------------------------

DRBD_CONF = """resource r0 {
  protocol C;
  on alpha { device /dev/drbd0; disk /dev/loop9; address 192.0.2.11:7788; meta-disk internal; }
  on beta  { device /dev/drbd0; disk /dev/loop9; address 192.0.2.12:7788; meta-disk internal; }
}
"""


def test_drbddisk_status_with_our_drbdadm_and_no_engine(pair, alpha):
    node, _ = pair
    if os.path.exists("/etc/default/drbd") or os.path.exists("/proc/drbd"):
        pytest.skip("this machine's /etc/default/drbd or /proc/drbd would answer")
    node.write_file("/etc/drbd.conf", DRBD_CONF)
    assert node.run("command -v drbdadm").stdout.strip().endswith(".venv/bin/drbdadm")
    assert alpha("drbddisk", "r0", "status") == (3, "stopped (Unconfigured)\n")
