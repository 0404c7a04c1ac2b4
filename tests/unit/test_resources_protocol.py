"""heartbeat_py.resources.protocol against the message sequences a real 3.0.6 pair
exchanged (docs/heartbeat-protocol.md §8, from hb_netstring.pcap): start, failover
after kill -9, failback, hb_standby, hb_takeover, graceful stop; then the cases the
capture does not show (failed starts and stops, timers, legacy mode), and a
simulated pair of our own machines that must never run a group twice.

Messages are written as in the doc: `resource local isstable=1 info=...`.
"""
import logging

import pytest

from heartbeat_py.config.haresources import parse_haresources
from heartbeat_py.resources.holdings import ALL
from heartbeat_py.resources.protocol import (GroupResult, ResourceProtocol, Run, Send,
                                             ShutdownReady, Timers)
from heartbeat_py.wire.kinds import (AskResources, IpRequest, IpRequestResp, Resources,
                                     ShutDone, Starting, Stonith, Takeover)

A, B = "nodea", "nodeb"
VIP = "10.99.0.222/24/eth0"
HARESOURCES = f"nodeA {VIP}\n"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def show(kind):
    """A message as docs/heartbeat-protocol.md §8 writes it."""
    if isinstance(kind, Starting):
        return "starting"
    if isinstance(kind, Resources):
        words = ["resource", kind.rsc_hold]
        if kind.stable is not None:
            words.append(f"isstable={int(kind.stable)}")
        if kind.info:
            words.append(f"info={kind.info}")
        return " ".join(words)
    if isinstance(kind, AskResources):
        return f"ask_resources {kind.rsc_hold} {kind.info}"
    if isinstance(kind, IpRequestResp):
        return (f"ip-request-resp dest={kind.dest} ipaddr={kind.ipaddr}"
                f" weown={'yes' if kind.weown else 'no'} ok={kind.ok}")
    if isinstance(kind, IpRequest):
        return f"ip-request ipaddr={kind.ipaddr}"
    if isinstance(kind, Stonith):
        return f"stonith node={kind.node} result={kind.result}"
    if isinstance(kind, Takeover):
        return f"hb_takeover {kind.rsc_hold}"
    raise AssertionError(kind)


def parse(text):
    """The inverse of show(), for scripting a peer."""
    words = text.split()
    if words[0] == "starting":
        return Starting()
    if words[0] == "resource":
        opts = dict(w.split("=", 1) for w in words[2:])
        stable = opts.get("isstable")
        if stable is None:
            return Resources(words[1], info=opts.get("info"))
        return Resources.held(words[1], stable == "1", opts.get("info"))
    if words[0] == "ask_resources":
        return AskResources(words[1], words[2])
    if words[0] == "hb_takeover":
        return Takeover(words[1])
    if words[0] == "shutdone":
        return ShutDone()
    raise AssertionError(text)


class Node:
    """One protocol machine with a fake resource runner: groups 'run' as a set."""

    def __init__(self, name, clock, auto_failback="on", haresources=HARESOURCES, timers=None):
        self.name = name
        self.clock = clock
        self.log = logging.getLogger(f"proto.{name}")
        self.groups = parse_haresources(haresources).groups
        self.p = ResourceProtocol(name, self.groups, auto_failback, self.log, clock,
                                  timers=timers, peers=(A, B))
        self.outbox = []            # messages not yet delivered
        self.sent = []              # everything sent, shown
        self.ops = []
        self.running = set()
        self.fail_start = set()
        self.fail_stop = set()
        self.shutdown_answers = []
        self.done_ops = []

    def collect(self):
        for action in self.p.take_actions():
            if isinstance(action, Send):
                self.outbox.append(action.message)
                self.sent.append(show(action.message))
            elif isinstance(action, Run):
                self.ops.append(action.operation)
            elif isinstance(action, ShutdownReady):
                self.shutdown_answers.append(action.released)
        return self

    def new_messages(self):
        """Sent since the last call, shown."""
        out, self.outbox = self.outbox, []
        return [show(m) for m in out]

    def finish_ops(self, limit=20):
        """Run queued operations one by one, as the manager does."""
        while self.ops and limit:
            limit -= 1
            op = self.ops.pop(0)
            results = []
            for group in op.groups:
                key = group.key
                if op.kind == "take":
                    ok = key not in self.fail_start
                    if ok:
                        self.running.add(key)
                    results.append(GroupResult(group, ok))
                elif op.kind == "give":
                    if key in self.fail_stop and key in self.running:
                        results.append(GroupResult(group, False, stop_failed=True))
                    else:
                        self.running.discard(key)
                        results.append(GroupResult(group, True))
                else:   # yield
                    owned = key in self.running
                    self.running.discard(key)
                    results.append(GroupResult(group, True, owned=owned))
            self.done_ops.append((op.kind, op.purpose, tuple(g.key for g in op.groups)))
            self.p.operation_done(op, results)
            self.collect()

    # events
    def status(self, node, st):
        self.p.node_status(node, st)
        return self.collect()

    def comm_up(self):
        self.p.comm_up()
        return self.collect()

    def hear(self, text, src):
        self.p.message(parse(text), src)
        return self.collect()

    def standby(self, which="all"):
        """hb_standby on this node."""
        self.p.standby(which)
        return self.collect()

    def tick(self, seconds=0.0):
        self.clock.t += seconds
        self.p.tick()
        return self.collect()


