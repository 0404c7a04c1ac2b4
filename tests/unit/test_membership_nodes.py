"""Node and link status with a fake clock: init -> up -> active, dead after the
deadtime a node asked for (initdead before our comm is up), links per medium."""
import pytest

from heartbeat_py.membership.nodes import (ACTIVE, DEAD, INIT, UP, LateHeartbeat, LinkChanged,
                                           Membership, NodeDied, StatusChanged)


def table(now=0.0, **kw):
    args = dict(deadtime=2.0, warntime=1.0, initdead=6.0, now=now)
    args.update(kw)
    return Membership("alpha", ["alpha", "beta"], ["eth0", "eth1"], **args)


def test_nodes_start_init_with_dead_links_and_the_local_node_is_required():
    m = table()
    assert m.status_of("beta") == INIT and m.status_of("BETA") == INIT
    assert m.status_of("gamma") is None
    assert {l.status for l in m.nodes["beta"].links.values()} == {"dead"}
    with pytest.raises(ValueError):
        Membership("gamma", ["alpha"], ["eth0"], deadtime=2, warntime=1, initdead=6, now=0)


def test_status_changes_are_reported_once_each():
    m = table()
    assert m.status("beta", INIT, 4000, 0.1) == []
    assert m.status("beta", UP, 4000, 0.2) == [StatusChanged("beta", INIT, UP)]
    assert m.status("beta", UP, 4000, 0.3) == []
    assert m.status("beta", ACTIVE, 2000, 0.4) == [StatusChanged("beta", UP, ACTIVE)]
    assert m.nodes["beta"].deadtime == 2.0


def test_link_up_on_any_packet_per_link_and_dead_after_silence():
    m = table()
    m.comm_up = True
    assert m.packet("beta", "eth0", 1.0) == [LinkChanged("beta", "eth0", "up")]
    assert m.packet("beta", "eth0", 1.1) == []
    assert m.packet("beta", "eth1", 1.2) == [LinkChanged("beta", "eth1", "up")]
    assert m.packet("beta", "ib9", 1.2) == []          # not one of our links
    m.status("beta", UP, None, 1.2)
    for t in (1.5, 2.0, 2.5):
        m.packet("beta", "eth1", t)
        m.status("beta", UP, None, t)
    events = m.tick(3.2)
    assert events == [LinkChanged("beta", "eth0", "dead")]     # eth1 still carries statuses
    assert m.status_of("beta") == UP


def test_dead_after_the_peers_deadtime_and_initdead_before_comm_up():
    m = table()
    m.packet("beta", "eth0", 0.5)
    m.status("beta", UP, 3000, 0.5)
    assert m.tick(5.0) == []               # comm not up: initdead (6 s) applies
    assert m.next_deadline() == pytest.approx(6.5)
    m.comm_up = True
    assert m.next_deadline() == pytest.approx(3.5)              # its dt: 3 s
    assert m.tick(3.4) == []
    assert m.tick(3.6) == [NodeDied("beta"), StatusChanged("beta", UP, DEAD),
                           LinkChanged("beta", "eth0", "dead")]
    assert m.tick(10) == []
    assert not m.nodes["beta"].heard


def test_a_node_never_heard_is_dead_after_initdead_and_then_comm_can_go_up():
    m = table(now=100.0)
    assert not m.all_heard()
    assert m.tick(105.9) == []
    assert m.tick(106.1) == [NodeDied("beta"), StatusChanged("beta", INIT, DEAD)]
    assert m.all_heard()


def test_late_heartbeats_between_two_statuses_of_a_live_node():
    m = table()
    m.comm_up = True
    m.status("beta", UP, None, 0.0)
    assert m.status("beta", UP, None, 0.9) == []
    assert m.status("beta", UP, None, 2.2) == [LateHeartbeat("beta", 1300, False)]
    assert m.status("beta", UP, None, 4.5) == [LateHeartbeat("beta", 2300, True)]


def test_a_restarted_node_is_not_measured_from_before_its_restart():
    m = table()
    m.comm_up = True
    m.status("beta", ACTIVE, None, 0.0)
    m.restarted("beta")
    assert m.status("beta", INIT, None, 1.9) == [StatusChanged("beta", ACTIVE, INIT)]


def test_a_dead_node_coming_back_changes_status_without_late_warning():
    m = table()
    m.comm_up = True
    m.status("beta", ACTIVE, None, 0.0)
    m.tick(2.5)
    assert m.status("beta", ACTIVE, None, 9.0) == [StatusChanged("beta", DEAD, ACTIVE)]
    assert m.live_peers() == ["beta"]


def test_ping_nodes_are_listed_but_never_timed_or_counted():
    m = Membership("alpha", ["alpha", "beta"], ["eth0"], deadtime=2, warntime=1, initdead=6,
                   now=0, ping_nodes=("10.0.0.1",))
    assert m.nodes["10.0.0.1"].kind == "ping"
    assert m.peers() == ["beta"]
    m.packet("beta", "eth0", 0.1)
    assert m.all_heard()
    assert all(getattr(e, "node", None) != "10.0.0.1" for e in m.tick(100))


def test_local_status_is_ours_to_set():
    m = table()
    assert m.set_local_status(UP) and not m.set_local_status(UP)
    assert m.status_of("alpha") == UP
    assert m.tick(100) == [NodeDied("beta"), StatusChanged("beta", INIT, DEAD)]


def test_a_node_added_by_autojoin_is_timed_from_when_it_joined():
    m = table()
    m.comm_up = True
    assert m.join("gamma", 10.0) and not m.join("gamma", 11.0) and not m.join("beta", 11.0)
    assert m.status_of("gamma") == INIT and "gamma" in m.peers()
    assert list(m.nodes["gamma"].links) == ["eth0", "eth1"]
    m.packet("gamma", "eth0", 10.0)
    assert m.tick(11.9) == [NodeDied("beta"), StatusChanged("beta", INIT, DEAD)]
    assert m.tick(12.1) == [NodeDied("gamma"), StatusChanged("gamma", INIT, DEAD),
                            LinkChanged("gamma", "eth0", "dead")]
