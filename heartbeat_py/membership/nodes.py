"""Who is in the cluster and how each node and each link is doing.

Pure state with the clock passed in (seconds, any monotonic clock): the daemon feeds
in what arrives and calls `tick()`; every change comes back as an event for it to log
and pass on. The rules are heartbeat 3.0.6's (check_for_timeouts, HBDoMsg_T_STATUS,
change_link_status, check_comm_isup):

* a node is `init` until its first status, then takes the status it sends (`up`,
  `active`), and is declared `dead` when no status came from it for the deadtime it
  asked for in `dt` (the configured deadtime until it said otherwise), or for
  `initdead` while our own communications are not up yet;
* each (node, link) pair is `up` from any packet of that node on that link and `dead`
  after the same silence; links start `dead`;
* our communications are up once every node has been heard from or declared dead.

Differences from 3.0.6, on purpose: a late heartbeat is only measured between two
statuses of a live node (3.0.6 also measures from our own start, and may then declare
a node that starts a few seconds after us dead and alive again at once); a status
later than the deadtime is logged as critical but does not kill the node by itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

INIT, UP, ACTIVE, DEAD = "init", "up", "active", "dead"
LINK_UP, LINK_DEAD = "up", "dead"
NORMAL, PING = "normal", "ping"


@dataclass(frozen=True)
class StatusChanged:
    node: str
    old: str
    new: str


@dataclass(frozen=True)
class NodeDied:
    """Declared dead by silence (logged `node X: is dead`); a StatusChanged follows."""

    node: str


@dataclass(frozen=True)
class LinkChanged:
    node: str
    link: str
    status: str


@dataclass(frozen=True)
class LateHeartbeat:
    node: str
    interval_ms: int
    beyond_deadtime: bool


@dataclass
class Link:
    name: str
    status: str = LINK_DEAD
    last_heard: float | None = None


@dataclass
class Node:
    name: str
    kind: str = NORMAL
    status: str = INIT
    deadtime: float = 30.0              # what this node asked for (its `dt`), seconds
    last_status: float | None = None    # when its last status arrived (local clock)
    heard: bool = False                 # any packet since we started or it died
    links: dict[str, Link] = field(default_factory=dict)
    joined: float | None = None         # when autojoin added it (None: from ha.cf)


class Membership:
    """The node table of one daemon."""

    def __init__(self, local: str, nodes: list[str], links: list[str], *, deadtime: float,
                 warntime: float, initdead: float, now: float, ping_nodes: tuple[str, ...] = ()):
        self.local = local
        self.deadtime, self.warntime, self.initdead = deadtime, warntime, initdead
        self.started = now
        self.comm_up = False
        self.nodes: dict[str, Node] = {}
        self.link_names = list(dict.fromkeys(links))
        for name in nodes:
            self._add(name)
        for name in ping_nodes:
            self.nodes.setdefault(name, Node(name, kind=PING, status=DEAD, deadtime=deadtime))
        if local not in self.nodes:
            raise ValueError(f"local node {local!r} is not a cluster node")

    # -- reading ---------------------------------------------------------------------

    def status_of(self, name: str) -> str | None:
        node = self.nodes.get(name.lower())
        return None if node is None else node.status

    def peers(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.kind == NORMAL and n.name != self.local]

    def live_peers(self) -> list[str]:
        return [p for p in self.peers() if self.nodes[p].status in (UP, ACTIVE)]

    def all_heard(self) -> bool:
        """3.0.6's check_comm_isup: every normal node heard from or declared dead."""
        return all(n.heard or n.status == DEAD or n.name == self.local
                   for n in self.nodes.values() if n.kind == NORMAL)

    # -- changing ----------------------------------------------------------------------

    def set_local_status(self, status: str) -> bool:
        node = self.nodes[self.local]
        if node.status == status:
            return False
        node.status = status
        return True

    def packet(self, name: str, link: str | None, now: float) -> list[LinkChanged]:
        """Any accepted packet (duplicates too) from `name`, received on `link`."""
        node = self.nodes[name]
        node.heard = True
        found = node.links.get(link) if link is not None else None
        if found is None:
            return []
        found.last_heard = now
        if found.status != LINK_UP:
            found.status = LINK_UP
            return [LinkChanged(name, link, LINK_UP)]
        return []

    def join(self, name: str, now: float) -> bool:
        """`autojoin`: a node in no `node` line sent an authentic packet; it is a normal
        node from now on, given its deadtime from this moment. False if already known."""
        if name in self.nodes:
            return False
        self._add(name).joined = now
        return True

    def _add(self, name: str) -> Node:
        node = Node(name, deadtime=self.deadtime)
        node.links = {n: Link(n) for n in self.link_names}
        self.nodes[name] = node
        return node

    def restarted(self, name: str) -> None:
        """The node came back with a higher generation: its earlier timing is void."""
        self.nodes[name].last_status = None

    def status(self, name: str, status: str, dt_ms: int | None, now: float) -> list:
        """A status message from `name` (already known to be in sequence)."""
        node = self.nodes[name]
        events: list = []
        if node.last_status is not None and node.status != DEAD and name != self.local:
            interval = now - node.last_status
            if interval > self.deadtime:
                events.append(LateHeartbeat(name, round(interval * 1000), True))
            elif interval > self.warntime:
                events.append(LateHeartbeat(name, round(interval * 1000), False))
        if status != node.status and name != self.local:
            events.append(StatusChanged(name, node.status, status))
            node.status = status
        if dt_ms is not None and dt_ms > 0:
            node.deadtime = dt_ms / 1000
        node.last_status = now
        return events

    def tick(self, now: float) -> list:
        """Declare dead what has been silent too long; links after nodes, as 3.0.6."""
        events: list = []
        for node in self.nodes.values():
            if node.kind != NORMAL or node.name == self.local or node.status == DEAD:
                continue
            if now - self._last_word(node) > self._allowed(node):
                events.append(NodeDied(node.name))
                events.append(StatusChanged(node.name, node.status, DEAD))
                node.status = DEAD
                node.heard = False
        for node in self.nodes.values():
            if node.kind != NORMAL or node.name == self.local:
                continue
            allowed = self._allowed(node)
            for link in node.links.values():
                if link.status == LINK_DEAD:
                    continue
                if now - (link.last_heard if link.last_heard is not None else self.started) > allowed:
                    link.status = LINK_DEAD
                    events.append(LinkChanged(node.name, link.name, LINK_DEAD))
        return events

    def next_deadline(self) -> float | None:
        """The earliest time at which tick() could declare something dead."""
        times = []
        for node in self.nodes.values():
            if node.kind != NORMAL or node.name == self.local:
                continue
            allowed = self._allowed(node)
            if node.status != DEAD:
                times.append(self._last_word(node) + allowed)
            times.extend((link.last_heard or self.started) + allowed
                         for link in node.links.values() if link.status == LINK_UP)
        return min(times) if times else None

    def _last_word(self, node: Node) -> float:
        if node.last_status is not None:
            return node.last_status
        return node.joined if node.joined is not None else self.started

    def _allowed(self, node: Node) -> float:
        return node.deadtime if self.comm_up else self.initdead