@pytest.fixture
def clock():
    return Clock()


def started_pair(clock, auto_failback="on"):
    """Both nodes up as at the end of §8's start sequence: A holds its VIP."""
    a, b = Node(A, clock, auto_failback), Node(B, clock, auto_failback)
    a.status(B, "up"), b.status(A, "up")
    a.status(B, "active"), b.status(A, "active")
    b.comm_up()
    a.comm_up()
    settle(a, b)
    clock.t += 10
    a.tick(), b.tick()
    settle(a, b)
    assert a.running == {VIP} and not b.running
    a.new_messages(), b.new_messages()
    return a, b


def settle(a, b, rounds=50):
    """Deliver messages both ways and run operations until nothing moves; a group
    must never run on both nodes at any step."""
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            assert not a.running & b.running, "a group runs on both nodes"
            out, src.outbox = src.outbox, []
            for m in out:
                dst.p.message(m, src.name)
                dst.collect()
                moved = True
            if src.ops:
                src.finish_ops()
                moved = True
        if not moved:
            return
    raise AssertionError("the pair does not settle")


# ---- §8: start -----------------------------------------------------------------------

def test_start_preferred_node_waits_rqstdelay_then_takes_its_group(clock):
    a = Node(A, clock)
    a.status(B, "up"), a.status(B, "active")
    assert a.comm_up().new_messages() == ["starting"]
    # B's starting arrived after ours: both starting; we answer what we hold
    assert a.hear("starting", B).new_messages() == ["resource none isstable=0"]
    assert a.hear("resource none isstable=0", B).new_messages() == []
    assert a.p.rscstatus() == "transition"
    assert a.tick(9.9).new_messages() == []
    assert not a.ops
    # RQSTDELAY (10 s) expired: stable, take the local group
    assert a.tick(0.2).new_messages() == [
        "resource local isstable=1",
        f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK",
        "resource local isstable=1 info=req_our_resources()",
    ]
    assert [(op.kind, [g.key for g in op.groups]) for op in a.ops] == [("take", [VIP])]
    a.finish_ops()
    assert a.running == {VIP}
    # B, having no groups, becomes stable in turn
    assert a.hear("resource none isstable=0", B).new_messages() == []
    assert a.hear("resource local isstable=1", B).new_messages() == ["resource local isstable=1"]
    assert a.hear("resource local isstable=1 info=req_our_resources()", B).new_messages() == []
    assert a.p.rscstatus() == "local"


def test_start_other_node_follows_the_stable_one(clock, caplog):
    b = Node(B, clock)
    b.status(A, "up"), b.status(A, "active")
    assert b.comm_up().new_messages() == ["starting"]
    assert b.hear("starting", A).new_messages() == ["resource none isstable=0"]
    b.hear("resource none isstable=0", A)
    with caplog.at_level(logging.INFO, logger="proto.nodeb"):
        assert b.hear("resource local isstable=1", A).new_messages() == [
            "resource none isstable=0", "resource local isstable=1",
            "resource local isstable=1 info=req_our_resources()"]
    assert not b.ops
    assert f"No local resources [/usr/share/heartbeat/ResourceManager listkeys {B}] to acquire." \
        in caplog.messages
    assert "Initial resource acquisition complete (T_RESOURCES(us))" in caplog.messages
    assert b.p.rscstatus() == "local"


# ---- §8: failover, failback -------------------------------------------------------------

