"""The heartbeat daemon: one asyncio event loop wiring media, wire, membership, the
resource layer and the control socket together. This object is the only global
state of a running heartbeat.

What arrives: media -> inbound.accept (decode, authenticate, known node) -> per-peer
sequence and generation checks (membership.seqtrack) -> link and node status
(membership.nodes) -> the message's handler (status, reqnodes/repnodes, acks,
retransmit requests, or the resource layer). What leaves: `send()` stamps, signs,
keeps sequenced packets for retransmission and writes to every medium.
Timers: keepalive (our status), housekeeping (deaths, retransmit requests).
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from heartbeat_py import PY_VERSION, VERSION
from heartbeat_py.config import ConfigError, ConfigErrors, HAConfig, load
from heartbeat_py.media import MediaError, medium_from_config
from heartbeat_py.membership import nodes as mb
from heartbeat_py.membership.persist import PersistError, load_uuid, next_generation
from heartbeat_py.membership.seqtrack import FLOWCONTROL_LIMIT, Action, PeerSequence, SendHistory
from heartbeat_py.wire import (Envelope, Garbled, Keyring, Message, TooLarge, WireFormat,
                               encode_packet, kinds, stamp)
from heartbeat_py.wire import fields as F

from . import hblog
from .api import DaemonApi
from .control import ControlServer
from .inbound import Accepted, accept
from .loadavg import LoadAvg
from .no_resources import NoResources
from .paths import Paths
from .periodic import Periodic

# Checks for deaths and due retransmit requests are woken at the earliest moment one can
# be due (re-armed whenever a packet moves that moment), so a death is noticed on time
# and an idle daemon does not wake to find nothing. HOUSEKEEPING_MIN keeps a burst of
# due work from spinning; until every node is heard from (or dead) the check polls every
# deadtime/20 within these bounds; HOUSEKEEPING_IDLE is the longest sleep, a safety net
# for work with no deadline (the history backlog warning).
HOUSEKEEPING_MIN = 0.02
HOUSEKEEPING_MAX = 0.25
HOUSEKEEPING_IDLE = 2.0
START_LAPSE = 5.0               # 3.0.6 advertises 2 s more deadtime for its first 5 s
EXTRA_DEADTIME_MS = 2000
SHUTDOWN_LINGER = 1.0           # keep answering retransmit requests after shutdone
REQNODES_EVERY = 1.0
RESOURCES_MODULE = "heartbeat_py.resources"
VERSION_STRING = f"{VERSION} (heartbeat_py {PY_VERSION})"


def wire_form(hacf) -> tuple[WireFormat, bool]:
    """(form, inner auth field) we send; docs/heartbeat-daemon.md section 4."""
    if "msgfmt" not in hacf.lines:
        return WireFormat.NETSTRING, True
    if hacf.msgfmt == "classic":
        return WireFormat.CLASSIC, True
    return WireFormat.NETSTRING, False


def log_targets(hacf, extra_debug: int = 0, stderr: bool = False) -> hblog.LogTargets:
    return hblog.LogTargets(logfile=hacf.logfile, debugfile=hacf.debugfile,
                            facility=hacf.logfacility, stderr=stderr,
                            debug=hacf.debug + extra_debug)


def config_files(confdir) -> dict[str, bytes | None]:
    """The three files' bytes, to tell whether a reload changes anything."""
    out = {}
    for name in ("ha.cf", "haresources", "authkeys"):
        try:
            out[name] = (confdir / name).read_bytes()
        except OSError:
            out[name] = None
    return out


def resource_manager_class(manage_resources: bool):
    """heartbeat_py.resources.ResourceManager, or the stand-in while it does not exist
    (and always under `heartbeat -M`)."""
    if not manage_resources:
        return NoResources
    try:
        module = importlib.import_module(RESOURCES_MODULE)
    except ModuleNotFoundError as e:
        if e.name != RESOURCES_MODULE:
            raise
        return NoResources
    return getattr(module, "ResourceManager", NoResources)


