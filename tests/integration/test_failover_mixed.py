"""A mixed pair: the real heartbeat 3.0.6 on one node, ours on the other, in both
directions (the real one owning the group, then ours). The group must move between
them exactly as between two real ones: hb_standby and hb_takeover there and back,
kill -9 of the owner, failback when it returns, graceful stop. The real node runs
resource-agents' scripts and 3.0.6's own tools."""
import time

import pytest

from tests.cluster import wait_until
from tests.integration.test_failover import (DEADTIME, TWO_GROUPS, VIP, VipWatch,
                                             failover_after_kill, pair, restart_and_watch,
                                             standby_and_takeover, standby_and_takeover_of_sets)

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("real", ["alpha", "beta"], ids=["real-owner", "real-peer"])
def test_mixed_pair_standby_takeover_failover_failback_stop(cluster, real):
    a, b, client = pair(cluster, real=(real,), client=True)
    assert (a.rscstatus(), b.rscstatus()) == ("local", "local")
    for n in (a, b):
        # the real one forks its rc.d scripts through harc; ours names itself
        assert ("heartbeat_py" in n.log()) is (n.name != real), n.name
        assert ("harc(default)" in n.log()) is (n.name == real), n.name

    standby_and_takeover(a, b)

    took = failover_after_kill(a, b, client)
    assert took < DEADTIME + 1
    restart_and_watch(a, b, lambda: a)
    assert not b.has_vip()
    assert client.can_reach(VIP, timeout=3)

    with VipWatch(a, b) as watch:
        stopped = a.heartbeat("-k")
        assert stopped.returncode == 0, stopped
        wait_until(lambda: b.has_vip(), 5, message="VIP on beta after graceful stop")
        time.sleep(0.3)
    watch.assert_never_both()
    assert not a.has_vip()
    assert "Received shutdown notice from 'alpha'." in b.log()


@pytest.mark.parametrize("real", ["alpha", "beta"], ids=["real-owner", "real-peer"])
def test_mixed_pair_without_auto_failback(cluster, real):
    a, b, _ = pair(cluster, real=(real,), failback="off")
    failover_after_kill(a, b)
    restart_and_watch(a, b, lambda: b)
    time.sleep(1.5)
    assert b.has_vip() and not a.has_vip()
    assert (a.rscstatus(), b.rscstatus()) == ("none", "all")


def test_mixed_pair_standby_and_takeover_of_local_and_foreign_sets(cluster):
    """Each tool runs on both sides, so one arrangement (3.0.6 on beta) covers both
    directions of every message. Here 3.0.6 runs our resource.d scripts (IPaddr)."""
    a, b, _ = pair(cluster, real=("beta",), haresources=TWO_GROUPS, our_scripts="all")
    assert "hafuncs" in b.node.read_file("/etc/ha.d/resource.d/IPaddr")
    standby_and_takeover_of_sets(a, b)


def test_mixed_pair_legacy_ip_request_protocol(cluster):
    """auto_failback legacy: no starting/resource handshake; the returning owner (ours)
    asks for its group with ip-request and the holder (3.0.6) gives it up.

    Not the other way round: a restarting 3.0.6 in legacy mode that hears its peer's
    first packet (an ack) before its status counts nobody active and takes its group
    without asking, while the peer still holds it. That race is 3.0.6's own; ours
    waits for the peer's status (docs/heartbeat-resources.md)."""
    a, b, _ = pair(cluster, real=("beta",), failback="legacy")
    failover_after_kill(a, b)
    restart_and_watch(a, b, lambda: a)
    assert not b.has_vip()
    assert "rc.d/ip-request ip-request" in b.log()      # 3.0.6 ran its ip-request script