def test_failover_after_kill(clock, caplog):
    a, b = started_pair(clock)
    with caplog.at_level(logging.INFO, logger="proto.nodeb"):
        b.status(A, "dead")
        assert b.new_messages() == [f"stonith node={A} result=n_stnth",
                                    "resource all isstable=1 info=req_our_resources()"]
        assert [op.purpose for op in b.ops] == ["mach_down"]
        b.finish_ops()
    assert b.new_messages() == ["resource foreign info=mach_down"]
    assert b.running == {VIP}
    assert b.p.rscstatus() == "all"
    for line in ("No STONITH device configured.", "Shared disks are not protected.",
                 f"Resources being acquired from {A}.", "mach_down takeover complete."):
        assert line in caplog.messages


def failed_over(clock, auto_failback="on"):
    a, b = started_pair(clock, auto_failback)
    b.status(A, "dead")
    b.finish_ops()
    b.new_messages()
    a.running.clear()           # the killed node's address went with its reboot
    return Node(A, clock, auto_failback), b


def test_failback_seen_from_the_node_holding_everything(clock, caplog):
    _, b = failed_over(clock)
    b.p.node_restarted(A)
    b.status(A, "init"), b.status(A, "up"), b.status(A, "active")
    assert b.hear("starting", A).new_messages() == ["resource all isstable=1"]
    assert b.hear("resource none isstable=0", A).new_messages() == []
    with caplog.at_level(logging.INFO, logger="proto.nodeb"):
        assert b.hear("resource none isstable=1", A).new_messages() == [
            "resource all isstable=1", "ask_resources foreign me"]
        assert b.hear("ask_resources foreign other", A).new_messages() == [
            "resource local isstable=0 info=standby"]
        assert [(op.kind, op.purpose) for op in b.ops] == [("give", "standby")]
        b.finish_ops()
        assert b.new_messages() == ["ask_resources foreign done"]
        assert not b.running
        assert b.hear("ask_resources foreign done", A).new_messages() == ["resource local isstable=1"]
        assert b.hear("resource local isstable=1", A).new_messages() == ["resource local isstable=1"]
    assert b.p.rscstatus() == "local"
    for line in (f"{B} wants to go standby [foreign]",
                 f"standby: {A} can take our foreign resources",
                 "foreign HA resource release completed (standby).",
                 "Local standby process completed [foreign].",
                 "Other node completed standby takeover of foreign resources."):
        assert line in caplog.messages


def test_failback_seen_from_the_restarted_preferred_node(clock, caplog):
    a = Node(A, clock)
    a.status(B, "active")
    assert a.comm_up().new_messages() == ["starting"]
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        assert a.hear("resource all isstable=1", B).new_messages() == [
            "resource none isstable=0", "resource none isstable=1"]
        assert "Local Resource acquisition completed. (none)" in caplog.messages
        assert a.hear("ask_resources foreign me", B).new_messages() == [
            "ask_resources foreign other"]
        assert a.hear("resource local isstable=0 info=standby", B).new_messages() == []
        assert not a.ops
        assert a.hear("ask_resources foreign done", B).new_messages() == []
        assert [(op.kind, [g.key for g in op.groups]) for op in a.ops] == [("take", [VIP])]
        a.finish_ops()
        assert a.new_messages() == ["ask_resources foreign done", "resource local isstable=1"]
    assert a.running == {VIP}
    assert a.p.rscstatus() == "transition"      # until the other says it is stable again
    assert a.hear("resource local isstable=1", B).new_messages() == ["resource local isstable=1"]
    assert a.p.rscstatus() == "local"
    for line in (f"{B} wants to go standby [foreign]",
                 f"standby: acquire [foreign] resources from {B}",
                 "acquire local HA resources (standby).",
                 "local HA resource acquisition completed (standby).",
                 "Standby resource acquisition done [foreign].",
                 "Initial resource acquisition complete (auto_failback)"):
        assert line in caplog.messages


def test_failback_between_two_of_ours(clock):
    a, b = failed_over(clock)
    b.p.node_restarted(A)
    a.status(B, "active")
    b.status(A, "active")
    a.comm_up()
    settle(a, b)
    assert a.running == {VIP} and not b.running
    assert a.p.rscstatus() == "local" and b.p.rscstatus() == "local"