@dataclass
class Counters:
    received: int = 0
    refused: int = 0
    sent: int = 0


class Daemon:
    def __init__(self, config: HAConfig, local: str, log: logging.Logger, paths: Paths,
                 *, manage_resources: bool = True, debug: int = 0, rng: random.Random | None = None,
                 wall: Callable[[], float] = time.time, media_factory=medium_from_config,
                 handle_signals: bool = True, resource_manager=None):
        self.config = config
        self.local = local.lower()
        self.log = log
        self.paths = paths
        self.manage_resources = manage_resources
        self.extra_debug = debug
        self.rng = rng or random.Random()
        self.wall = wall
        self.media_factory = media_factory
        self.handle_signals = handle_signals
        self.resource_manager = resource_manager or resource_manager_class(manage_resources)
        self.counters = Counters()
        self.limiter = hblog.RateLimiter()
        self._apply_settings(config)
        self.history = SendHistory(self.hacf.max_rexmit_delay_ms / 1000)
        self.peers: dict[str, PeerSequence] = {}
        self.peer_uuids: dict[str, bytes] = {}
        self.flow_control = True
        self.comm_linksup = False       # every node heard from or dead (3.0.6's COMM_LINKSUP)
        self.comm_up = False            # repnodes received: we are active
        self.reqnodes_answered = False
        self.shutting_down = False
        self.shutdowns_cancelled = 0    # `heartbeat -k` watches it (a failed resource stop)
        self.generation = 0
        self.uuid = b""
        self.media: list = []
        self.membership: mb.Membership | None = None
        self.rm = None
        self.control: ControlServer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._keepalive_timer: Periodic | None = None
        self._housekeeping_handle: asyncio.TimerHandle | None = None
        self._loadavg = LoadAvg()
        self._closed = False            # a datagram already queued must not re-arm timers
        self._stopped: asyncio.Event | None = None
        self._comm_up_event: asyncio.Event | None = None
        self._dt_holds = 0
        self._files = config_files(config.confdir)

    # -- settings ------------------------------------------------------------------------

    def _apply_settings(self, config: HAConfig) -> None:
        self.config = config
        self.hacf = hacf = config.hacf
        self.keyring = Keyring.from_authkeys(config.authkeys)
        self.wire_format, self.inner_auth = wire_form(hacf)
        self.keepalive = hacf.keepalive_ms / 1000
        self.deadtime = hacf.deadtime_ms / 1000
        self.ttl = hacf.hopfudge + len(hacf.nodes) + len(hacf.ping_nodes)

    # -- life cycle ------------------------------------------------------------------------

    async def run(self, ready: Callable[[], None] | None = None) -> int:
        """Run until stopped; 0 after a graceful stop, 1 if heartbeat could not start.
        `ready` is called once the media are up and the first statuses are out."""
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._comm_up_event = asyncio.Event()
        try:
            self._start()
            await self.control.start()
        except (PersistError, MediaError, OSError) as e:
            self.log.error("Heartbeat not started: %s", e)
            self._close()
            return 1
        if ready is not None:
            ready()
        try:
            await self._stopped.wait()
        finally:
            self._close()
        return 0

    def _start(self) -> None:
        hacf = self.hacf
        self.log.info("heartbeat: version %s", VERSION_STRING)
        gen = next_generation(self.paths.varlib, self.wall)
        for level, text in gen.notes:
            self.log.log(logging.WARNING if level == "warning" else logging.INFO, "%s", text)
        self.generation = gen.value
        self.uuid = load_uuid(self.paths.varlib, self.local, hacf.uuidfrom == "nodename",
                              log=self.log.info)
        for spec in hacf.media:
            medium = self.media_factory(spec, self._on_datagram, self.log)
            self.media.append(medium)
            medium.start(self.loop)
        if not self.media:
            raise MediaError("no usable heartbeat media")
        now = self.loop.time()
        nodes = list(hacf.nodes)
        if self.local not in nodes and hacf.autojoin == "any":
            nodes.append(self.local)        # 3.0.6's HB_JOIN_ANY: we need no node line either
        self.membership = mb.Membership(
            self.local, nodes, [m.name for m in self.media],
            deadtime=self.deadtime, warntime=hacf.warntime_ms / 1000,
            initdead=hacf.initdead_ms / 1000, now=now,
            ping_nodes=tuple(p.name for p in hacf.ping_nodes))
        for peer in self.membership.peers():
            self.peers[peer] = PeerSequence.new(self.rng, self.history.max_rexmit_delay)
        self.rm = self.resource_manager(DaemonApi(self), self.config)
        self._rm_call("start")
        for child in hacf.respawn:
            handles = getattr(self.rm, "handles_respawn", None)
            if handles is None or not handles(child.command):
                self.log.warning("%s %s: not started: this heartbeat has no client API",
                                 "failfast" if child.failfast else "respawn", child.command)
        self.control = ControlServer(self.paths.control_socket, self._control, self.log)
        if self.handle_signals:
            for sig, action in ((signal.SIGTERM, self.request_stop),
                                (signal.SIGINT, self.request_stop), (signal.SIGHUP, self.reload)):
                self.loop.add_signal_handler(sig, action)
        # 3.0.6's first three packets: init (sent by the deadtime lapse), up, up
        self._hold_deadtime(True)
        self.loop.call_later(START_LAPSE, self._hold_deadtime, False)
        self.set_local_status(mb.UP)
        self.send_status()
        self._keepalive_timer = Periodic(self.loop, lambda: self.keepalive, self.send_status,
                                         self.log)
        self._arm_housekeeping()

    def request_stop(self) -> None:
        """Graceful stop (SIGTERM, `heartbeat -k`): release resources, tell the peers."""
        if not self.shutting_down:
            self.shutting_down = True
            self._tasks.append(self.loop.create_task(self._shutdown()))

    async def _shutdown(self) -> None:
        if not self.comm_up:
            self.log.warning("Shutdown delayed until Communication is up.")
            await self._comm_up_event.wait()
        self.log.info("Heartbeat shutdown in progress. (%d)", os.getpid())
        try:
            released = await self.rm.shutdown()
        except Exception:
            self.log.error("resource layer failed to shut down cleanly", exc_info=True)
            released = True
        if released is False:
            # a group that could not be stopped is still here: leaving now would let the
            # peer start it too
            self.log.error("Heartbeat shutdown cancelled: resources could not all be"
                           " released; stop them by hand, then stop heartbeat again.")
            self.shutting_down = False
            self.shutdowns_cancelled += 1
            return
        self.send(kinds.ShutDone().to_message())
        await asyncio.sleep(SHUTDOWN_LINGER)
        self.log.info("%s Heartbeat shutdown complete.", self.local)
        self._stopped.set()

    def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
        self._closed = True
        if self._housekeeping_handle is not None:
            self._housekeeping_handle.cancel()
            self._housekeeping_handle = None
        self._loadavg.close()
        if self.rm is not None:
            self._rm_call("close")
        if self.control is not None:
            self.control.close()
        for medium in self.media:
            medium.close()
        if self.loop is not None and self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self.loop.remove_signal_handler(sig)

    # -- what we send --------------------------------------------------------------------

    def send(self, msg: Message) -> bool:
        msg = msg.copy()
        noseq = F.is_noseq(msg.type or "")
        seq = None if noseq else self.history.next_seq()
        env = Envelope(src=self.local, hg=self.generation, ts=int(self.wall()), ttl=self.ttl,
                       seq=seq, ld=None if noseq else self._loadavg.read(), srcuuid=self.uuid)
        dest = msg.get(F.F_TO)
        stamp(msg, env, self.peer_uuids.get(dest) if isinstance(dest, str) else None)
        try:
            data = encode_packet(msg, self.keyring, self.wire_format, self.inner_auth)
        except (TooLarge, ValueError) as e:
            self.log.error("cannot send a %s message: %s", msg.type, e)
            return False
        if seq is not None:
            self.history.record(seq, data)
        self._transmit(data)
        return True

    def _transmit(self, data: bytes) -> None:
        self.counters.sent += 1
        for medium in self.media:
            medium.send(data)

    def send_status(self) -> None:
        me = self.membership.nodes[self.local]
        self.send(kinds.Status(me.status, self._advertised_dt(),
                               F.PROTOCOL_VERSION if self.flow_control else None).to_message())

    def _advertised_dt(self) -> int:
        """The deadtime (ms) we ask peers to apply to us: `dt` in our statuses."""
        return self.hacf.deadtime_ms + (EXTRA_DEADTIME_MS if self._dt_holds > 0 else 0)

    def set_local_status(self, status: str) -> None:
        if self.membership.set_local_status(status):
            self.send_status()
            self.log.info("Local status now set to: '%s'", status)

    def _hold_deadtime(self, hold: bool) -> None:
        """3.0.6's hb_add_deadtime/hb_pop_deadtime: advertise deadtime + 2 s while held."""
        before = self._dt_holds > 0
        self._dt_holds = max(0, self._dt_holds + (1 if hold else -1))
        if (self._dt_holds > 0) != before:
            self.send_status()

    def child_running(self, running: bool) -> None:
        self._hold_deadtime(running)

    # -- what arrives --------------------------------------------------------------------

    def _on_datagram(self, data: bytes, source: tuple, medium) -> None:
        try:
            self._datagram(data, source, medium)
        finally:
            # a packet can bring a deadline forward: a node or link back from the dead,
            # a shorter dt, a gap to ask a retransmit for
            self._arm_housekeeping()

    def _datagram(self, data: bytes, source: tuple, medium) -> None:
        self.counters.received += 1
        verdict = accept(data, source, self.keyring, list(self.hacf.nodes),
                         autojoin=self.hacf.autojoin != "none")
        if not isinstance(verdict, Accepted):
            self.counters.refused += 1
            self._log_limited((verdict.kind, source[0] if source else None), verdict.level,
                              verdict.text)
            return
        msg, env = verdict.msg, verdict.env
        if env.src == self.local:
            # our own broadcast or multicast coming back: it proves the link works
            self._membership_events(self.membership.packet(self.local, medium.name,
                                                           self.loop.time()))
            return
        if env.src not in self.peers and not self._autojoin(env.src):
            return          # a ping node's name, or ourselves by another spelling
        if env.srcuuid:
            self.peer_uuids[env.src] = env.srcuuid
        if F.is_noseq(msg.type):
            self._link_heard(env.src, medium)
            self._noseq(msg, env)
            return
        self._sequenced(msg, env, medium)

    def _autojoin(self, node: str) -> bool:
        """With `autojoin other|any`, an authentic packet from a node in no `node` line
        adds it (for this run; 3.0.6 also remembers it in its hostcache)."""
        if self.hacf.autojoin == "none" or not self.membership.join(node, self.loop.time()):
            return False
        self.log.info("process_clustermsg: Adding new node [%s] to configuration.", node)
        self.peers[node] = PeerSequence.new(self.rng, self.history.max_rexmit_delay)
        return True

    def _link_heard(self, node: str, medium) -> None:
        self._membership_events(self.membership.packet(node, medium.name, self.loop.time()))

    def _to_us(self, msg: Message) -> bool:
        touuid = msg.get(F.F_TOUUID)
        if isinstance(touuid, bytes) and len(touuid) == 16 and any(touuid):
            return touuid == self.uuid
        dest = msg.get(F.F_TO)
        return dest is None or (isinstance(dest, str) and dest.lower() == self.local)

    def _sequenced(self, msg: Message, env: Envelope, medium) -> None:
        node = env.src
        track = self.peers[node]
        is_status = msg.type == F.T_STATUS
        verdict = track.check(env.seq, env.hg, is_status, self.node_status(node) == mb.DEAD,
                              self.loop.time(), self.rng, self.flow_control)
        if verdict.replay:
            self._log_limited(("replay", node), logging.ERROR,
                              "should_drop_message: attempted replay attack [%s]? [gen = %d,"
                              " curgen = %d]" % (node, *verdict.replay))
            return
        if verdict.restart:
            if verdict.known_generation > 0:
                self.log.info("Heartbeat restart on node %s", node)
            self.membership.restarted(node)
            self.history.forget_peer(node)
            self._rm_call("node_restarted", node)
        if verdict.healed:
            self.log.critical("Cluster node %s returning after partition.", node)
            self.log.info("For information on cluster partitions, See URL: "
                          "http://linux-ha.org/wiki/Split_Brain")
            self.log.warning("Deadtime value may be too small.")
            self.log.info("See FAQ for information on tuning deadtime.")
            self.log.info("URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")
        if verdict.lost:
            last, new = verdict.lost
            self.log.warning("%d lost packet(s) for [%s] [%d:%d]", new - last - 1, node, last, new)
        if verdict.reset:
            self.log.error("lost a lot of packets!")
        if verdict.all_recovered:
            self.log.info("No pkts missing from %s!", node)
        if verdict.ack is not None:
            self.send(kinds.Ack(node, verdict.ack).to_message())
        if verdict.action == Action.DROP:
            return
        self._link_heard(node, medium)
        if verdict.action == Action.DUPLICATE or not self._to_us(msg):
            return
        self._dispatch(msg, node)
        if not self.comm_linksup:
            self._check_comm()

    def _dispatch(self, msg: Message, node: str) -> None:
        t = msg.type
        if t == F.T_STATUS:
            self._status(msg, node)
        elif t == F.T_REQNODES:
            self.send(kinds.RepNodes(node, tuple(self._cluster_nodes()), ()).to_message())
        elif t == F.T_REPNODES:
            self._repnodes(msg, node)
        elif t == F.T_QCSTATUS:
            self._client_status(msg, node)
        else:
            # everything else is the resource layer's: the v1 resource protocol, ipfail's
            # messages, and what it does not know it ignores (3.0.6's notify_world)
            self._rm_call("message", msg)

    def _status(self, msg: Message, node: str) -> None:
        try:
            status = kinds.Status.from_message(msg)
        except Garbled:
            self.log.error("HBDoMsg_T_STATUS: status update without st field")
            return
        if status.protocol is None and self.flow_control:
            self.log.info("flow control disabled due to different version heartbeat")
            self.flow_control = False
        self._membership_events(self.membership.status(node, status.st, status.dt,
                                                       self.loop.time()))

    def _client_status(self, msg: Message, node: str) -> None:
        """A 3.0.6 peer's `cl_status clientstatus <us> CLIENT`: without a client API no
        client of ours is ever online; unanswered, the asker would wait and exit 13."""
        try:
            query = kinds.QueryClientStatus.from_message(msg)
        except Garbled:
            self.log.error("HBDoMsg_T_QCSTATUS ha_msg_value failed")
            return
        self.send(kinds.ClientStatus(node, query.client, query.from_id, "offline").to_message())

    def _repnodes(self, msg: Message, node: str) -> None:
        if self.comm_up:
            return
        try:
            listed = kinds.RepNodes.from_message(msg).nodelist
        except Garbled:
            listed = None
        ours = self._cluster_nodes()
        if listed is not None and sorted(n.lower() for n in listed) != sorted(ours):
            self.log.warning("%s lists the nodes %s; ha.cf here has %s: keeping ha.cf's",
                             node, " ".join(listed), " ".join(ours))
        self.reqnodes_answered = True
        self._comm_now_up()

    def _noseq(self, msg: Message, env: Envelope) -> None:
        node = env.src
        t = msg.type
        if t == F.T_NAKREXMIT:
            try:
                nak = kinds.NakRexmit.from_message(msg)
            except Garbled:
                self.log.error("should_drop_message: bad nak seq number")
                return
            if nak.dest is None or nak.dest.lower() == self.local:
                self.log.error("Irretrievably lost packet: node %s seq %d", node, nak.firstseq)
                if self.peers[node].nak(nak.firstseq).all_recovered:
                    self.log.info("No pkts missing from %s!", node)
            return
        if not self._to_us(msg):
            return
        if t == F.T_ACKMSG:
            try:
                ack = kinds.Ack.from_message(msg)
            except Garbled:
                return
            if not self.history.ack(node, ack.ackseq):
                self._log_limited(("ack", node), logging.ERROR,
                                  "HBDoMsg_T_ACK: corrupted ackseq current hiseq = %d ackseq =%d"
                                  " in this message" % (self.history.last_seq, ack.ackseq))
        elif t == F.T_REXMIT:
            self._rexmit(msg, node)

    def _rexmit(self, msg: Message, node: str) -> None:
        try:
            req = kinds.RexmitRequest.from_message(msg)
        except Garbled:
            self._log_limited(("rexmit", node), logging.ERROR, "Invalid rexmit seqnos")
            return
        if req.firstseq <= 0 or req.lastseq < req.firstseq:
            self._log_limited(("rexmit", node), logging.ERROR, "Invalid rexmit seqnos")
            return
        for answer in self.history.resend(node, req.firstseq, req.lastseq, self.loop.time()):
            if answer.packet is not None:
                self._transmit(answer.packet)
            elif answer.nak is not None:
                self._log_limited(("nak", node), logging.ERROR, "Cannot rexmit pkt %d for %s: %s"
                                  % (answer.seq, node, answer.nak))
                self.send(kinds.NakRexmit(answer.seq, node, answer.nak).to_message())
            else:
                self._log_limited(("rexmit-high", node), logging.WARNING,
                                  "Rexmit of seq %d requested. %d is max."
                                  % (answer.seq, answer.too_high))

    # -- membership ----------------------------------------------------------------------

    def _cluster_nodes(self) -> list[str]:
        """The normal nodes: ha.cf's, then those autojoin added."""
        return [n.name for n in self.membership.nodes.values() if n.kind == mb.NORMAL]

    def node_status(self, node: str) -> str | None:
        return self.membership.status_of(node) if self.membership else None

    def _membership_events(self, events) -> None:
        for event in events:
            if isinstance(event, mb.LinkChanged):
                self.log.info("Link %s:%s %s.", event.node, event.link, event.status)
            elif isinstance(event, mb.NodeDied):
                self.log.warning("node %s: is dead", event.node)
                self.peers[event.node].reset()
                self.history.forget_peer(event.node)
            elif isinstance(event, mb.StatusChanged):
                if event.new != mb.DEAD:
                    self.log.info("Status update for node %s: status %s", event.node, event.new)
                self._rm_call("node_status", event.node, event.old, event.new)
            elif isinstance(event, mb.LateHeartbeat):
                if event.beyond_deadtime:
                    self.log.critical("Late heartbeat: Node %s: interval %d ms (> deadtime)",
                                      event.node, event.interval_ms)
                else:
                    self.log.warning("Late heartbeat: Node %s: interval %d ms",
                                     event.node, event.interval_ms)

    def _housekeeping_interval(self) -> float:
        deadtime = self.config.hacf.deadtime_ms / 1000
        return min(HOUSEKEEPING_MAX, max(HOUSEKEEPING_MIN, deadtime / 20))

    def _housekeeping_due(self, now: float) -> float:
        """When housekeeping next has something to do (see HOUSEKEEPING_IDLE)."""
        due = now + HOUSEKEEPING_IDLE
        if not self.comm_linksup:
            due = min(due, now + self._housekeeping_interval())
        deadline = self.membership.next_deadline()
        if deadline is not None:
            # tick() declares death strictly after the deadline
            due = min(due, deadline + 0.001)
        for node in self.membership.live_peers():
            rexmit = self.peers[node].next_due()
            if rexmit is not None:
                due = min(due, rexmit)
        return max(now + HOUSEKEEPING_MIN, due)

    def _arm_housekeeping(self) -> None:
        """(Re)schedule housekeeping at its next due moment, if that is not already so."""
        if self.loop is None or self.membership is None or self._closed:
            return
        due = self._housekeeping_due(self.loop.time())
        handle = self._housekeeping_handle
        if handle is not None and not handle.cancelled():
            if abs(handle.when() - due) < HOUSEKEEPING_MIN / 2:
                return
            handle.cancel()
        self._housekeeping_handle = self.loop.call_at(due, self._housekeeping_fire)

    def _housekeeping_fire(self) -> None:
        self._housekeeping_handle = None
        try:
            self._housekeeping()
        except Exception:
            self.log.error("internal error in a timer", exc_info=True)
        self._arm_housekeeping()

    def _housekeeping(self) -> None:
        now = self.loop.time()
        self._membership_events(self.membership.tick(now))
        if not self.comm_linksup:
            self._check_comm()
        for node in self.membership.live_peers():
            for seq in self.peers[node].due_requests(now):
                self.send(kinds.RexmitRequest(node, seq, seq).to_message())
        if self.flow_control:
            backlog = self.history.unacked(self.membership.live_peers())
            if backlog > FLOWCONTROL_LIMIT:
                self._log_limited(("hist",), logging.WARNING,
                                  "Message hist queue is filling up (%d messages in queue)" % backlog)

    def _check_comm(self) -> None:
        """3.0.6's check_comm_isup, then reqnodes (or straight to active without flow control)."""
        if self.comm_linksup or not self.membership.all_heard():
            return
        self.comm_linksup = True
        self.membership.comm_up = True
        if self.flow_control:
            self._send_reqnodes()
        else:
            self._comm_now_up()

    def _send_reqnodes(self) -> None:
        if self.reqnodes_answered or self.comm_up:
            return
        target = next((p for p in self.membership.peers()
                       if self.membership.status_of(p) != mb.DEAD), None)
        if target is None:
            self.reqnodes_answered = True
            self._comm_now_up()
            return
        self.send(kinds.ReqNodes(target).to_message())
        self.loop.call_later(REQNODES_EVERY, self._send_reqnodes)

    def _comm_now_up(self) -> None:
        if self.comm_up:
            return
        self.comm_up = True
        self.log.info("Comm_now_up(): updating status to %s", mb.ACTIVE)
        self.set_local_status(mb.ACTIVE)
        self._comm_up_event.set()
        self._rm_call("comm_up")

    # -- helpers ---------------------------------------------------------------------------

    def _rm_call(self, name: str, *args):
        """Call the resource layer; its bugs are logged, never fatal to heartbeats."""
        try:
            return getattr(self.rm, name)(*args)
        except Exception:
            self.log.error("resource layer: %s failed", name, exc_info=True)
            return None

    def _log_limited(self, key, level: int, text: str) -> None:
        allowed, held = self.limiter.allow(key, self.loop.time())
        if not allowed:
            return
        if held:
            text += f" ({held} similar messages suppressed)"
        self.log.log(level, "%s", text)

    # -- reload ----------------------------------------------------------------------------

    def reload(self) -> list[str]:
        """SIGHUP / `heartbeat -r`: reread the configuration; [] or the errors found."""
        confdir = self.config.confdir
        try:
            config = load(confdir, manage_resources=self.manage_resources)
        except (ConfigErrors, ConfigError) as e:
            errors = [str(x) for x in getattr(e, "errors", [e])]
            for text in errors:
                self.log.error("%s", text)
            self.log.error("Config errors: Heartbeat pid %d NOT restarted", os.getpid())
            return errors
        files = config_files(confdir)
        if files == self._files:
            self.log.info("Configuration unchanged.")
            return []
        old = self.hacf
        self._files = files
        self._apply_settings(config)
        hblog.configure(self.log, log_targets(self.hacf, self.extra_debug))
        self.membership.deadtime = self.deadtime
        self.membership.warntime = self.hacf.warntime_ms / 1000
        self.membership.initdead = self.hacf.initdead_ms / 1000
        for node in self.membership.nodes.values():
            if node.last_status is None:
                node.deadtime = self.deadtime
        self.history.max_rexmit_delay = self.hacf.max_rexmit_delay_ms / 1000
        if (old.nodes, old.media, old.udpport) != (self.hacf.nodes, self.hacf.media, self.hacf.udpport):
            self.log.warning("node and media changes take effect when heartbeat restarts")
        self.log.info("Configuration reread: keepalive %d ms, deadtime %d ms, auth %d %s",
                      self.hacf.keepalive_ms, self.hacf.deadtime_ms,
                      config.authkeys.active.index, config.authkeys.active.method)
        self._rm_call("reload", config)
        self._arm_housekeeping()
        return []

    # -- control socket --------------------------------------------------------------------

    async def _control(self, req: dict) -> dict:
        cmd = req["cmd"]
        m = self.membership
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid(), "node": self.local, "version": VERSION_STRING}
        if cmd == "listnodes":
            return {"ok": True, "nodes": [{"name": n.name, "type": n.kind,
                                           "status": self._shown_status(n),
                                           "deadtime_ms": round(n.deadtime * 1000)}
                                          for n in m.nodes.values()]}
        node = m.nodes.get(str(req.get("node", "")).lower())
        if cmd in ("nodestatus", "nodetype", "listhblinks", "hblinkstatus"):
            if node is None:
                return {"ok": False, "error": "unknown node"}
            if cmd == "nodestatus":
                return {"ok": True, "status": self._shown_status(node)}
            if cmd == "nodetype":
                return {"ok": True, "type": node.kind}
            if cmd == "listhblinks":
                return {"ok": True, "links": [{"name": l.name, "status": l.status}
                                              for l in node.links.values()]}
            link = node.links.get(str(req.get("link", "")))
            if link is None:
                return {"ok": False, "error": "unknown link"}
            return {"ok": True, "status": link.status}
        if cmd == "hbparameter":
            return {"ok": True, "value": self.parameter(str(req.get("name", "")))}
        if cmd == "rscstatus":
            return {"ok": True, "status": self._rm_call("rscstatus") or "transition"}
        if cmd in ("standby", "takeover"):
            which = str(req.get("which", "all"))
            rc, text = await getattr(self.rm, cmd)(which)
            return {"ok": True, "rc": rc, "text": text}
        if cmd == "shutdown":
            self.request_stop()
            return {"ok": True}
        if cmd == "reload":
            errors = self.reload()
            return {"ok": not errors, "error": "; ".join(errors)} if errors else {"ok": True}
        if cmd == "stats":
            return {"ok": True, "received": self.counters.received,
                    "refused": self.counters.refused, "sent": self.counters.sent,
                    "generation": self.generation, "comm_up": self.comm_up,
                    "dt_ms": self._advertised_dt(), "flow_control": self.flow_control,
                    "shutdowns_cancelled": self.shutdowns_cancelled}
        return {"ok": False, "error": f"unknown command {cmd}"}

    def _shown_status(self, node: mb.Node) -> str:
        """A ping node's status comes from the resource layer, which pings it."""
        if node.kind != mb.PING:
            return node.status
        pings = getattr(self.rm, "ping_status", None)
        return (pings() if pings else {}).get(node.name, mb.DEAD)

    def parameter(self, name: str) -> str | None:
        """What `cl_status hbparameter -p NAME` answers (None: not set)."""
        if name == "hbversion":
            return VERSION_STRING
        params = self.hacf.parameters
        if name == "crm":
            return params.get("pacemaker")
        return params.get(name)
