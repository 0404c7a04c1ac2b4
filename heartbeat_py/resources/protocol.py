"""heartbeat 3.0.6's v1 resource protocol as a state machine driven by events.

Events in: comm up, peer status changes, peer messages, tool requests (hb_standby,
hb_takeover, shutdown), completions of group operations, and the clock (`tick`).
Actions out (`take_actions()`): messages to send, group operations to run (the
manager runs them one at a time, in order, and reports each back with
`operation_done`), and the answer to a shutdown request. No I/O, no asyncio: the
clock is a function given to the constructor, so the tests drive it by hand.

The states, flags, messages and log lines are those of 3.0.6's hb_resource.c and of
the scripts it forked (req_our_resources, ResourceManager, mach_down, rc.d/*), see
docs/heartbeat-protocol.md §7-§8 and docs/heartbeat-resources.md. Two modes:
`auto_failback on|off` is nice_failback (the `starting`/`resource` handshake and the
three-phase standby protocol); `legacy` is the older `ip-request` protocol.

3.0.6 processed its own messages like a peer's, some of them only after the current
one was done; we keep that order: the effects of our own `resource`,
`ask_resources` and `ip-request-resp` messages (`_later`), and then the work 3.0.6
did in forked children (`_children`), run after the event that caused them, before
control returns to the caller.
"""
from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from ..config.haresources import ResourceGroup
from ..wire import fields as F
from ..wire.kinds import (AskResources, IpRequest, IpRequestResp, Kind, Resources, ShutDone,
                          Starting, Stonith, Takeover)
from . import holdings as H
from .holdings import ALL, FOREIGN, LOCAL, NONE

RQSTDELAY_S = 10.0                  # wait for a stable peer before taking local groups
STANDBY_REPLY_S = 10.0              # no `other` within this: standby request cancelled
STANDBY_RESOURCE_S = 3600.0         # the rest of a standby exchange
AUTO_FAILBACK_RETRY_S = 1.0
FAILED_START_STANDBY_S = 30.0       # ResourceManager: `sleep 30; hb_standby` after a failed start
PEER_STATUS_WAIT_S = 2.0            # legacy: how long comm-up waits for a heard peer's status
RSC_MGR = "/usr/share/heartbeat/ResourceManager"    # named in 3.0.6's log lines


class RState(IntEnum):
    """hb_rsc_state (the numbers appear in 3.0.6's error lines)."""
    INIT = 0
    STARTING = 1
    BOTHSTARTING = 2
    RSCRCVD = 3
    STABLE = 4
    SHUTDOWN = 5


class Standby(IntEnum):
    NOT = 0
    ME = 1
    OTHER = 2
    DONE = 3


