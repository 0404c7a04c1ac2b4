"""Sequence numbers, acknowledgements and retransmission, as heartbeat 3.0.6 runs them
(heartbeat.c should_drop_message / is_lost_packet / process_rexmit, hb_rexmit.c).

Pure bookkeeping: times are passed in (seconds, any monotonic clock), randomness comes
from a `random.Random` the caller owns, nothing is sent or logged here. The daemon
turns the answers into packets and log lines.

Receiving, per peer (`PeerSequence`): a sequenced message is kept when it is the next
one, the first one, or one we were missing; the same number again is a duplicate; a
jump forward records every skipped number as missing and schedules a retransmit
request for each after a random 50..max_rexmit_delay ms (a packet merely overtaken by
the next one costs nothing); a jump of more than 250 starts tracking afresh. The
generation (`hg`) guards all of it: lower than the peer's last one is a replay; a
higher one on a status means the peer restarted.

Sending (`SendHistory`): our last 500 sequenced packets, kept as sent, so that a
retransmission is byte for byte the original; each peer's acknowledgement.
"""
from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

MAX_HISTORY = 500               # MAXMSGHIST
FLOWCONTROL_LIMIT = MAX_HISTORY // 2
ACK_EVERY = 10                  # ACK_MSG_DIV
MAX_MISSING = MAX_HISTORY       # missing numbers remembered per peer
MAX_REXMIT_BATCH = 50           # packets resent for one request


class Action(str, Enum):
    KEEP = "keep"               # process it
    DUPLICATE = "duplicate"     # already had it: counts for link status only
    DROP = "drop"               # ignore it


@dataclass
class Verdict:
    action: Action
    replay: tuple[int, int] | None = None       # (generation seen, generation known)
    restart: bool = False                       # the peer's generation went up
    known_generation: int = 0                   # before this message (0: none yet)
    healed: bool = False                        # same generation from a node we had declared dead
    lost: tuple[int, int] | None = None         # (last seq, this seq) around a new gap
    reset: bool = False                         # gap too large: tracking started afresh
    recovered: bool = False                     # a missing packet arrived
    all_recovered: bool = False                 # ... and it was the last one missing
    ack: int | None = None                      # send NS_ackmsg with this ackseq


@dataclass
class PeerSequence:
    """What we know of one peer's sequence numbers."""

    ack_trigger: int
    max_rexmit_delay: float = 0.25              # seconds
    generation: int = 0
    last_seq: int | None = None
    status_seq: int = 0                         # seq of the last status message kept
    first_missing: int = 0
    missing: dict[int, float] = field(default_factory=dict)    # seq -> when to ask for it

    @classmethod
    def new(cls, rng: random.Random, max_rexmit_delay: float = 0.25) -> PeerSequence:
        return cls(ack_trigger=rng.randrange(ACK_EVERY), max_rexmit_delay=max_rexmit_delay)

    def reset(self) -> None:
        """Forget sequence state (the peer died, restarted, or lost too much); the
        generation is kept: it must never be allowed to go down."""
        self.last_seq = None
        self.first_missing = 0
        self.missing.clear()

    def check(self, seq: int, generation: int, is_status: bool, peer_dead: bool,
              now: float, rng: random.Random, flow_control: bool = True) -> Verdict:
        """Decide about a sequenced message (not NS_*) from this peer."""
        known = self.generation
        if generation < self.generation:
            return Verdict(Action.DROP, replay=(generation, self.generation), known_generation=known)
        restart = healed = False
        if is_status:
            if generation == self.generation and generation > 0 and peer_dead:
                if seq <= self.status_seq:
                    return Verdict(Action.DROP, known_generation=known)     # stale
                healed = True
            elif generation > self.generation:
                restart = True
                self.reset()
                self.status_seq = 0
            self.generation = generation
        verdict = self._place(seq, now, rng, flow_control)
        if verdict.action == Action.DROP and (restart or healed):
            # an old number from a peer that restarted or came back: start over from it
            self.reset()
            self.last_seq = seq
            verdict = Verdict(Action.KEEP, ack=self._ack_for(seq, flow_control))
        verdict.restart, verdict.healed, verdict.known_generation = restart, healed, known
        if is_status and verdict.action == Action.KEEP:
            self.status_seq = seq
        return verdict

    def _place(self, seq: int, now: float, rng: random.Random, flow_control: bool) -> Verdict:
        if self.last_seq is None or seq == self.last_seq + 1:
            self.last_seq = seq
            return Verdict(Action.KEEP, ack=self._ack_for(seq, flow_control))
        if seq == self.last_seq:
            return Verdict(Action.DUPLICATE)
        if seq > self.last_seq:
            last = self.last_seq
            if seq - last - 1 > FLOWCONTROL_LIMIT:
                self.reset()
                self.last_seq = seq
                return Verdict(Action.KEEP, lost=(last, seq), reset=True)
            if not self.first_missing or self.first_missing > last + 1:
                self.first_missing = last + 1
            longest = self.max_rexmit_delay
            shortest = 0.0 if longest < 0.1 else 0.05
            for k in range(last + 1, seq):
                if len(self.missing) >= MAX_MISSING:
                    del self.missing[min(self.missing)]
                self.missing[k] = now + rng.uniform(shortest, longest)
            self.last_seq = seq
            return Verdict(Action.KEEP, lost=(last, seq))
        if seq in self.missing:
            return self._recovered(seq, flow_control)
        return Verdict(Action.DROP)

    def _ack_for(self, seq: int, flow_control: bool) -> int | None:
        if not flow_control:
            return None
        if self.first_missing and seq > self.first_missing:
            return None
        return seq if seq % ACK_EVERY == self.ack_trigger else None

    def _recovered(self, seq: int, flow_control: bool) -> Verdict:
        del self.missing[seq]
        verdict = Verdict(Action.KEEP, recovered=True, all_recovered=not self.missing)
        if seq != self.first_missing:
            return verdict
        old_first = self.first_missing
        self.first_missing = min(self.missing) if self.missing else 0
        upto = self.first_missing - 1 if self.first_missing else self.last_seq
        # the highest number <= upto that this peer's trigger would have acked
        ack = upto - ((upto - self.ack_trigger) % ACK_EVERY)
        if flow_control and ack >= old_first:
            verdict.ack = self._ack_for(ack, flow_control)
        return verdict

    def nak(self, seq: int) -> Verdict:
        """The peer cannot retransmit `seq`: stop waiting for it."""
        if seq in self.missing:
            return self._recovered(seq, flow_control=False)
        return Verdict(Action.DROP)

    def due_requests(self, now: float) -> list[int]:
        """Missing numbers whose retransmit request is due now; each is asked for
        again every max_rexmit_delay while it stays missing."""
        due = sorted(s for s, when in self.missing.items() if when <= now)
        for s in due:
            self.missing[s] = now + self.max_rexmit_delay
        return due

    def next_due(self) -> float | None:
        return min(self.missing.values()) if self.missing else None


