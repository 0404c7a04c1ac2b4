"""resource-agents' own heartbeat scripts (/etc/ha.d/resource.d/IPaddr2, IPaddr,
SendArp, Filesystem, MailTo as Debian installs them) run unchanged under our daemon:
the group starts, moves with hb_standby and a kill -9, and stops on a graceful stop,
and each script finds in its environment what heartbeat 3.0.6 gave it."""
import re

import pytest

from tests.cluster import wait_until
from tests.integration.test_failover import VIP, VipWatch, failover_after_kill, pair

pytestmark = pytest.mark.timeout(120)

VIP2 = "192.0.2.101"
MOUNT = "/run/shared"        # the node's own /run: the host never sees it
GROUP = (f"alpha IPaddr2::{VIP}/24/eth0 IPaddr::{VIP2}/24/eth0 SendArp::{VIP2}/eth0"
         f" Filesystem::tmpfs::{MOUNT}::tmpfs MailTo::root::failover\n")


def both_addresses(n):
    out = n.node.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
    return VIP in out and VIP2 in out


def mounted(n):
    return f" {MOUNT} tmpfs " in n.node.run(["cat", "/proc/self/mounts"]).stdout


def test_real_resource_agents_scripts_under_our_daemon(cluster):
    a, b, _ = pair(cluster, haresources=GROUP, our_scripts=False)
    # resource-agents' wrapper, not ours
    assert "ra_execocf" in a.node.read_file("/etc/ha.d/resource.d/IPaddr2")
    wait_until(lambda: both_addresses(a) and mounted(a), 10, message="group on alpha")
    assert not mounted(b)
    log = a.log()
    # the wrappers log through HA_LOGFILE with heartbeat's date format
    assert "/usr/lib/ocf/resource.d//heartbeat/IPaddr2(IPaddr2_192.0.2.100)" in log
    assert "INFO:  Success" in log
    assert "failover Takeover in progress" in a.node.read_file("/var/log/mail.txt")
    assert a.node.exists("/run/resource-agents")

    with VipWatch(a, b) as watch:
        out = a.tool("hb_standby")
        assert out.returncode == 0, out
        wait_until(lambda: both_addresses(b) and mounted(b) and not a.has_vip(), 10,
                   message="group on beta")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("none", "all"), 10, message="stable")
    watch.assert_never_both()
    assert "failover Migrating resource away" in a.node.read_file("/var/log/mail.txt")
    stopped = re.findall(r"Running /etc/ha.d/resource.d/(\S+) .* stop$", a.log(), re.M)
    assert stopped == ["MailTo", "Filesystem", "SendArp", "IPaddr", "IPaddr2"]
    assert not mounted(a)

    out = a.tool("hb_takeover")
    assert out.returncode == 0, out
    wait_until(lambda: both_addresses(a) and mounted(a) and not b.has_vip(), 10,
               message="group back on alpha")
    failover_after_kill(a, b)
    wait_until(lambda: both_addresses(b) and mounted(b), 5, message="group on beta after kill -9")
    # graceful stop of the survivor, alone: the group stops there, right to left
    stopped = b.heartbeat("-k")
    assert stopped.returncode == 0, stopped
    left = b.node.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
    assert VIP not in left and VIP2 not in left and not mounted(b)
    assert b.node.run(["cl_status", "hbstatus"], check=False).returncode == 1