def test_auto_failback_off_leaves_the_group_where_it_is(clock):
    a, b = failed_over(clock, "off")
    b.p.node_restarted(A)
    a.status(B, "active"), b.status(A, "active")
    a.comm_up()
    settle(a, b)
    clock.t += 30
    a.tick(), b.tick()
    settle(a, b)
    assert b.running == {VIP} and not a.running
    assert a.p.rscstatus() == "none" and b.p.rscstatus() == "all"
    assert not any("ask_resources" in m for m in b.sent + a.sent)


# ---- §8: hb_standby, hb_takeover, graceful stop ------------------------------------------

def test_hb_standby_on_the_owner(clock, caplog):
    a, b = started_pair(clock)
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        assert a.standby().new_messages() == ["ask_resources all me"]
        assert a.p.rscstatus() == "transition"
        assert a.hear("ask_resources all other", B).new_messages() == [
            "resource none isstable=0 info=standby"]
        a.finish_ops()
        assert a.new_messages() == ["ask_resources all done"]
        assert not a.running
        # the capture: B's done and its resource message, then A's two answers (60.438)
        assert a.hear("ask_resources all done", B).new_messages() == ["resource none isstable=1"]
        assert a.hear("resource all isstable=1", B).new_messages() == ["resource none isstable=1"]
    assert a.p.rscstatus() == "none"
    assert f"{A} wants to go standby [all]" in caplog.messages
    assert "give up all HA resources (standby)." in caplog.messages


def test_hb_standby_then_hb_takeover_between_two_of_ours(clock):
    a, b = started_pair(clock)
    a.standby()
    settle(a, b)
    assert b.running == {VIP} and not a.running
    assert (a.p.rscstatus(), b.p.rscstatus()) == ("none", "all")
    a.p.takeover("all")
    assert a.collect().new_messages() == ["hb_takeover all"]
    a.outbox.append(Takeover("all"))
    settle(a, b)
    assert a.running == {VIP} and not b.running
    assert (a.p.rscstatus(), b.p.rscstatus()) == ("all", "none")
    assert "ask_resources all me" in b.sent


def test_hb_takeover_from_a_peer_makes_us_go_standby_for_the_mirror_set(clock):
    a, b = started_pair(clock)
    assert a.hear("hb_takeover foreign", B).new_messages() == ["ask_resources local me"]
    b2 = Node(B, clock)
    assert b2.hear("hb_takeover failback", A).new_messages() == []     # before comm up: nothing


def test_graceful_stop_of_the_owner(clock, caplog):
    a, b = started_pair(clock)
    b.p.standby_rsctype = ALL   # as in the capture: the last standby exchange was "all"
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        a.p.shutdown()
        assert a.collect().new_messages() == ["resource none isstable=0 info=shutdown"]
        assert "Giving up all HA resources." in caplog.messages
        a.finish_ops()
    assert a.shutdown_answers == [True] and not a.running
    assert "All HA resources relinquished." in caplog.messages
    # the peer
    assert b.hear("resource none isstable=0 info=shutdown", A).new_messages() == []
    with caplog.at_level(logging.INFO, logger="proto.nodeb"):
        assert b.hear("shutdone", A).new_messages() == [
            "resource all isstable=1 info=req_our_resources()"]
        assert [op.purpose for op in b.ops] == ["standby", "mach_down"]
        b.finish_ops()
        assert b.new_messages() == ["ask_resources all done", "resource all isstable=1",
                                    "resource foreign info=mach_down"]
    assert b.running == {VIP}
    assert f"Received shutdown notice from '{A}'." in caplog.messages
    # then silence: the peer is declared dead and has given everything up
    with caplog.at_level(logging.INFO, logger="proto.nodeb"):
        b.status(A, "dead")
    assert b.new_messages() == [f"stonith node={A} result=unneeded"]
    assert f"Dead node {A} gave up resources." in caplog.messages
    assert b.p.rscstatus() == "all"


def test_shutdown_waits_for_resource_activity(clock, caplog):
    a, b = started_pair(clock)
    a.standby()
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        a.p.shutdown()
        assert "Shutdown delayed until current resource activity finishes." in caplog.messages
    assert a.collect().shutdown_answers == []
    settle(a, b)
    a.finish_ops()
    assert a.shutdown_answers == [True]


