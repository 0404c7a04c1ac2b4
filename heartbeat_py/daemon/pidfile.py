"""/var/run/heartbeat.pid, read and written the way heartbeat 3.0.6 (cluster-glue's
cl_read_pidfile) does: the pid right-aligned in 10 columns and a newline. Reading
answers with LSB status numbers, which `heartbeat -s` uses as its exit code."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LSB_STATUS_OK = 0
LSB_STATUS_VAR_PID = 1      # a pidfile, but no such process
LSB_STATUS_STOPPED = 3      # no pidfile


@dataclass(frozen=True)
class PidState:
    pid: int | None         # the running daemon's pid, when it runs
    status: int             # LSB status


def is_alive(pid: int) -> bool:
    """Does PID run (a zombie does not count: it has stopped, only its parent has
    not collected it yet)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _is_heartbeat(pid: int) -> bool:
    """Is PID alive and a heartbeat (ours or 3.0.6), not a recycled number?"""
    if not is_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return True         # cannot tell: believe the pidfile, as 3.0.6 does
    return b"heartbeat" in cmdline


def read_pidfile(path: Path) -> PidState:
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return PidState(None, LSB_STATUS_STOPPED)
    except OSError:
        return PidState(None, LSB_STATUS_VAR_PID)
    try:
        pid = int(text.strip())
    except ValueError:
        return PidState(None, LSB_STATUS_VAR_PID)
    if pid <= 0 or not _is_heartbeat(pid):
        return PidState(None, LSB_STATUS_VAR_PID)
    return PidState(pid, LSB_STATUS_OK)


def write_pidfile(path: Path, pid: int) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{pid}")
    tmp.write_text("%10d\n" % pid)
    os.replace(tmp, path)


def remove_pidfile(path: Path, pid: int) -> None:
    """Remove the pidfile if it is still ours."""
    try:
        if int(Path(path).read_text().strip()) == pid:
            Path(path).unlink()
    except (OSError, ValueError):
        pass
