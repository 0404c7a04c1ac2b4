"""Resource groups moving between two nodes of ours on the test cluster: kill -9 and
restart of the owner (auto_failback on and off), hb_standby / hb_takeover, graceful
stop, a start that fails on one node only, a start slower than 3 x deadtime, a ping
node lost on one side. What is checked is what an admin sees: where the address is,
whether a third node reaches it, tool output and exit codes, cl_status.

The helpers (HANode, pair, VipWatch) serve test_failover_mixed.py and
test_failover_real_scripts.py too.
"""
import os
import re
import threading
import time
from pathlib import Path

import pytest

from tests.cluster import WaitTimeout, wait_until
from tests.cluster.node import venv_bin

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
VIP = "192.0.2.100"
GROUP = f"alpha {VIP}/24/eth0 MailTo::root\n"
KEEPALIVE, DEADTIME = 0.25, 1.0
START_LAPSE = 5.0   # 3.0.6 (and we) advertise deadtime + 2 s for the first 5 s after start
HA_CF = """\
keepalive 250ms
deadtime 1
warntime 500ms
initdead 2
udpport 694
bcast eth0
auto_failback {failback}
node alpha beta
logfile /var/log/ha-log
debugfile /var/log/ha-debug
use_logd no
crm no
{extra}"""
REAL_DAEMON = "/usr/libexec/heartbeat/heartbeat"
REAL_TOOLS = "/usr/share/heartbeat"
# mail from MailTo lands in the node's own log instead of the host's mail system
MAIL_STUB = "#!/bin/sh\n{ echo \"mail $*\"; cat; } >> /var/log/mail.txt\n"


class HANode:
    """One cluster node running heartbeat: ours, or the real 3.0.6 (`real=True`)."""

    def __init__(self, node, real=False):
        self.node = node
        self.name = node.name
        self.real = real
        self.started = 0.0

    def configure(self, haresources=GROUP, failback="on", extra="", scripts=None,
                  our_scripts=True):
        n = self.node
        n.write_file("/etc/ha.d/ha.cf", HA_CF.format(failback=failback, extra=extra))
        n.write_file("/etc/ha.d/haresources", haresources)
        n.write_file("/etc/ha.d/authkeys", "auth 1\n1 sha1 failover-tests\n", mode=0o600)
        n.write_file("/etc/ha.d/mail-stub", MAIL_STUB, mode=0o755)
        if our_scripts == "all" or (our_scripts and not self.real):
            # our resource.d scripts ("all": on a real 3.0.6 node too); otherwise
            # resource-agents' (seeded) stay
            for f in (REPO / "resource.d").iterdir():
                n.write_file(f"/etc/ha.d/resource.d/{f.name}", f.read_text(),
                             mode=0o755 if os.access(f, os.X_OK) else 0o644)
        for name, text in (scripts or {}).items():
            n.write_file(f"/etc/ha.d/resource.d/{name}", text, mode=0o755)
        return self

    def start(self, **env):
        base = {"MAILCMD": "/etc/ha.d/mail-stub"}           # resource-agents' MailTo
        if not self.real:
            base.update(SENDMAIL="/etc/ha.d/mail-stub", HBPY_RQSTDELAY="1")
        base.update(env)
        self.started = time.monotonic()
        proc = self.node.run([REAL_DAEMON] if self.real else ["heartbeat"], check=False, env=base)
        assert proc.returncode == 0, (self.name, proc.stdout, proc.stderr)
        return self

    def heartbeat(self, *args):
        return self.node.run([REAL_DAEMON if self.real else "heartbeat", *args], check=False,
                             timeout=90)

    def tool(self, name, *args):
        path = f"{REAL_TOOLS}/{name}" if self.real else name
        return self.node.run([path, *args], check=False, input="")

    def rscstatus(self):
        return self.node.run(["cl_status", "rscstatus"], check=False).stdout.strip()

    def has_vip(self):
        return VIP in self.node.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout

    def log(self):
        return self.node.read_file("/var/log/ha-log", missing_ok=True)

    def crash_and_reboot(self):
        """kill -9 of everything, then what a reboot does (the VIP a killed 3.0.6
        leaves on eth0 goes too)."""
        self.node.kill()
        self.node.reboot()