@dataclass
class Resend:
    """One answer to a retransmit request."""

    seq: int
    packet: bytes | None = None     # resend these bytes
    nak: str | None = None          # or refuse with this reason (NS_nak_rexmit info)
    too_high: int | None = None     # or just warn: our highest seq is this


class SendHistory:
    """Our sequenced packets (the last MAX_HISTORY), and what each peer acknowledged."""

    def __init__(self, max_rexmit_delay: float = 0.25):
        self.max_rexmit_delay = max_rexmit_delay
        self.last_seq = 0
        self._packets: OrderedDict[int, bytes] = OrderedDict()
        self._resent_at: dict[int, float] = {}
        self.acked: dict[str, int] = {}

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    def record(self, seq: int, packet: bytes) -> None:
        self._packets[seq] = packet
        while len(self._packets) > MAX_HISTORY:
            old, _ = self._packets.popitem(last=False)
            self._resent_at.pop(old, None)

    @property
    def low_seq(self) -> int:
        """The oldest seq still held (0 when none)."""
        return next(iter(self._packets), 0)

    def ack(self, node: str, ackseq: int) -> bool:
        """Record a peer's NS_ackmsg; False when it acknowledges more than we sent."""
        if ackseq > self.last_seq:
            return False
        if ackseq > self.acked.get(node, 0):
            self.acked[node] = ackseq
        return True

    def forget_peer(self, node: str) -> None:
        """A peer died or restarted: its old acknowledgements mean nothing now."""
        self.acked.pop(node, None)

    def unacked(self, live_peers: list[str]) -> int:
        """How many of our packets the slowest live peer has not acknowledged."""
        if not live_peers:
            return 0
        return self.last_seq - min(self.acked.get(p, 0) for p in live_peers)

    def resend(self, node: str, first: int, last: int, now: float) -> list[Resend]:
        """Answer `node`'s NS_rexmit for first..last."""
        answers = []
        # what the peer acknowledged it has; and however wide the request, one batch
        for seq in range(max(first, self.acked.get(node, 0) + 1, 1), last + 1):
            if len(answers) >= MAX_REXMIT_BATCH:
                break
            if seq > self.last_seq:
                answers.append(Resend(seq, too_high=self.last_seq))
                break
            packet = self._packets.get(seq)
            if packet is None:
                reason = "seqno too low" if seq < self.low_seq or not self._packets else "seqno not found"
                answers.append(Resend(seq, nak=reason))
                continue
            previous = self._resent_at.get(seq)
            if previous is not None and now - previous < self.max_rexmit_delay - 0.010:
                continue
            self._resent_at[seq] = now
            answers.append(Resend(seq, packet=packet))
        return answers