def test_shutdown_during_the_start_delay_waits_for_it(clock, caplog):
    b = Node(B, clock)
    b.status(A, "active")
    b.comm_up()
    b.hear("starting", A), b.hear("resource none isstable=0", A)
    with caplog.at_level(logging.WARNING, logger="proto.nodeb"):
        b.p.shutdown()
    assert "Shutdown delayed until current resource activity finishes." in caplog.messages
    assert b.collect().shutdown_answers == []
    b.tick(10.1)            # RQSTDELAY: stable, nothing to take
    assert b.shutdown_answers == []         # the other node is still in transition
    b.hear("resource local isstable=1", A)
    b.finish_ops()
    assert b.shutdown_answers == [True]
    assert b.sent[-1] == "resource none isstable=0 info=shutdown"


# ---- what the capture does not show ---------------------------------------------------------

def test_standby_without_reply_is_cancelled_after_10_s(clock, caplog):
    a, b = started_pair(clock)
    a.standby()
    a.tick(9)
    assert a.p.rscstatus() == "transition"
    with caplog.at_level(logging.WARNING, logger="proto.nodea"):
        a.tick(1.1)
    assert "No reply to standby request.  Standby request cancelled." in caplog.messages
    assert a.p.rscstatus() == "local" and a.running == {VIP}


def test_second_standby_request_during_one_is_ignored(clock, caplog):
    a, b = started_pair(clock)
    a.standby()
    with caplog.at_level(logging.WARNING, logger="proto.nodea"):
        a.standby()
    assert any(m.startswith(f"Standby in progress- new request from {A} ignored")
               for m in caplog.messages)


def test_standby_request_while_the_other_is_unstable_is_ignored(clock, caplog):
    a, b = started_pair(clock)
    a.hear("resource none isstable=0", B)
    with caplog.at_level(logging.WARNING, logger="proto.nodea"):
        assert a.hear("ask_resources all me", B).new_messages() == []
    assert f"standby message [me] from {B} ignored.  Other side is in flux." in caplog.messages


def test_failed_stop_during_standby_keeps_the_group_and_never_says_done(clock, caplog):
    a, b = started_pair(clock)
    a.fail_stop.add(VIP)
    a.standby()
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        settle(a, b)
    assert "ask_resources all done" not in a.sent
    assert a.running == {VIP} and not b.running
    assert any("could not be released" in m for m in caplog.messages)
    assert a.sent[-1] == "resource local isstable=1"
    assert a.p.rscstatus() == "local"


def test_failed_stop_at_shutdown_cancels_the_shutdown(clock):
    a, b = started_pair(clock)
    a.fail_stop.add(VIP)
    a.p.shutdown()
    a.collect().finish_ops()
    assert a.shutdown_answers == [False]
    assert a.running == {VIP}
    assert a.new_messages() == ["resource none isstable=0 info=shutdown", "resource local isstable=1"]
    assert a.p.rscstatus() == "local"
    # fixed by hand: a second shutdown releases it
    a.fail_stop.clear()
    a.p.shutdown()
    a.collect().finish_ops()
    assert a.shutdown_answers == [False, True] and not a.running


def test_failed_start_hands_the_group_to_the_other_node(clock):
    timers = Timers(failed_start_standby=3.0)
    a, b = Node(A, clock, timers=timers), Node(B, clock, timers=timers)
    a.fail_start.add(VIP)
    for x, y in ((a, B), (b, A)):
        x.status(y, "active")
    b.comm_up(), a.comm_up()
    settle(a, b)
    clock.t += 10
    a.tick(), b.tick()
    settle(a, b)
    assert not a.running and not b.running
    clock.t += 3
    a.tick()
    assert a.new_messages() == ["ask_resources local me"]
    a.outbox.append(AskResources("local", "me"))
    settle(a, b)
    assert b.running == {VIP} and not a.running


def test_slow_start_makes_rscstatus_transition_not_a_failover(clock):
    a, b = started_pair(clock)
    a.standby()
    a.outbox.append(AskResources("all", "me"))
    b.hear("ask_resources all me", A)
    a.hear("ask_resources all other", B)
    a.finish_ops()
    b.hear("ask_resources all done", A)
    assert [op.kind for op in b.ops] == ["take"]
    assert b.p.rscstatus() == "transition"      # while the start runs
    b.tick(60)
    assert b.p.rscstatus() == "transition" and b.ops
    b.finish_ops()
    assert b.new_messages()[-2:] == ["ask_resources all done", "resource all isstable=1"]
    assert b.hear("resource none isstable=1", A).new_messages() == ["resource all isstable=1"]
    assert b.p.rscstatus() == "all"