def pair(cluster, real=(), failback="on", haresources=GROUP, extra="", scripts=None,
         env=None, client=False, our_scripts=True):
    """alpha and beta configured and started together; `real` names the nodes that run
    the real 3.0.6. Returns (alpha, beta, client node or None)."""
    c = cluster("alpha", "beta")
    nodes = []
    for name in ("alpha", "beta"):
        if name in real:
            c[name].venv_on_path = False
        nodes.append(HANode(c[name], real=name in real).configure(
            haresources, failback, extra, scripts, our_scripts))
    other = c.add_node("client") if client else None
    for n in nodes:
        n.start(**(env or {}))
    a, b = nodes
    wait_until(lambda: a.has_vip(), 30, message="VIP on alpha after start")
    # (3.0.6 in legacy mode always answers `none`)
    held = ("local", "all", "none") if failback == "legacy" else ("local", "all")
    wait_until(lambda: a.rscstatus() in held and b.rscstatus() in ("local", "none"),
               15, message="both nodes stable")
    return a, b, other


class VipWatch:
    """Samples both nodes every 50 ms; a moment with the address on both fails."""

    def __init__(self, a, b, interval=0.05):
        self.a, self.b, self.interval = a, b, interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        due = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.a.has_vip(), self.b.has_vip()))
            # a fixed period, not a pause after each sample (sampling takes time too)
            due += self.interval
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def assert_never_both(self):
        assert len(self.samples) >= 5, f"only {len(self.samples)} samples"
        both = [t for t, x, y in self.samples if x and y]
        assert not both, f"{VIP} on both nodes at {len(both)} of {len(self.samples)} samples"


def failover_after_kill(a, b, client=None):
    """kill -9 the owner: the VIP is on the other node within deadtime + 1 s."""
    if client is not None:
        assert client.can_reach(VIP, timeout=2)
    # until then the peer allows 2 s more: the promise is for a node that runs normally
    # (margin: a loaded machine may take a second to get a daemon going)
    time.sleep(max(0.0, a.started + START_LAPSE + 2.0 - time.monotonic()))
    wait_until(lambda: a.rscstatus() != "transition", 10, message="owner stable before the kill")
    killed = time.monotonic()
    a.node.kill()
    wait_until(lambda: b.has_vip(), DEADTIME + 1.0, interval=0.02,
               message="VIP on the survivor within deadtime + 1 s")
    took = time.monotonic() - killed
    # the killed node's kernel would still answer for the address: power it off first
    a.node.reboot()
    if client is not None:
        assert client.can_reach(VIP, timeout=3), "the client cannot reach the VIP on the survivor"
        # and the answer came from the survivor (its gratuitous ARP updated the client)
        assert b.node.mac in client.run(["ip", "neigh", "show", VIP]).stdout
    return took


def restart_and_watch(a, b, vip_on):
    """Restart the rebooted node; follow the VIP for a while, never on both."""
    with VipWatch(a, b) as watch:
        a.start()
        wait_until(lambda: vip_on().has_vip(), 15, message=f"VIP on {vip_on().name} after restart")
        wait_until(lambda: a.rscstatus() != "transition" and b.rscstatus() != "transition", 15,
                   message="stable after restart")
        time.sleep(0.5)     # a few more samples once stable
    watch.assert_never_both()
    return watch


def test_kill_failover_then_failback(cluster):
    a, b, client = pair(cluster, client=True)
    assert a.rscstatus() == "local"
    assert "Mail to root" in a.log() or "mail" in a.node.read_file("/var/log/mail.txt",
                                                                    missing_ok=True)
    failover_after_kill(a, b, client)
    assert b.rscstatus() in ("all", "transition")
    assert "Resources being acquired from alpha." in b.log()
    restart_and_watch(a, b, lambda: a)
    assert not b.has_vip()
    assert (a.rscstatus(), b.rscstatus()) == ("local", "local")
    assert client.can_reach(VIP, timeout=3)


def test_auto_failback_off_leaves_the_group_on_the_survivor(cluster):
    a, b, _ = pair(cluster, failback="off")
    failover_after_kill(a, b)
    restart_and_watch(a, b, lambda: b)
    time.sleep(1.5)
    assert b.has_vip() and not a.has_vip()
    assert (a.rscstatus(), b.rscstatus()) == ("none", "all")


def test_legacy_failover_and_failback_between_two_of_ours(cluster):
    """auto_failback legacy (the default, no auto_failback line): no handshake; the
    returning owner asks for its group with ip-request and the holder gives it up."""
    a, b, _ = pair(cluster, failback="legacy")
    failover_after_kill(a, b)
    restart_and_watch(a, b, lambda: a)
    assert not b.has_vip()
    # legacy has no standby: only an ip-request makes the holder release the group
    assert b.log().count("Releasing resource group: alpha") == 1

