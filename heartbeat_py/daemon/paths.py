"""Where the daemon keeps its run-time files: the places heartbeat 3.0.6 uses, so that
init scripts and monitoring that look there keep working.

HBPY_ROOT=/some/dir puts all of them under that folder (tests outside a test node);
a test node has its own /run and /var/lib/heartbeat and uses the real places.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "HBPY_ROOT"


@dataclass(frozen=True)
class Paths:
    pidfile: Path = Path("/var/run/heartbeat.pid")
    rundir: Path = Path("/var/run/heartbeat")
    varlib: Path = Path("/var/lib/heartbeat")

    @property
    def control_socket(self) -> Path:
        return self.rundir / "hbpy-control.sock"

    @property
    def rsctmp(self) -> Path:
        """Where resource scripts keep their state (3.0.6's HA_RSCTMP)."""
        return self.rundir / "rsctmp"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        root = env.get(ROOT_ENV)
        if not root:
            return cls()
        base = cls()
        return cls(*(Path(root) / str(p).lstrip("/") for p in (base.pidfile, base.rundir, base.varlib)))