def test_alone_at_start_takes_everything_after_initdead(clock, caplog):
    a = Node(A, clock, haresources=f"nodeA {VIP}\nnodeB 10.99.0.223\n")
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        a.status(B, "dead")
        # 3.0.6's children send at once, comm up or not
        assert a.new_messages() == [
            f"stonith node={B} result=n_stnth",
            f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK",
            "resource all isstable=1 info=req_our_resources()"]
        assert [op.purpose for op in a.ops] == ["mach_down"]
        assert a.comm_up().new_messages() == ["starting"]
        # our own ip-request-resp is acted on once comm is up
        assert [op.purpose for op in a.ops] == ["mach_down", "ip-request-resp"]
        a.finish_ops()
    assert a.running == {VIP, "10.99.0.223"}
    assert "resource foreign info=mach_down" in a.sent
    a.tick(10.1)
    assert a.p.rscstatus() == "all"


def test_peer_death_cancels_a_pending_standby(clock, caplog):
    a, b = started_pair(clock)
    a.standby()
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        a.status(B, "dead")
    assert "Cancelling pending standby operation" in caplog.messages
    a.finish_ops()
    assert a.running == {VIP}


# ---- legacy (auto_failback legacy): ip-request ----------------------------------------------

def test_legacy_start_asks_the_peer_for_the_group(clock):
    a = Node(A, clock, "legacy")
    a.status(B, "active")
    assert a.comm_up().new_messages() == [f"ip-request ipaddr={VIP}"]
    a.p.message(IpRequestResp(A, VIP, True), B)
    a.collect().finish_ops()
    assert a.running == {VIP}
    assert a.p.rscstatus() == "local"


def test_legacy_alone_takes_directly(clock):
    a = Node(A, clock, "legacy")
    a.status(B, "dead")
    a.comm_up()
    assert f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK" in a.new_messages()
    a.finish_ops()
    assert a.running == {VIP}


def test_legacy_joint_start_takes_directly_once_the_peer_says_up(clock):
    a = Node(A, clock, "legacy")
    a.status(B, "up")
    assert a.comm_up().new_messages() == [f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK"]


def test_legacy_comm_up_before_the_peers_status_waits_for_it(clock):
    # after a quick restart the peer's first packet may be an ack, not its status:
    # "nobody active" would take the group from the node holding it
    a = Node(A, clock, "legacy")
    assert a.comm_up().new_messages() == []
    assert a.status(B, "active").new_messages() == [f"ip-request ipaddr={VIP}"]
    b = Node(A, clock, "legacy")
    b.comm_up()
    assert b.tick(1.9).new_messages() == []
    assert b.tick(0.2).new_messages() == [f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK"]


def test_legacy_owner_gives_the_group_on_request(clock):
    b = Node(B, clock, "legacy")
    b.status(A, "active")
    b.comm_up()
    b.running.add(VIP)
    b.p.message(IpRequest(VIP), A)
    b.collect().finish_ops()
    assert not b.running
    assert b.new_messages() == [f"ip-request-resp dest={A} ipaddr={VIP} weown=yes ok=OK"]
    b.p.message(IpRequest(VIP), A)
    b.collect().finish_ops()
    assert b.new_messages() == [f"ip-request-resp dest={A} ipaddr={VIP} weown=no ok=OK"]


def test_legacy_pair_fails_over_and_back(clock):
    a, b = Node(A, clock, "legacy"), Node(B, clock, "legacy")
    b.comm_up()
    settle(a, b)
    b.running.clear()
    b.standby()
    a.status(B, "active"), b.status(A, "active")
    a.comm_up()
    settle(a, b)
    assert a.running == {VIP} and not b.running
    b.status(A, "dead")
    b.finish_ops()
    assert b.running == {VIP}
    a2 = Node(A, clock, "legacy")
    a2.status(B, "active"), b.status(A, "active")
    a2.comm_up()
    settle(a2, b)
    assert a2.running == {VIP} and not b.running


def test_legacy_has_no_standby(clock, caplog):
    a = Node(A, clock, "legacy")
    a.comm_up()
    with caplog.at_level(logging.INFO, logger="proto.nodea"):
        a.standby()
    assert "Standby mode only implemented when nice_failback on" in caplog.messages


def test_messages_before_comm_up_are_ignored(clock):
    a = Node(A, clock)
    assert a.hear("starting", B).new_messages() == []
    assert a.hear("resource all isstable=1", B).new_messages() == []
    assert a.p.rscstatus() == "transition"    # 3.0.6: the other side is not known stable