def standby_and_takeover(a, b):
    """hb_standby on the owner, then hb_takeover there: exit 0, the group moves over
    and back, never on both nodes."""
    with VipWatch(a, b) as watch:
        out = a.tool("hb_standby")
        assert out.returncode == 0, out
        assert re.fullmatch(r"\w{3} \d\d [\d:]{8} Going standby \[all\]\.\n", out.stderr), out
        wait_until(lambda: b.has_vip() and not a.has_vip(), 10, message="VIP on beta after hb_standby")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("none", "all"), 10,
                   message="stable after hb_standby")
        out = a.tool("hb_takeover")
        assert (out.returncode, out.stdout, out.stderr) == (0, "", ""), out
        wait_until(lambda: a.has_vip() and not b.has_vip(), 10, message="VIP back on alpha")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("all", "none"), 10,
                   message="stable after hb_takeover")
    watch.assert_never_both()


def test_hb_standby_and_hb_takeover_move_the_group_and_back(cluster):
    a, b, _ = pair(cluster)
    standby_and_takeover(a, b)
    assert "alpha wants to go standby [all]" in b.log()
    assert "beta wants to go standby [all]" in a.log()


VIP2 = "192.0.2.101"
TWO_GROUPS = f"alpha {VIP}/24/eth0\nbeta {VIP2}/24/eth0\n"
# (node, tool, set) -> (rscstatus alpha, rscstatus beta, VIPs on alpha, VIPs on beta),
# as two real 3.0.6 nodes answered each step (1: alpha's group, 2: beta's)
SET_STEPS = [
    (("alpha", "hb_standby", "local"), ("none", "all", "", "12")),
    (("beta", "hb_standby", "local"), ("foreign", "foreign", "2", "1")),
    (("alpha", "hb_takeover", "local"), ("all", "none", "12", "")),
    (("beta", "hb_takeover", "local"), ("local", "local", "1", "2")),
    (("alpha", "hb_takeover", "foreign"), ("all", "none", "12", "")),
    (("alpha", "hb_standby", "foreign"), ("local", "local", "1", "2")),
]


def vips(n):
    out = n.node.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
    return "".join(tag for tag, ip in (("1", VIP), ("2", VIP2)) if f" {ip}/" in out)


def standby_and_takeover_of_sets(a, b):
    """hb_standby / hb_takeover local and foreign with a group on each node: each step
    moves the groups and cl_status rscstatus answers as between two real 3.0.6 nodes."""
    nodes = {"alpha": a, "beta": b}
    seen = []

    def reached(expected):
        seen.append((a.rscstatus(), b.rscstatus(), vips(a), vips(b)))
        return seen[-1] == expected

    wait_until(lambda: reached(("local", "local", "1", "2")), 15, message="a group on each")
    for (who, tool, which), expected in SET_STEPS:
        out = nodes[who].tool(tool, which)
        assert out.returncode == 0, out
        try:
            wait_until(lambda: reached(expected), 10)
        except WaitTimeout:
            pytest.fail(f"{who} {tool} {which}: expected {expected}, last seen {seen[-1]}")


def test_hb_standby_and_hb_takeover_of_local_and_foreign_sets(cluster):
    a, b, _ = pair(cluster, haresources=TWO_GROUPS)
    standby_and_takeover_of_sets(a, b)

def test_graceful_stop_hands_the_group_over(cluster):
    """`/etc/init.d/heartbeat stop` (ours, which runs `heartbeat -k`) on the owner."""
    a, b, _ = pair(cluster)
    with VipWatch(a, b) as watch:
        stopped = a.node.run(["sh", str(REPO / "etc/init.d/heartbeat"), "stop"], check=False,
                             timeout=60, env={"HEARTBEAT": str(Path(venv_bin()) / "heartbeat")})
        assert stopped.returncode == 0, stopped
        assert not a.has_vip()
        wait_until(lambda: b.has_vip(), DEADTIME, message="VIP on beta before deadtime")
    watch.assert_never_both()
    log = a.log()
    assert log.index("Running /etc/ha.d/resource.d/MailTo root stop") < \
        log.index(f"Running /etc/ha.d/resource.d/IPaddr {VIP}/24/eth0 stop")
    assert "Received shutdown notice from 'alpha'." in b.log()


def marker_script(name, start="", stop=""):
    """A resource script whose state is /run/NAME.running; START and STOP are shell
    run first (they may exit 1 to fail the action)."""
    return f"""#!/bin/sh
eval action=\\${{$#}}
mark=/run/{name}.running
case $action in
  start) {start}
         touch $mark;;
  stop) {stop}
        rm -f $mark;;
  status) [ -f $mark ] && echo running || echo stopped;;
esac
exit 0
"""


FAILS_ON_ALPHA = marker_script(
    "flaky", start='[ "$(uname -n)" = alpha ] && { echo "ERROR: cannot start here"; exit 1; }')


