"""What the daemon offers the resource layer (heartbeat_py.resources.ResourceManager).

The contract is written down in docs/heartbeat-daemon.md (section 1); this object is
the only thing of the daemon the resource layer holds.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from heartbeat_py.config import HAConfig
from heartbeat_py.wire import Message

if TYPE_CHECKING:
    from .core import Daemon

class DaemonApi:
    def __init__(self, daemon: Daemon):
        self._daemon = daemon

    @property
    def local_node(self) -> str:
        """Our node name, lower-case."""
        return self._daemon.local

    @property
    def nodes(self) -> list[str]:
        """The cluster's normal nodes (ourselves included), lower-case, in ha.cf order."""
        return list(self._daemon.config.hacf.nodes)

    @property
    def config(self) -> HAConfig:
        return self._daemon.config

    @property
    def log(self) -> logging.Logger:
        return self._daemon.log

    @property
    def comm_is_up(self) -> bool:
        return self._daemon.comm_up

    def node_status(self, node: str) -> str:
        """init, up, active or dead (dead for a node we do not know)."""
        return self._daemon.node_status(node) or "dead"

    def send(self, msg) -> None:
        """Stamp, sign, remember for retransmission and send on every medium.
        `msg`: a heartbeat_py.wire.Message or a heartbeat_py.wire.kinds object."""
        if not isinstance(msg, Message):
            msg = msg.to_message()
        self._daemon.send(msg)

    def stable_hint(self, unstable: bool) -> None:
        """A resource child is running (True) or all finished (False): while one runs
        we advertise 2 s more deadtime, as 3.0.6 does around its children."""
        self._daemon.child_running(unstable)
