"""ipfail, built in: a node that sees fewer ping nodes than its peer gives its
resources up.

heartbeat 3.0.6 left this to a separate client, ipfail (`respawn hacluster
/usr/lib/heartbeat/ipfail`), talking to the daemon through the API. We keep its
behaviour and its messages but run it inside the daemon, switched on by that same
respawn line (the daemon then does not start the program). What it does:

* whenever our count of reachable ping nodes changes, and at comm-up, it sends the
  peer `num_ping_nodes num_ping=N`;
* a node receiving that compares with its own count: more → it answers
  `you_are_dead`; fewer → it gives up all its resources; equal → it answers
  `abort_giveup` (cancelling a pending give-up on both sides) and, with
  `auto_failback on`, gives back foreign resources it holds;
* `you_are_dead` makes the receiver give up all its resources;
* giving up waits 2 × keepalive, then starts the standby protocol
  (`ask_resources rsc_hold=... info=me`), retried every second while resources
  are in transition.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..wire import Message
from ..wire import fields as F
from . import holdings as H

T_NUMPING, T_YOU_ARE_DEAD, T_ABORT = "num_ping_nodes", "you_are_dead", "abort_giveup"
MESSAGE_TYPES = frozenset({T_NUMPING, T_YOU_ARE_DEAD, T_ABORT})
F_NUMPING = "num_ping"
RETRY_S = 1.0


@dataclass
class _Giveup:
    rset: int
    due: float


class PingFailover:
    def __init__(self, me: str, send: Callable[[Message], None], standby: Callable[[str], None],
                 is_stable: Callable[[], bool], holds: Callable[[], int], log: logging.Logger,
                 clock: Callable[[], float], *, delay: float, auto_failback: bool):
        self.me = me
        self.send = send
        self.standby = standby
        self.is_stable = is_stable
        self.holds = holds
        self.log = log
        self.clock = clock
        self.delay = delay
        self.auto_failback = auto_failback
        self.count: int | None = None
        self.peers: list[str] = []
        self.pending: _Giveup | None = None

    def _to_peers(self, kind: str, **fields) -> None:
        for peer in self.peers:
            msg = Message()
            msg.add(F.F_TYPE, kind)
            msg.add(F.F_TO, peer)
            for name, value in fields.items():
                msg.add(name, value)
            self.send(msg)

    def ask(self) -> None:
        """Tell the peer how many ping nodes we see (ipfail's ask_ping_nodes)."""
        if self.count is None:
            return
        self.log.info("Asking other side for ping node count.")
        self._to_peers(T_NUMPING, **{F_NUMPING: str(self.count)})

    def begin(self, count: int, peers: list[str]) -> None:
        """Comm is up: compare counts with the peer once."""
        self.peers, self.count = peers, count
        self.ask()

    def local_count(self, count: int, peers: list[str]) -> None:
        self.peers = peers
        changed = count != self.count
        self.count = count
        if changed:
            self.ask()

    def message(self, msg: Message, src: str) -> None:
        kind = msg.get(F.F_TYPE)
        if src == self.me or self.count is None:
            return
        if kind == T_NUMPING:
            try:
                theirs = int(msg.get(F_NUMPING, ""))
            except ValueError:
                self.log.warning("%s from %s without a count", T_NUMPING, src)
                return
            if self.count > theirs:
                self.log.info("Telling other node that we have more visible ping nodes.")
                self._to_peers(T_YOU_ARE_DEAD)
            elif self.count < theirs:
                self.log.info("Giving up because we have less visible ping nodes.")
                self._giveup_later(H.ALL)
            else:
                self.log.info("Ping node count is balanced.")
                self._to_peers(T_ABORT)
                if self.pending is not None:
                    self._abort()
                elif self.auto_failback and self.is_stable() and self.holds() & H.FOREIGN:
                    self.log.info("Giving up foreign resources (auto_failback).")
                    self._giveup_later(H.FOREIGN)
        elif kind == T_YOU_ARE_DEAD:
            self.log.info("Giving up because we were told that we have less ping nodes.")
            self._giveup_later(H.ALL)
        elif kind == T_ABORT:
            self._abort()

    def _giveup_later(self, rset: int) -> None:
        self.log.info("Delayed giveup in %g seconds.", self.delay)
        self.pending = _Giveup(rset, self.clock() + self.delay)

    def _abort(self) -> None:
        if self.pending is not None:
            self.log.info("Aborted delayed giveup.")
        self.pending = None

    def next_deadline(self) -> float | None:
        return self.pending.due if self.pending else None

    def tick(self) -> None:
        if self.pending is None or self.clock() < self.pending.due:
            return
        if not self.is_stable():
            self.pending.due = self.clock() + RETRY_S
            return
        rset, self.pending = self.pending.rset, None
        if not self.holds() & rset:
            return      # nothing of that set is here: nothing to hand over
        self.log.info("Going standby [%s].", H.name(rset))
        self.standby(H.name(rset))