def test_start_failing_on_one_node_runs_the_group_on_the_other(cluster):
    c = cluster("alpha", "beta")
    a = HANode(c["alpha"]).configure(f"alpha {VIP}/24/eth0 flaky\n",
                                     scripts={"flaky": FAILS_ON_ALPHA})
    b = HANode(c["beta"]).configure(f"alpha {VIP}/24/eth0 flaky\n",
                                    scripts={"flaky": FAILS_ON_ALPHA})
    with VipWatch(a, b) as watch:
        for n in (a, b):
            n.start(HBPY_FAILED_START_STANDBY="1")
        wait_until(lambda: b.has_vip() and b.node.exists("/run/flaky.running"), 20,
                   message="group running on beta")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("none", "all"), 10,
                   message="stable")
    watch.assert_never_both()
    assert not a.has_vip()
    log = a.log()
    assert "Giving up resources due to failure of flaky" in log
    assert log.index("Running /etc/ha.d/resource.d/flaky start") < \
        log.index(f"Running /etc/ha.d/resource.d/IPaddr {VIP}/24/eth0 stop")


SLOW_START = marker_script("slow", start="sleep 3")


def test_start_slower_than_three_deadtimes_causes_no_failover(cluster):
    c = cluster("alpha", "beta")
    nodes = [HANode(c[n]).configure(f"alpha slow {VIP}/24/eth0\n", scripts={"slow": SLOW_START})
             for n in ("alpha", "beta")]
    a, b = nodes
    with VipWatch(a, b) as watch:
        for n in nodes:
            n.start()
        wait_until(lambda: a.node.exists("/run/slow.running"), 20, message="slow start done")
        wait_until(lambda: a.has_vip(), 5, message="VIP on alpha")
        assert a.rscstatus() in ("local", "transition")
        time.sleep(1)
    watch.assert_never_both()
    assert not any(y for _, _, y in watch.samples), "the VIP was started on beta"
    assert "is dead" not in b.log()
    assert "Late heartbeat" not in b.log()


def test_ping_node_lost_on_one_side_moves_the_group(cluster):
    c = cluster("alpha", "beta")
    router = c.add_node("router")
    extra = f"ping {router.ip}\ndeadping 1\nrespawn hacluster /usr/lib/heartbeat/ipfail\n"
    a = HANode(c["alpha"]).configure(extra=extra)
    b = HANode(c["beta"]).configure(extra=extra)
    for n in (a, b):
        n.start()
    wait_until(lambda: a.has_vip(), 30, message="VIP on alpha after start")
    wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("local", "local"), 15, message="stable")
    assert a.node.run(["cl_status", "nodestatus", router.ip], check=False).stdout.strip() == "ping"
    with VipWatch(a, b) as watch:
        c.partition("alpha", "router")
        wait_until(lambda: b.has_vip() and not a.has_vip(), 10, message="VIP moved to beta")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("none", "all"), 10, message="stable")
    watch.assert_never_both()
    assert a.node.run(["cl_status", "nodestatus", router.ip], check=False).stdout.strip() == "dead"
    assert "Giving up because we were told that we have less ping nodes." in a.log()
    # the ping node is back: auto_failback on brings the group home
    c.heal("alpha", "router")
    wait_until(lambda: a.has_vip() and not b.has_vip(), 15, message="VIP back on alpha")


STOP_FAILS = marker_script("sticky", stop='echo "ERROR: device busy"; exit 1')


def test_failed_stop_keeps_the_group_and_the_peer_never_starts_it(cluster):
    group = f"alpha {VIP}/24/eth0 sticky\n"
    a, b, _ = pair(cluster, haresources=group, scripts={"sticky": STOP_FAILS},
                   env={"HA_STOPRETRYMAX": "1"})
    with VipWatch(a, b) as watch:
        assert a.tool("hb_standby").returncode == 0
        wait_until(lambda: "Standby cancelled" in a.log(), 10, message="standby cancelled")
        # a graceful stop that cannot release the group does not leave either, and
        # `/etc/init.d/heartbeat stop` (heartbeat -k) says so instead of waiting for a
        # daemon that stays
        stopped = a.node.run(["sh", str(REPO / "etc/init.d/heartbeat"), "stop"], check=False,
                             timeout=60, env={"HEARTBEAT": str(Path(venv_bin()) / "heartbeat")})
        assert (stopped.returncode, stopped.stdout) == (
            1, "Stopping High-Availability services: Failed (rc=1).\n\n"), stopped
        assert "cancelled its shutdown: a resource could not be stopped" in stopped.stderr
        assert "shutdown cancelled" in a.log()
        time.sleep(DEADTIME * 2)
    watch.assert_never_both()
    assert a.node.exists("/run/sticky.running") and not b.node.exists("/run/sticky.running")
    assert "Acquiring resource group" not in b.log()
    assert a.heartbeat("-s").returncode == 0            # still running
    assert "Resource STOP failure: sticky is still running." in a.log()
