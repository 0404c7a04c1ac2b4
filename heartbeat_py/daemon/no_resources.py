"""The stand-in for the resource layer: a node that holds nothing.

Used under `heartbeat -M` and until heartbeat_py.resources provides ResourceManager.
It still speaks enough of the v1 resource protocol that a 3.0.6 peer with
nice_failback is content: it answers `starting` with `resource none, stable`, and
tells the peers when it shuts down.
"""
from __future__ import annotations

from heartbeat_py.wire import kinds
from heartbeat_py.wire.fields import RSC_NONE, T_STARTING


class NoResources:
    def __init__(self, api, config):
        self.api = api
        self.config = config

    def start(self) -> None:
        pass

    def comm_up(self) -> None:
        pass

    def node_status(self, node: str, old: str | None, new: str) -> None:
        pass

    def node_restarted(self, node: str) -> None:
        pass

    def message(self, msg) -> None:
        if msg.type == T_STARTING:
            self.api.send(kinds.Resources.held(RSC_NONE, True))

    async def standby(self, which: str) -> tuple[int, str]:
        self.api.log.info("Going standby [%s]: this node manages no resources.", which)
        return 0, ""

    async def takeover(self, which: str) -> tuple[int, str]:
        self.api.log.info("Takeover [%s]: this node manages no resources.", which)
        return 0, ""

    async def shutdown(self) -> bool:
        self.api.send(kinds.Resources.held(RSC_NONE, False, "shutdown"))
        return True

    def rscstatus(self) -> str:
        return RSC_NONE

    def reload(self, config) -> None:
        self.config = config

    def close(self) -> None:
        pass
