"""Where the engine keeps its files (docs/drbd-control.md); environment overrides for
tests and unusual setups."""
from __future__ import annotations

import os

DEFAULT_RUNDIR = "/run/drbd-py"
DEFAULT_LOGFILE = "/var/log/drbd-py-engine.log"


def rundir() -> str:
    return os.environ.get("DRBD_PY_RUNDIR") or DEFAULT_RUNDIR


def socket_path(base: str | None = None) -> str:
    return os.path.join(base or rundir(), "engine.sock")


def pid_path(base: str | None = None) -> str:
    return os.path.join(base or rundir(), "engine.pid")


def status_path(base: str | None = None) -> str:
    return os.path.join(base or rundir(), "proc-drbd")


def nbd_socket(base: str | None, minor: int) -> str:
    return os.path.join(base or rundir(), "nbd", f"{minor}.sock")


def logfile() -> str:
    return os.environ.get("DRBD_PY_LOGFILE") or DEFAULT_LOGFILE


def devices_enabled() -> bool:
    """DRBD_PY_DEVICES=0 serves volumes on their NBD sockets only (no /dev/drbdN)."""
    return os.environ.get("DRBD_PY_DEVICES", "1") not in ("0", "no", "false")
