"""A mixed pair: the real heartbeat 3.0.6 on one node, ours on the other, in both
directions (the real one owning the group, then ours). The group must move between
them exactly as between two real ones: hb_standby and hb_takeover there and back,
kill -9 of the owner, failback when it returns, graceful stop. The real node runs
resource-agents' scripts and 3.0.6's own tools."""
import time

import pytest

from tests.cluster import wait_until
from tests.integration.test_failover import (DEADTIME, VIP, VipWatch, failover_after_kill, pair,
                                             restart_and_watch)

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("real", ["alpha", "beta"], ids=["real-owner", "real-peer"])
def test_mixed_pair_standby_takeover_failover_failback_stop(cluster, real):
    a, b, client = pair(cluster, real=(real,), client=True)
    assert (a.rscstatus(), b.rscstatus()) == ("local", "local")
    for n in (a, b):
        # the real one forks its rc.d scripts through harc; ours names itself
        assert ("heartbeat_py" in n.log()) is (n.name != real), n.name
        assert ("harc(default)" in n.log()) is (n.name == real), n.name

    with VipWatch(a, b) as watch:
        out = a.tool("hb_standby")
        assert out.returncode == 0, out
        wait_until(lambda: b.has_vip() and not a.has_vip(), 10, message="VIP on beta after hb_standby")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("none", "all"), 10,
                   message="stable after hb_standby")
        out = a.tool("hb_takeover")
        assert out.returncode == 0, out
        wait_until(lambda: a.has_vip() and not b.has_vip(), 10, message="VIP back on alpha")
        wait_until(lambda: (a.rscstatus(), b.rscstatus()) == ("all", "none"), 10,
                   message="stable after hb_takeover")
    watch.assert_never_both()

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


@pytest.mark.parametrize("real", ["alpha", "beta"], ids=["real-owner", "real-peer"])
def test_mixed_pair_legacy_ip_request_protocol(cluster, real):
    """auto_failback legacy: no starting/resource handshake; the returning owner asks
    for its group with ip-request and the holder gives it up."""
    a, b, _ = pair(cluster, real=(real,), failback="legacy")
    failover_after_kill(a, b)
    restart_and_watch(a, b, lambda: a)
    assert not b.has_vip()
    theirs = a if real == "alpha" else b
    assert "rc.d/ip-request" in theirs.log()        # 3.0.6 runs its ip-request scripts
