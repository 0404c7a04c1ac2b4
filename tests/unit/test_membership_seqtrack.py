"""Sequence tracking as heartbeat 3.0.6 does it: gaps, retransmit requests, acks,
generations (replays, restarts, healed partitions), and our send history."""
import random

from heartbeat_py.membership.seqtrack import (ACK_EVERY, MAX_HISTORY, Action, PeerSequence,
                                              SendHistory)

RNG = random.Random(7)


def peer(trigger=3):
    return PeerSequence(ack_trigger=trigger, max_rexmit_delay=0.25)


def feed(p, seqs, gen=5, status=False, dead=False, now=0.0):
    return [p.check(s, gen, status, dead, now, RNG) for s in seqs]


def test_in_order_duplicates_and_old_packets():
    p = peer()
    v = feed(p, [7, 8, 8, 9, 4])
    assert [x.action for x in v] == [Action.KEEP, Action.KEEP, Action.DUPLICATE, Action.KEEP,
                                     Action.DROP]


def test_acks_every_tenth_packet_at_the_peers_trigger():
    p = peer(trigger=3)
    acks = [v.ack for v in feed(p, range(1, 30)) if v.ack]
    assert acks == [3, 13, 23]
    assert [v.ack for v in feed(peer(3), [1, 2, 3], gen=5)] == [None, None, 3]
    q = peer(3)
    assert all(q.check(s, 5, False, False, 0, RNG, flow_control=False).ack is None
               for s in range(1, 30))


def test_a_gap_is_recorded_requested_after_a_random_delay_and_repeated():
    p = peer()
    feed(p, [1, 2])
    v = p.check(6, 5, False, False, 10.0, RNG)
    assert v.action == Action.KEEP and v.lost == (2, 6)
    assert sorted(p.missing) == [3, 4, 5] and p.first_missing == 3
    assert all(10.05 <= when <= 10.25 for when in p.missing.values())
    assert p.due_requests(10.04) == []
    assert p.due_requests(10.26) == [3, 4, 5]
    assert p.due_requests(10.3) == []
    assert p.due_requests(10.52) == [3, 4, 5]            # again every max_rexmit_delay


def test_no_ack_while_a_gap_is_open_then_ack_when_it_closes():
    p = peer(trigger=3)
    feed(p, [1, 2])
    feed(p, [5])                                          # 3, 4 missing
    assert p.check(13, 5, False, False, 0, RNG).ack is None   # wait: 6..12 missing too
    p = peer(trigger=3)
    feed(p, range(1, 12))
    p.check(14, 5, False, False, 0, RNG)                  # 12, 13 missing
    assert p.check(13, 5, False, False, 0, RNG).ack is None   # 12 still missing
    v = p.check(12, 5, False, False, 0, RNG)
    assert v.recovered and v.all_recovered and v.ack == 13
    assert p.check(15, 5, False, False, 0, RNG).action == Action.KEEP


def test_a_missing_packet_arriving_late_is_kept_once():
    p = peer()
    feed(p, [1, 3])
    assert p.check(2, 5, False, False, 0, RNG).action == Action.KEEP
    assert p.check(2, 5, False, False, 0, RNG).action == Action.DROP


def test_a_huge_gap_starts_tracking_afresh():
    p = peer()
    feed(p, [1])
    v = p.check(400, 5, False, False, 0, RNG)
    assert v.reset and v.action == Action.KEEP and not p.missing and p.last_seq == 400


def test_nak_stops_the_wait():
    p = peer()
    feed(p, [1, 3])
    assert p.nak(2).all_recovered and not p.missing
    assert p.nak(2).action == Action.DROP


def test_lower_generation_is_a_replay_for_every_sequenced_message():
    p = peer()
    feed(p, [1], gen=10, status=True)
    v = p.check(2, 9, False, False, 0, RNG)
    assert v.action == Action.DROP and v.replay == (9, 10)
    assert p.generation == 10


def test_higher_generation_on_a_status_is_a_restart():
    p = peer()
    feed(p, range(1, 50), gen=10, status=True)
    v = p.check(1, 11, True, False, 0, RNG)
    assert v.restart and v.known_generation == 10 and v.action == Action.KEEP
    assert p.generation == 11 and p.last_seq == 1
    assert p.check(2, 11, False, False, 0, RNG).action == Action.KEEP
    # only statuses move the generation
    q = peer()
    feed(q, [1], gen=10, status=True)
    q.check(2, 12, False, False, 0, RNG)
    assert q.generation == 10


def test_same_generation_from_a_dead_node_is_a_healed_partition_unless_stale():
    p = peer()
    feed(p, [1, 2, 3], gen=10, status=True)
    p.reset()                               # the daemon resets a peer it declares dead
    assert p.check(3, 10, True, True, 0, RNG).action == Action.DROP      # stale status
    v = p.check(9, 10, True, True, 0, RNG)
    assert v.healed and v.action == Action.KEEP


def test_history_resends_the_same_bytes_and_refuses_what_it_cannot():
    h = SendHistory(max_rexmit_delay=0.25)
    for _ in range(MAX_HISTORY + 20):
        seq = h.next_seq()
        h.record(seq, b"pkt%d" % seq)
    assert h.low_seq == 21
    answers = h.resend("beta", 10, 10, now=1.0)
    assert answers[0].nak == "seqno too low"
    answers = h.resend("beta", 100, 101, now=1.0)
    assert [a.packet for a in answers] == [b"pkt100", b"pkt101"]
    assert h.resend("beta", 100, 100, now=1.1) == []          # resent just now
    assert h.resend("beta", 100, 100, now=1.3)[0].packet == b"pkt100"
    assert h.resend("beta", 600, 600, now=2)[0].too_high == MAX_HISTORY + 20
    assert h.ack("beta", 200) and not h.ack("beta", 10 ** 6)
    assert h.resend("beta", 150, 150, now=3) == []             # it acked that already
    assert h.unacked(["beta"]) == MAX_HISTORY + 20 - 200
    h.forget_peer("beta")
    assert h.unacked(["beta"]) == MAX_HISTORY + 20


def test_ack_every_constant_is_heartbeats():
    assert ACK_EVERY == 10


def test_a_huge_retransmit_request_costs_one_batch():
    h = SendHistory()
    for _ in range(2000):
        seq = h.next_seq()
        h.record(seq, b"x")
    answers = h.resend("beta", 1, 10 ** 12, now=0)
    assert len(answers) == 50 and all(a.nak == "seqno too low" for a in answers)
    h.ack("beta", 1990)
    answers = h.resend("beta", 1, 10 ** 12, now=0)
    assert [a.seq for a in answers if a.packet] == list(range(1991, 2001))
    assert answers[-1].too_high == 2000
