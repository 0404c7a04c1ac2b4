"""ResourceManager: what the daemon creates (docs/heartbeat-daemon.md §1).

It glues the v1 resource protocol (protocol.py) to the daemon's event loop: events
from the daemon go into the state machine; its actions come out as messages
(api.send), group operations (run one at a time by a worker task, scripts as child
processes, so keepalives never wait) and timers. Ping nodes and the built-in ipfail
live here too.
"""
from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from pathlib import PurePath

from ..config.loader import HAConfig
from ..wire import fields as F
from ..wire.errors import Garbled
from ..wire.kinds import parse as parse_kind
from .env import prepare_rsctmp, script_environment
from .groups import GroupRunner, stop_retries
from .ipfail import MESSAGE_TYPES as IPFAIL_TYPES, PingFailover
from .ping import Pinger
from .protocol import (GroupResult, Operation, ResourceProtocol, Run, Send, ShutdownReady,
                       Timers)
from .runner import DEFAULT_TIMEOUTS, ScriptRunner

# Environment knobs (the daemon's own environment), mostly for tests and slow sites.
TIMEOUT_ENV = "HBPY_RSC_TIMEOUT"                # seconds for every start/stop/status
FAILED_START_ENV = "HBPY_FAILED_START_STANDBY"  # seconds before handing a failed group over
RQSTDELAY_ENV = "HBPY_RQSTDELAY"                # 3.0.6's 10 s wait at a joint start
IPFAIL = "ipfail"


def uses_ipfail(config: HAConfig) -> bool:
    """ha.cf runs ipfail (`respawn hacluster /usr/lib/heartbeat/ipfail`): we do its job."""
    return bool(config.hacf.ping_nodes) and any(
        PurePath(c.command.split()[0]).name == IPFAIL for c in config.hacf.respawn)


def _env_seconds(name: str) -> float | None:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