# ---- what the machine asks for --------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """Group work for the manager: `take` (acquire each group) or `give` (release
    each), in the order given. `purpose` says what completes it."""

    serial: int
    kind: str                               # take | give | yield
    groups: tuple[ResourceGroup, ...]
    purpose: str                            # ip-request-resp | mach_down | standby | shutdown | ip-request
    rset: int = NONE                        # standby: the set the done message names
    act: int = NONE                         # standby: the set acted on (for the log line)
    node: str | None = None                 # mach_down: the dead node; ip-request: the asker


@dataclass(frozen=True)
class Send:
    message: Kind


@dataclass(frozen=True)
class Run:
    operation: Operation


@dataclass(frozen=True)
class ShutdownReady:
    """The answer to shutdown(): released=True, the daemon may send shutdone and exit;
    False, a resource could not be stopped: it must keep running (and heartbeating)."""
    released: bool


@dataclass(frozen=True)
class GroupResult:
    """What the manager reports per group of an operation."""
    group: ResourceGroup
    ok: bool
    stop_failed: bool = False
    owned: bool = True                      # yield: whether it was running here


@dataclass
class Timers:
    rqstdelay: float = RQSTDELAY_S
    standby_reply: float = STANDBY_REPLY_S
    standby_resource: float = STANDBY_RESOURCE_S
    auto_failback_retry: float = AUTO_FAILBACK_RETRY_S
    peer_status_wait: float = PEER_STATUS_WAIT_S
    failed_start_standby: float = FAILED_START_STANDBY_S


def _upd(full: bool, current: int, update: int) -> int:
    """A full `resource` message replaces what we knew, a partial one adds to it."""
    if full:
        return update
    return NONE if update == NONE else update | current


class ResourceProtocol:
    def __init__(self, me: str, groups: Iterable[ResourceGroup], auto_failback: str,
                 log: logging.Logger, clock: Callable[[], float], *,
                 timers: Timers | None = None, peers: Iterable[str] = ()):
        self.me = me
        self.peers = [p for p in peers if p != me]
        self.groups = list(groups)
        self.nice = auto_failback in ("on", "off")
        self.auto_failback = auto_failback == "on"
        self.log = log
        self.clock = clock
        self.timers = timers or Timers()
        self._actions: list = []
        self._later: deque[Callable[[], None]] = deque()       # our own messages
        self._children: deque[Callable[[], None]] = deque()    # what 3.0.6 forked for
        self._depth = 0
        self._serial = itertools.count(1)
        self.pending_ops: dict[int, Operation] = {}
        # 3.0.6's globals, same meaning
        self.state = RState.INIT
        self.i_hold = NONE
        self.other_holds = NONE
        self.other_is_stable = False
        self.takeover_in_progress = False
        self.going_standby = Standby.NOT
        self.standby_running: float | None = None
        self.standby_rsctype = ALL
        self.rsc_needs_failback = False
        self.rsc_needs_shutdown = False
        self.shutdown_in_progress = False
        self.shutdown_underway = False
        self.local_takeover_time: float | None = None
        self.local_work_done = False
        self.foreign_work_done = False
        self.announced = False
        self.comm_up_seen = False
        self._before_comm: list[Kind] = []
        self.requested_yet = False
        self.legacy_wait: float | None = None       # legacy comm-up waiting for peer statuses
        self.peer_status: dict[str, str] = {}
        self.heard: dict[str, bool] = {}            # anypacketsyet
        self.has_resources: dict[str, bool] = {}    # legacy: peer may hold its groups
        self.failback_due: float | None = None
        self.failed_start_due: dict[int, float] = {}
        self.stop_failed: set[str] = set()          # group keys we could not release
        self.held: set[str] = set()                 # group keys running here, as far as we know

    # ---- plumbing ------------------------------------------------------------------

    def take_actions(self) -> list:
        actions, self._actions = self._actions, []
        return actions

    def _event(self, work: Callable[[], None]) -> None:
        """Run one event and everything it caused, like 3.0.6's main loop would."""
        self._depth += 1
        try:
            work()
            if self._depth == 1:
                # our own messages come back before a forked child has done its work
                while self._later or self._children:
                    (self._later or self._children).popleft()()
        finally:
            self._depth -= 1

    def _send(self, message: Kind, *, loopback: bool = False) -> None:
        self._actions.append(Send(message))
        if loopback:
            self._later.append(lambda: self._dispatch(message, self.me))

    def _run(self, kind: str, groups: Iterable[ResourceGroup], purpose: str, **extra) -> Operation:
        op = Operation(next(self._serial), kind, tuple(groups), purpose, **extra)
        self.pending_ops[op.serial] = op
        self._actions.append(Run(op))
        return op

    def _group(self, key: str) -> ResourceGroup | None:
        return next((g for g in self.groups if g.key == key), None)

    def _groups_of_node(self, node: str) -> list[ResourceGroup]:
        return [g for g in self.groups if g.node == node]

    def _local_groups(self) -> list[ResourceGroup]:
        return self._groups_of_node(self.me)

    def _bits_of(self, group: ResourceGroup) -> int:
        return LOCAL if group.node == self.me else FOREIGN

    def _send_held(self, stable: bool, info: str | None = None) -> None:
        if self.nice:
            self._send(Resources.held(H.name(self.i_hold), stable, info), loopback=True)

    # ---- status for the outside ------------------------------------------------------

    def is_stable(self) -> bool:
        """hb_rsc_isstable."""
        busy = bool(self.pending_ops or self._children)     # 3.0.6's ResourceMgmt_child_count
        if not self.nice:
            return not busy
        if self.shutdown_in_progress and self.state == RState.INIT:
            return True
        return (self.other_is_stable and not self.takeover_in_progress
                and self.going_standby == Standby.NOT and self.standby_running is None
                and not busy
                and self.state in (RState.STABLE, RState.SHUTDOWN, RState.INIT))

    def rscstatus(self) -> str:
        """What `cl_status rscstatus` prints."""
        return H.name(self.i_hold) if self.is_stable() else "transition"

    def next_deadline(self) -> float | None:
        due = [t for t in (self.standby_running, self.failback_due, self.legacy_wait,
                           *self.failed_start_due.values()) if t is not None]
        if self.nice and self.state == RState.RSCRCVD and self.local_takeover_time is not None:
            due.append(self.local_takeover_time)
        return min(due) if due else None

    # ---- events ------------------------------------------------------------------------

    def comm_up(self) -> None:
        self._event(self._comm_up)

    def _comm_up(self) -> None:
        self.comm_up_seen = True
        if not any(s == F.STATUS_DEAD for s in self.peer_status.values()):
            # everyone is up: nobody's groups need taking over
            self.foreign_work_done = True
        if self.nice:
            self._send(Starting())
            self.state = RState.STARTING
        elif not self.requested_yet:
            if self._peers_unknown():
                # A peer was heard but its status is not known yet: taking our groups
                # now "because nobody is active" could take them from a holder (a race
                # 3.0.6 has after a quick restart). Wait a little for its status.
                self.legacy_wait = self.clock() + self.timers.peer_status_wait
            else:
                self._legacy_request()
        for message in self._before_comm:
            self._later.append(lambda m=message: self._dispatch(m, self.me))
        self._before_comm.clear()

    def _peers_unknown(self) -> bool:
        return any(p not in self.peer_status for p in self.peers)

    def _legacy_request(self) -> None:
        self.legacy_wait = None
        self.requested_yet = True
        self._req_our_resources(False)

    def node_status(self, node: str, new: str) -> None:
        self._event(lambda: self._node_status(node, new))

    def _node_status(self, node: str, new: str) -> None:
        old = self.peer_status.get(node)
        self.peer_status[node] = new
        if self.legacy_wait is not None and not self._peers_unknown():
            self._legacy_request()
        if new != F.STATUS_DEAD:
            self.heard[node] = True
            return
        if old != F.STATUS_DEAD:
            self._recover_dead(node)
            self.heard[node] = False

    def node_restarted(self, node: str) -> None:
        self.has_resources[node] = True

    def message(self, message: Kind, src: str) -> None:
        """A parsed message from a peer (never one of ours: those loop back inside)."""
        self._event(lambda: self._dispatch(message, src))

    def tick(self) -> None:
        self._event(self._tick)

    def standby(self, which: str) -> None:
        """hb_standby: ask the peer to take `which` (all|local|foreign)."""
        self._event(lambda: self._go_standby_request(which))

    def takeover(self, which: str) -> None:
        """hb_takeover: ask the peer to give us `which`, from our point of view."""
        self._event(lambda: self._send(Takeover(which)))

    def shutdown(self) -> None:
        self._event(self._giveup_resources)

    def operation_done(self, op: Operation, results: list[GroupResult]) -> None:
        self._event(lambda: self._operation_done(op, results))

    # ---- messages ------------------------------------------------------------------------

    def _dispatch(self, message: Kind, src: str) -> None:
        from_me = src == self.me
        if isinstance(message, ShutDone):
            if not from_me:
                self._peer_shutdone(src)
            return
        if not self.comm_up_seen:
            # 3.0.6 hooks these messages in only at comm-up; its own ones came back
            # through the network later, by then comm was up
            if from_me:
                self._before_comm.append(message)
            return
        if isinstance(message, (Starting, Resources)):
            self._process_resources(message, src, from_me)
        elif isinstance(message, AskResources):
            self._ask_for_resources(message, src, from_me)
        elif isinstance(message, IpRequest):
            if not from_me:
                self._peer_ip_request(message, src)
        elif isinstance(message, IpRequestResp):
            self._ip_request_resp(message, src)
        elif isinstance(message, Takeover):
            if not from_me:
                self._peer_takeover(message)
        # stonith and anything else: nothing for v1 resources to do

    def _process_resources(self, message: Kind, src: str, from_me: bool) -> None:
        self._shutdown_if_needed()
        if not self.nice:
            return
        new = self.state
        if isinstance(message, Starting):
            if from_me:
                return
            if self.state == RState.STARTING:
                new = RState.BOTHSTARTING
                self.foreign_work_done = True
                self._announce("HB_R_BOTHSTARTING")
            elif self.state not in (RState.RSCRCVD, RState.STABLE, RState.SHUTDOWN):
                self.log.error("Received '%s' message in state %d", F.T_STARTING, self.state)
                return
            self.other_is_stable = False
            if self.takeover_in_progress:
                self.log.warning("T_STARTING received during takeover.")
            self._send_held(self.state == RState.STABLE)
        else:
            n = H.parse(message.rsc_hold)
            full = message.rtype == "full"
            if self.state in (RState.STARTING, RState.BOTHSTARTING):
                new = RState.RSCRCVD
                if not self.auto_failback:
                    self.foreign_work_done = True
                    self._announce("T_RESOURCES")
            elif self.state not in (RState.RSCRCVD, RState.STABLE, RState.SHUTDOWN):
                self.log.error("%s message received in state %d", F.T_RESOURCES, self.state)
                return
            if not from_me:
                new = self._peer_resources(message, n, full, new)
            else:
                new = self._own_resources(message, n, full, new)
        self.state = new
        if self.state == RState.RSCRCVD and self.local_takeover_time is None:
            self.local_takeover_time = self.clock() + self.timers.rqstdelay
        self._audit()
        self._shutdown_if_needed()

    def _peer_resources(self, message: Resources, n: int, full: bool, new: RState) -> RState:
        self.other_holds = _upd(full, self.other_holds, n)
        if message.stable is not None:
            if message.stable:
                if not self.other_is_stable:
                    self.log.info("remote resource transition completed.")
                    self.other_is_stable = True
                    self._send_held(self.state == RState.STABLE)
                    self._perform_auto_failback()
            else:
                self.other_is_stable = False
        if self.state not in (RState.STABLE, RState.SHUTDOWN) and self.other_is_stable:
            self.log.info("remote resource transition completed.")
            self._req_our_resources(False)
            new = RState.STABLE
            self._send_held(True)
            self._perform_auto_failback()
            self.foreign_work_done = True
            if not self.auto_failback and self.other_holds & FOREIGN:
                self.local_work_done = True
            self._announce("T_RESOURCES(them)")
        return new

    def _own_resources(self, message: Resources, n: int, full: bool, new: RState) -> RState:
        self.i_hold = _upd(full, self.i_hold, n)
        if self.i_hold & LOCAL:
            self.local_work_done = True
            self._announce("T_RESOURCES(us)")
        if message.info == "mach_down":
            self.log.info("mach_down takeover complete.")
            self.takeover_in_progress = False
            self.i_hold |= FOREIGN
            self.rsc_needs_failback = True
            self.other_is_stable = True
            self.foreign_work_done = True
            self._announce("mach_down")
        elif message.info == "shutdown":
            self.state = new = RState.SHUTDOWN
        return new

    def _peer_shutdone(self, node: str) -> None:
        if self.comm_up_seen and self.nice:
            self.other_is_stable = True
            self.other_holds = NONE
            if self.i_hold != ALL and not self.shutdown_in_progress:
                missing = {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(self.i_hold, ALL)
                self.going_standby = Standby.DONE
                self._go_standby(Standby.OTHER, missing, view_is_ours=True)
            self._audit()
        self.has_resources[node] = False
        self.other_is_stable = False
        self.other_holds = NONE
        self.log.info("Received shutdown notice from '%s'.", node)
        self._takeover_from_node(node)

    # ---- taking resources ---------------------------------------------------------------

    def _req_our_resources(self, getthemanyway: bool) -> None:
        if self.shutdown_in_progress:
            return
        if self.nice:
            someone_has_them = self.other_holds & FOREIGN or self.i_hold & LOCAL
            if someone_has_them and not getthemanyway and self.going_standby == Standby.NOT:
                self.log.info("Local Resource acquisition completed. (none)")
                return
            self.i_hold |= LOCAL
        alone = sum(1 for s in self.peer_status.values() if s == F.STATUS_ACTIVE) == 0
        self._children.append(lambda: self._req_our_resources_child(alone))

    def _req_our_resources_child(self, alone: bool) -> None:
        """What 3.0.6's forked req_our_resources() did: req_resource per local group."""
        groups = self._local_groups()
        for group in groups:
            if self.nice or alone:
                # "pretend the current owner gave it up peacefully"
                self._send(IpRequestResp(self.me, group.key, True), loopback=True)
            else:
                self._send(IpRequest(group.key))
        if not groups:
            self.log.info("No local resources [%s listkeys %s] to acquire.", RSC_MGR, self.me)
        else:
            self.log.info("Local Resource acquisition completed.")
        self._send_held(True, "req_our_resources()")
        self.local_work_done = True
        self._announce("req_our_resources")
        self._shutdown_if_needed()

    def _ip_request_resp(self, message: IpRequestResp, src: str) -> None:
        if self.shutdown_in_progress or message.dest != self.me:
            return
        self.log.info("received %s %s %s %s", F.T_ACKRELEASE, message.ipaddr, message.ok,
                      "yes" if message.weown else "no")
        group = self._group(message.ipaddr)
        if message.ok == "OK" and group is not None:
            self._run("take", [group], F.T_ACKRELEASE)

    def _peer_ip_request(self, message: IpRequest, src: str) -> None:
        group = self._group(message.ipaddr)
        if group is None:
            self._send(IpRequestResp(src, message.ipaddr, False))
            return
        self._run("yield", [group], F.T_ASKRELEASE, node=src)

    def _recover_dead(self, node: str) -> None:
        """hb_rsc_recover_dead_resources."""
        if self.going_standby != Standby.NOT:
            self.log.info("Cancelling pending standby operation")
            self.going_standby = Standby.NOT
            self.standby_running = None
            if not self.other_is_stable and self.i_hold == ALL:
                self.other_is_stable = True
            self._shutdown_if_needed()
        if self.shutdown_in_progress:
            if self.state in (RState.SHUTDOWN, RState.STABLE):
                return
            if self.state not in (RState.INIT, RState.BOTHSTARTING, RState.RSCRCVD,
                                  RState.STARTING):
                self.log.error("recover_dead_resources() during shutdown: state %d", self.state)
            self._giveup_resources()
            return
        self.rsc_needs_failback = True
        need_stonith = True
        if self.heard.get(node):
            if self.nice:
                need_stonith = self.other_holds != NONE
            else:
                need_stonith = self.has_resources.get(node, True)
        if need_stonith:
            # STONITH is not offered: as 3.0.6 without a device
            self._send(Stonith(node, F.STONITH_NOTCONFGD))
            self.log.warning("No STONITH device configured.")
            self.log.warning("Shared disks are not protected.")
            self._takeover_from_node(node)
            return
        self.log.info("Dead node %s gave up resources.", node)
        self._send(Stonith(node, F.STONITH_UNNEEDED))
        if not self.nice:
            self._takeover_from_node(node)
            return
        if self.i_hold == ALL:
            self.other_is_stable = True
            return
        if not self.i_hold & LOCAL:
            self._req_our_resources(True)
        if not self.i_hold & FOREIGN:
            self._takeover_from_node(node)

    def _takeover_from_node(self, node: str) -> None:
        if self.shutdown_in_progress:
            self.log.info("Resource takeover cancelled - shutdown in progress.")
            self._shutdown_if_needed()
            return
        self.log.info("Resources being acquired from %s.", node)
        self._run("take", self._groups_of_node(node), "mach_down", node=node)
        if self.nice:
            self.i_hold |= FOREIGN
            self.other_holds = NONE
            self.other_is_stable = True
            self.takeover_in_progress = True
        self._req_our_resources(True)
        self.heard[node] = True

    # ---- standby ----------------------------------------------------------------------

    def _go_standby_request(self, which: str) -> None:
        """What the hb_standby script did: send `ask_resources rsc_hold=which info=me`."""
        self._send(AskResources(which, F.STANDBY_ME), loopback=True)

    def _peer_takeover(self, message: Takeover) -> None:
        """rc.d/hb_takeover: the peer wants its set; we go standby for the mirror set."""
        mirror = {"all": "all", "local": "foreign", "foreign": "local",
                  "failback": "foreign"}.get(message.rsc_hold, "all")
        self.log.info("Going standby [%s].", mirror)
        self._go_standby_request(mirror)

    def _ask_for_resources(self, message: AskResources, src: str, from_me: bool) -> None:
        if not self.nice:
            self.log.info("Standby mode only implemented when nice_failback on")
            return
        if self.state == RState.SHUTDOWN:
            return
        info = message.info
        rtype = H.parse(message.rsc_hold, ALL) if message.rsc_hold is not None else ALL
        now = self.clock()
        original = self.going_standby
        ignored = False
        if self.standby_running is not None and now < self.standby_running and info == "me":
            left = int((self.standby_running - now) * 1000)
            self.log.warning("Standby in progress- new request from %s ignored [%d seconds left]",
                             src, (left + 999) // 1000)
            return
        if self.going_standby == Standby.NOT:
            if not self.other_is_stable:
                self.log.warning("standby message [%s] from %s ignored.  Other side is in flux.",
                                 info, src)
                return
            if self.state != RState.STABLE:
                self.log.warning("standby message [%s] from %s ignored.  local resources in flux.",
                                 info, src)
                return
            self.standby_rsctype = rtype
            if info == "me":
                self.other_is_stable = False
                self.log.info("%s wants to go standby [%s]", src, H.name(rtype))
                if from_me:
                    self.standby_running = now + self.timers.standby_reply
                    self.going_standby = Standby.ME
                else:
                    self.going_standby = Standby.OTHER
                    self._send(AskResources(H.name(self.standby_rsctype), F.STANDBY_OTHER),
                               loopback=True)
                    self.standby_running = now + self.timers.standby_resource
            else:
                ignored = True
        elif self.going_standby == Standby.ME:
            if not from_me:
                self.standby_rsctype = rtype
                self.standby_running = now + self.timers.standby_resource
                if info == "other":
                    self.log.info("standby: %s can take our %s resources", src, H.name(rtype))
                    self._go_standby(Standby.ME, rtype)
                else:
                    ignored = True
            elif info == "done":
                self.log.info("Local standby process completed [%s].", H.name(rtype))
                self.going_standby = Standby.DONE
                self.i_hold &= ~self.standby_rsctype
                self.standby_running = now + self.timers.standby_resource
            else:
                ignored = True
        elif self.going_standby == Standby.OTHER:
            self.standby_rsctype = rtype
            if info == "done":
                self.standby_running = now + self.timers.standby_resource
                if not from_me:
                    self.log.info("standby: acquire [%s] resources from %s", H.name(rtype), src)
                    self._go_standby(Standby.OTHER, self.standby_rsctype)
                    self.going_standby = Standby.DONE
                else:
                    ignored = True
            elif not from_me or info != "other":
                ignored = True
        else:   # DONE
            self.standby_rsctype = rtype
            if info == "done":
                self.standby_running = None
                self.going_standby = Standby.NOT
                if from_me:
                    self.log.info("Standby resource acquisition done [%s].", H.name(rtype))
                    if self.auto_failback:
                        self.local_work_done = True
                        self._announce("auto_failback")
                    self.i_hold |= H.mirror(rtype)
                else:
                    self.log.info("Other node completed standby takeover of %s resources.",
                                  H.name(rtype))
                self._send_held(True)
                self.going_standby = Standby.NOT
            else:
                ignored = True
        if ignored:
            self.log.error("Ignored standby message '%s' from %s in state %d", info, src, original)
        self._shutdown_if_needed()

    def _go_standby(self, who: Standby, rset: int, *, view_is_ours: bool = False) -> None:
        """Give up (ME) or acquire (OTHER) a set. rset is the giver's view unless
        view_is_ours (a peer's shutdown: we take what we lack)."""
        if who == Standby.ME:
            self.other_is_stable = False
            self.i_hold &= ~rset
            self._send_held(False, "standby")
            act, kind, verb = rset, "give", "give up"
        else:
            act = rset if view_is_ours else H.mirror(rset)
            kind, verb = "take", "acquire"
        if act == NONE:
            self.log.error("no resources to %s", verb)
            return
        self.log.info("%s %s HA resources (standby).", verb, H.name(act))
        self._run(kind, H.groups_of(act, self.groups, self.me), "standby",
                  rset=self.standby_rsctype, act=act)

    def _perform_auto_failback(self) -> None:
        self.failback_due = None
        if (self.shutdown_in_progress or not self.i_hold & FOREIGN or not self.rsc_needs_failback
                or not self.auto_failback):
            self.rsc_needs_failback = False
            self._shutdown_if_needed()
            return
        if (self.going_standby != Standby.NOT or not self.other_is_stable
                or self.state != RState.STABLE):
            self.log.debug("Auto failback delayed.")
            self.failback_due = self.clock() + self.timers.auto_failback_retry
            return
        self.standby_rsctype = FOREIGN
        self._send(AskResources(H.name(FOREIGN), F.STANDBY_ME), loopback=True)
        self.rsc_needs_failback = False

    # ---- shutdown -----------------------------------------------------------------------

    def _shutdown_if_needed(self) -> None:
        if self.rsc_needs_shutdown:
            self._giveup_resources()

    def _giveup_resources(self) -> None:
        if not self.is_stable():
            if not self.rsc_needs_shutdown:
                self.log.warning("Shutdown delayed until current resource activity finishes.")
                self.rsc_needs_shutdown = True
            return
        self.rsc_needs_shutdown = False
        self.shutdown_in_progress = True
        if self.shutdown_underway:
            self.log.info("Heartbeat shutdown already underway.")
            return
        self.shutdown_underway = True
        self.i_hold = NONE
        self.state = RState.SHUTDOWN
        if self.nice:
            self._send(Resources.held(H.name(NONE), False, "shutdown"))
        # ("Heartbeat shutdown in progress. (pid)" is the daemon's line)
        self.log.info("Giving up all HA resources.")
        self._run("give", self.groups, "shutdown")

    # ---- completions and timers --------------------------------------------------------------

    def _operation_done(self, op: Operation, results: list[GroupResult]) -> None:
        self.pending_ops.pop(op.serial, None)
        for r in results:
            if op.kind == "take" and r.ok or r.stop_failed:
                self.held.add(r.group.key)
            elif op.kind != "take" and r.ok:
                self.held.discard(r.group.key)
        if not self.nice:
            # 3.0.6 kept no holdings in legacy mode (rscstatus said none); we say what runs
            self.i_hold = NONE
            for group in self.groups:
                if group.key in self.held:
                    self.i_hold |= self._bits_of(group)
        stuck = [r.group for r in results if r.stop_failed]
        for group in stuck:
            self.stop_failed.add(group.key)
        for r in results:
            if r.ok and op.kind == "give":
                self.stop_failed.discard(r.group.key)
        if op.purpose == "shutdown":
            self._shutdown_finished(stuck)
        elif op.purpose == "standby":
            self._standby_finished(op, stuck)
        elif op.purpose == "mach_down":
            if self.nice:
                self._send(Resources(H.name(FOREIGN), info="mach_down"), loopback=True)
            self.log.info("mach_down takeover complete for node %s.", op.node)
        elif op.purpose == F.T_ASKRELEASE:
            r = results[0] if results else None
            if r is not None and not r.stop_failed:
                self._send(IpRequestResp(op.node, op.groups[0].key, r.owned))
        if op.kind == "take":
            for r in results:
                if not r.ok and not r.stop_failed:
                    self._failed_start(r.group)
        self._shutdown_if_needed()

    def _standby_finished(self, op: Operation, stuck: list[ResourceGroup]) -> None:
        verb = "acquisition" if op.kind == "take" else "release"
        if op.kind == "give" and stuck:
            # never say "done": the peer would start what still runs here
            for group in stuck:
                self.i_hold |= self._bits_of(group)
            self.log.critical("Standby cancelled: resource group %s could not be released and"
                              " stays on this node; the other node is not told it is free.",
                              ", ".join(g.key for g in stuck))
            self.going_standby = Standby.NOT
            self.standby_running = None
            self._send_held(True)
            return
        self.log.info("%s HA resource %s completed (standby).", H.name(op.act), verb)
        self._send(AskResources(H.name(op.rset), F.STANDBY_DONE), loopback=True)

    def _shutdown_finished(self, stuck: list[ResourceGroup]) -> None:
        if not stuck:
            self.log.info("All HA resources relinquished.")
            self._actions.append(ShutdownReady(True))
            return
        self.log.critical("Shutdown cancelled: resource group %s could not be released and stays"
                          " on this node; heartbeat keeps running so that the other node does not"
                          " take it too.", ", ".join(g.key for g in stuck))
        self.shutdown_in_progress = self.shutdown_underway = False
        self.state = RState.STABLE
        for group in stuck:
            self.i_hold |= self._bits_of(group)
        self._send_held(True)
        self._actions.append(ShutdownReady(False))

    def _failed_start(self, group: ResourceGroup) -> None:
        """ResourceManager: `(sleep 30; hb_standby local|foreign) &` after a failed start,
        so that the other node may try."""
        bits = self._bits_of(group)
        self.failed_start_due.setdefault(bits, self.clock() + self.timers.failed_start_standby)

    def _tick(self) -> None:
        now = self.clock()
        if self.standby_running is not None and now >= self.standby_running:
            self.standby_running = None
            self.other_is_stable = True
            self.going_standby = Standby.NOT
            self.log.warning("No reply to standby request.  Standby request cancelled.")
            self._shutdown_if_needed()
        if (self.nice and self.state == RState.RSCRCVD and self.local_takeover_time is not None
                and now >= self.local_takeover_time):
            self.state = RState.STABLE
            self._req_our_resources(False)
            self.log.info("local resource transition completed.")
            self._send_held(True)
            self._audit()
        if self.legacy_wait is not None and now >= self.legacy_wait:
            self._legacy_request()
        if self.failback_due is not None and now >= self.failback_due:
            self._perform_auto_failback()
        for bits, due in list(self.failed_start_due.items()):
            if now >= due:
                del self.failed_start_due[bits]
                if not self.shutdown_in_progress:
                    self.log.info("Going standby [%s].", H.name(bits))
                    self._go_standby_request(H.name(bits))
        self._shutdown_if_needed()

    # ---- checks ---------------------------------------------------------------------------

    def _announce(self, reason: str) -> None:
        if self.announced or not self.local_work_done or not self.foreign_work_done:
            return
        self.log.info("Initial resource acquisition complete (%s)", reason)
        self.announced = True

    def _audit(self) -> None:
        if not self.nice:
            return
        if self.i_hold & LOCAL and self.other_holds & FOREIGN:
            self.log.error("Both machines own our resources!")
        if self.other_holds & LOCAL and self.i_hold & FOREIGN:
            self.log.error("Both machines own foreign resources!")
        if self.is_stable() and not self.shutdown_in_progress and self.state != RState.SHUTDOWN:
            if not self.i_hold & LOCAL and not self.other_holds & FOREIGN:
                self.log.error("No one owns our local resources!")
            if not self.other_holds & LOCAL and not self.i_hold & FOREIGN:
                self.log.error("No one owns foreign resources!")
