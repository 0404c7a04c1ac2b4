"""Carry planned steps to the engine (drbd_py.engine.client), starting it when needed.

The engine is written separately; it is imported lazily so that drbdadm's
configuration commands (dump, sh-*, -d) work without it, and everything else
fails with one clear line when it is absent or not running.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from .errors import EngineNotRunning, ExecError
from .plan import Step

EXIT_NO_ENGINE = 20  # what drbdsetup returns when it cannot reach the kernel module
ENGINE_START_SECONDS = 10.0


def _client():
    try:
        from ..engine import client  # written by the engine's author, see docs/drbd-control.md
    except ImportError:
        raise ExecError("drbdadm: the replication engine is not installed "
                        "(drbd_py.engine.client is missing)", EXIT_NO_ENGINE) from None
    if not callable(getattr(client, "request", None)):
        raise ExecError("drbdadm: drbd_py.engine.client has no request(message) "
                        "(see docs/drbd-control.md)", EXIT_NO_ENGINE)
    return client


class Engine:
    """One node's engine, reached over its control socket."""

    def __init__(self):
        self._client = None

    def request(self, message: dict) -> dict:
        if self._client is None:
            self._client = _client()
        try:
            return self._client.request(message)
        except OSError as err:
            raise EngineNotRunning(f"drbdadm: no DRBD engine is running ({err.strerror or err}); "
                                   "start it with 'drbdadm up'", EXIT_NO_ENGINE) from None

    def running(self) -> bool:
        try:
            self.request({"op": "status", "v": 1})
        except EngineNotRunning:
            return False
        return True

    def ensure_running(self) -> None:
        """Start `drbd-py-engine` unless one already answers, and wait until it does."""
        if self.running():
            return
        program = shutil.which("drbd-py-engine")
        command = [program] if program else [
            sys.executable, "-c", "from drbd_py.engine.daemon import main; main()"]
        with open(os.devnull, "r+b") as null:
            child = subprocess.Popen(command, stdin=null, stdout=null, stderr=null,
                                     start_new_session=True, close_fds=True)
        deadline = time.monotonic() + ENGINE_START_SECONDS
        while time.monotonic() < deadline:
            if self.running():
                return
            code = child.poll()
            if code:  # 0 may be a parent that forked the daemon off: keep waiting
                raise ExecError(f"drbdadm: the DRBD engine (drbd-py-engine) exited with "
                                f"code {code}", EXIT_NO_ENGINE)
            time.sleep(0.05)
        raise ExecError("drbdadm: the DRBD engine (drbd-py-engine) did not start", EXIT_NO_ENGINE)

    def run(self, step: Step) -> dict:
        """Send one step; raise ExecError with the engine's message and code on refusal."""
        reply = self.request(step.request())
        if not reply.get("ok"):
            raise ExecError(str(reply.get("error", f"{step.op} failed")),
                            int(reply.get("code", 10)))
        return reply


def run_meta(step: Step) -> None:
    """create-md, dump-md, wipe-md, get-gi, show-gi: on the backing disk, done here."""
    try:
        from ..engine import metadata
    except ImportError:
        raise ExecError("drbdadm: meta-data support is not installed "
                        "(drbd_py.engine.metadata is missing)", EXIT_NO_ENGINE) from None
    args = step.args
    where = (args["disk"], args["meta_disk"], args["meta_index"])
    try:
        if step.op == "create-md":
            metadata.create_md(*where, args["force"], al_extents=args["al_extents"])
        elif step.op == "wipe-md":
            metadata.wipe_md(*where, args["force"])
        else:
            found = metadata.read_md(*where)
            if step.op == "dump-md":
                print(metadata.format_dump(found), end="")
            elif step.op == "get-gi":
                print(metadata.format_gi(found.sb), end="")
            else:
                print(metadata.format_show_gi(found.sb), end="")
    except metadata.MetadataError as err:
        # drbdmeta's explanation may already be on the terminal; then only the code.
        raise ExecError("" if err.shown else str(err.message), err.code) from None
    except OSError as err:
        raise ExecError(f"{args['disk']}: {err.strerror or err}", 20) from None