class ResourceManager:
    def __init__(self, api, config: HAConfig):
        self.api = api
        self.log = api.log
        self._worker: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._queue: deque[Operation] = deque()
        self._shutdown_waiters: list[asyncio.Future] = []
        self._closed = False
        self.pinger: Pinger | None = None
        self.ipfail: PingFailover | None = None
        self._configure(config)

    def _configure(self, config: HAConfig) -> None:
        self.config = config
        cf = config.hacf
        timers = Timers()
        failed = _env_seconds(FAILED_START_ENV)
        if failed is not None:
            timers.failed_start_standby = failed
        rqstdelay = _env_seconds(RQSTDELAY_ENV)
        if rqstdelay is not None:
            timers.rqstdelay = rqstdelay
        self.protocol = ResourceProtocol(self.api.local_node, config.resources.groups,
                                         cf.auto_failback, self.log, time.monotonic,
                                         timers=timers, peers=self.api.nodes)
        self.env = script_environment(config, self.api.local_node, nice_failback=self.protocol.nice)
        timeout = _env_seconds(TIMEOUT_ENV)
        timeouts = {a: timeout for a in DEFAULT_TIMEOUTS} if timeout else dict(DEFAULT_TIMEOUTS)
        self.runner = ScriptRunner(self.env, self.log, timeouts)
        self.groups = GroupRunner(self.runner, config.find_script, self.log,
                                  retries=stop_retries(os.environ))

    # ---- the daemon's calls ----------------------------------------------------------

    def start(self) -> None:
        prepare_rsctmp(self.env)
        cf = self.config.hacf
        if cf.stonith:
            self.log.warning("STONITH is not supported: shared disks are not protected.")
        if cf.ping_nodes:
            self.pinger = Pinger(cf.ping_nodes, cf.keepalive_ms / 1000, cf.deadping_ms / 1000,
                                 self.log, self._ping_changed)
            if uses_ipfail(self.config):
                self.ipfail = PingFailover(
                    self.api.local_node, self.api.send, self._ipfail_standby,
                    self.protocol.is_stable, lambda: self.protocol.i_hold, self.log,
                    time.monotonic, delay=2 * cf.keepalive_ms / 1000,
                    auto_failback=cf.auto_failback == "on")
            self.pinger.start()

    def comm_up(self) -> None:
        self.protocol.comm_up()
        self._pump()
        if self.ipfail is not None and self.pinger is not None:
            self.ipfail.begin(self.pinger.alive(), self._peers())

    def node_status(self, node: str, old: str | None, new: str) -> None:
        if node not in self.api.nodes:
            return      # ping nodes are ours to judge (ping.py), never a peer's death
        self.protocol.node_status(node, new)
        self._pump()
        if self.ipfail is not None and new == F.STATUS_ACTIVE and old != new:
            self.ipfail.ask()

    def node_restarted(self, node: str) -> None:
        self.protocol.node_restarted(node)

    def message(self, msg) -> None:
        src = msg.get(F.F_ORIG)
        kind_name = msg.get(F.F_TYPE)
        if kind_name in IPFAIL_TYPES:
            if self.ipfail is not None:
                self.ipfail.message(msg, src)
                self._pump()
            return
        try:
            kind = parse_kind(msg)
        except Garbled as e:
            self.log.error("Ignoring a malformed %s message from %s: %s", kind_name, src, e)
            return
        if kind is None or src is None:
            return
        self.protocol.message(kind, src)
        self._pump()

    async def standby(self, which: str) -> tuple[int, str]:
        self.protocol.standby(which)
        self._pump()
        return 0, ""

    async def takeover(self, which: str) -> tuple[int, str]:
        self.protocol.takeover(which)
        self._pump()
        return 0, ""

    async def shutdown(self) -> bool:
        """Release everything. True: released, send shutdone and exit. False: a group
        could not be stopped and is still here: do not exit (the peer would take it too)."""
        waiter = asyncio.get_running_loop().create_future()
        self._shutdown_waiters.append(waiter)
        self.protocol.shutdown()
        self._pump()
        return await waiter

    def rscstatus(self) -> str:
        return self.protocol.rscstatus()

    def ping_status(self) -> dict[str, str]:
        """Ping node name -> `ping` or `dead` (for cl_status)."""
        return dict(self.pinger.status) if self.pinger else {}

    def handles_respawn(self, command: str) -> bool:
        """True for a respawn line the daemon must not run: ipfail is built in."""
        return PurePath(command.split()[0]).name == IPFAIL if command.split() else False

    def reload(self, config: HAConfig) -> None:
        """A new configuration: new scripts, environment and groups take effect for the
        next operations; the protocol state (and so auto_failback's mode) is kept."""
        if config.hacf.auto_failback != self.config.hacf.auto_failback:
            self.log.warning("auto_failback %s: takes effect when heartbeat restarts; still %s",
                             config.hacf.auto_failback, self.config.hacf.auto_failback)
        self.config = config
        self.protocol.groups = list(config.resources.groups)
        self.env = script_environment(config, self.api.local_node, nice_failback=self.protocol.nice)
        self.runner.env = self.env
        self.groups.find_script = config.find_script

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
        self.runner.close()
        if self.pinger is not None:
            self.pinger.close()
        for waiter in self._shutdown_waiters:
            if not waiter.done():
                waiter.cancel()

    # ---- actions -------------------------------------------------------------------

    def _pump(self) -> None:
        for action in self.protocol.take_actions():
            if isinstance(action, Send):
                self.api.send(action.message)
            elif isinstance(action, Run):
                self._queue.append(action.operation)
            elif isinstance(action, ShutdownReady):
                waiters, self._shutdown_waiters = self._shutdown_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(action.released)
        if self._queue and (self._worker is None or self._worker.done()) and not self._closed:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = [d for d in (self.protocol.next_deadline(),
                           self.ipfail.next_deadline() if self.ipfail else None) if d is not None]
        if due and not self._closed:
            delay = max(0.0, min(due) - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.protocol.tick()
        if self.ipfail is not None:
            self.ipfail.tick()
        self._pump()

    async def _work(self) -> None:
        # No api.stable_hint() around the scripts: 3.0.6 adds 2 s to its deadtime only
        # while forking a respawned client, never during resource work, and a peer must
        # see a node that dies in the middle of a takeover dead after deadtime.
        while self._queue:
            op = self._queue.popleft()
            results = await self._perform(op)
            self.protocol.operation_done(op, results)
            self._pump()

    async def _perform(self, op: Operation) -> list[GroupResult]:
        results = []
        for group in op.groups:
            try:
                if op.kind == "take":
                    if op.purpose == "mach_down":
                        self.log.info("Taking over resource group %s", group.key)
                    outcome = await self.groups.acquire(group)
                    results.append(GroupResult(group, outcome.ok, outcome.stop_failed))
                elif op.kind == "give":
                    outcome = await self.groups.release(group)
                    results.append(GroupResult(group, outcome.ok, outcome.stop_failed))
                else:   # yield: give it up if it runs here (legacy ip-request)
                    owned = await self.groups.is_running(group.resources[0])
                    outcome = await self.groups.release(group) if owned else None
                    results.append(GroupResult(group, outcome is None or outcome.ok,
                                               bool(outcome and outcome.stop_failed), owned))
            except Exception:   # a bug must not leave the protocol waiting for ever
                self.log.exception("resource group %s: %s failed", group.key, op.kind)
                results.append(GroupResult(group, False, stop_failed=op.kind != "take"))
        return results

    # ---- ping nodes -----------------------------------------------------------------

    def _peers(self) -> list[str]:
        return [n for n in self.api.nodes if n != self.api.local_node]

    def _ping_changed(self, node: str, status: str) -> None:
        if self.ipfail is not None and self.api.comm_is_up:
            self.ipfail.local_count(self.pinger.alive(), self._peers())
            self._pump()

    def _ipfail_standby(self, which: str) -> None:
        self.protocol.standby(which)
        self._pump()

