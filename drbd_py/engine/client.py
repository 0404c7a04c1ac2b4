"""The client drbdadm (and drbdsetup-py, the init script) use to reach the engine.

    request({"op": "status", "v": 1}) -> reply dict, as sent (ok true or false)
    request("primary", resource="r0", force=True) -> reply dict; a refusal raises
        EngineRefused(code, message) with drbdadm's exit code and text
    engine_running() -> bool;  start_engine() daemonizes drbd-py-engine and waits
Both raise OSError (FileNotFoundError, ConnectionRefusedError) when no engine listens.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

from . import paths

# steps that may block for as long as the admin asked
_UNBOUNDED = ("wait-connect", "wait-sync")
DEFAULT_TIMEOUT = 180.0


class EngineRefused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _exchange(message: dict, rundir: str | None, timeout: float | None) -> dict:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(paths.socket_path(rundir))
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the engine closed the control connection")
            data += chunk
    finally:
        sock.close()
    return json.loads(data)


def request(op, rundir: str | None = None, timeout: float | None = None, **args) -> dict:
    if isinstance(op, dict):
        message = dict(op)
        message.setdefault("v", 1)
        raw = True
    else:
        message = {"op": op, "v": 1, **args}
        raw = False
    if timeout is None and message.get("op") not in _UNBOUNDED:
        timeout = DEFAULT_TIMEOUT
    reply = _exchange(message, rundir, timeout)
    if not raw and not reply.get("ok"):
        raise EngineRefused(int(reply.get("code", 10)), str(reply.get("error", "")))
    return reply


def engine_running(rundir: str | None = None) -> bool:
    try:
        _exchange({"op": "status", "v": 1}, rundir, 5.0)
    except (OSError, ValueError):
        return False
    return True


def start_engine(rundir: str | None = None, timeout: float = 10.0) -> None:
    """Start drbd-py-engine (it daemonizes itself) unless one answers; wait for it."""
    if engine_running(rundir):
        return
    program = shutil.which("drbd-py-engine")
    command = [program] if program else [sys.executable, "-m", "drbd_py.engine.daemon"]
    if rundir:
        command.append(f"--rundir={rundir}")
    subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, close_fds=True, check=False, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_running(rundir):
            return
        time.sleep(0.05)
    raise TimeoutError(f"drbd-py-engine did not answer on {paths.socket_path(rundir)}")
