"""Run one resource script action as a child process, never blocking the event loop.

A script is called the legacy way (`SCRIPT [args...] start|stop|status`) with stdin on
/dev/null (with a terminal there, heartbeat's scripts log to stderr only), in its own
session so that a timeout can end the whole process group (a script's own children,
e.g. a background arping, included). Its output is logged line by line
once the script has ended, on the daemon's logger: at debug level, where 3.0.6's
ResourceManager sent it (the debug log), or at warning level when a start or stop
failed, so that the reason of a failure is in the main log too.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# The action timeouts. heartbeat 3.0.6 had none (a hung script hung resource handling
# for good); ours are long enough for an fsck or a slow drbd promotion.
DEFAULT_TIMEOUTS = {"start": 300.0, "stop": 300.0, "status": 60.0}
KILL_GRACE_S = 5.0          # between SIGTERM and SIGKILL of a timed-out script
MAX_OUTPUT_BYTES = 64 * 1024

# ResourceManager's reading of a status answer (`we_own_resource`).
_NOT_RUNNING = re.compile(r"[Nn][Oo][Tt] .*[Rr]unning", re.S)
_RUNNING = re.compile(r"[Rr]unning|OK")


@dataclass(frozen=True)
class ScriptResult:
    argv: tuple[str, ...]
    exit_code: int | None           # None: ended by a signal, or never started
    stdout: str = ""
    stderr: str = ""
    signal: int | None = None
    timed_out: bool = False
    error: str | None = None        # why it could not be started

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """How it ended, in 3.0.6's words (`rctomsg`) plus ours for timeouts."""
        if self.error is not None:
            return f"could not be run: {self.error}"
        if self.timed_out:
            return "timed out and was killed"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return f"exited with return code {self.exit_code}"

    def says_running(self) -> bool:
        """The status answer as heartbeat decides it.

        ResourceManager reads stdout only: `not ... running` means stopped; `running`,
        `Running` or `OK` anywhere means running. A script that prints nothing speaks
        by exit code alone (LSB: 0 is running).
        """
        if self.error is not None or self.timed_out:
            return False
        if not self.stdout.strip():
            return self.exit_code == 0
        if _NOT_RUNNING.search(self.stdout):
            return False
        return bool(_RUNNING.search(self.stdout))


@dataclass
class ScriptRunner:
    """Runs script actions with one environment; remembers the running ones so that
    close() can end them when the daemon exits."""

    env: Mapping[str, str]
    log: logging.Logger
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    kill_grace: float = KILL_GRACE_S
    _running: set = field(default_factory=set, repr=False)

    async def run(self, argv: Sequence[str], action: str | None = None,
                  extra_env: Mapping[str, str] | None = None) -> ScriptResult:
        argv = tuple(os.fspath(a) for a in argv)
        action = action or argv[-1]
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        # Output goes to unlinked files, not pipes: a script may leave a background
        # child (a gratuitous-ARP sender) holding its stdout, and must not be waited
        # for because of it.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
                    env=env, cwd="/", start_new_session=True)
            except OSError as e:
                return ScriptResult(argv, None, error=e.strerror or str(e))
            self._running.add(proc)
            timed_out = False
            try:
                await asyncio.wait_for(proc.wait(), self.timeouts.get(action))
            except asyncio.TimeoutError:
                timed_out = True
                self.log.error("%s %s: no answer after %gs, killing it",
                               " ".join(argv[:-1]), action, self.timeouts.get(action))
                await self._kill(proc)
            finally:
                self._running.discard(proc)
            stdout, stderr = _read_back(out), _read_back(err)
        code = proc.returncode
        result = ScriptResult(argv, code if code is not None and code >= 0 else None,
                              stdout, stderr, -code if code is not None and code < 0 else None,
                              timed_out)
        name = os.path.basename(argv[0])
        failed = not result.ok and action != "status"
        for line in (stdout + stderr).splitlines():
            if line.strip():
                (self.log.warning if failed else self.log.debug)("%s: %s", name, line)
        return result

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                await asyncio.wait_for(proc.wait(), self.kill_grace)
                return
            except asyncio.TimeoutError:
                continue

    def close(self) -> None:
        """End every script still running (the daemon is exiting)."""
        for proc in list(self._running):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._running.clear()


def _read_back(file) -> str:
    file.seek(0)
    return file.read(MAX_OUTPUT_BYTES).decode("utf-8", "replace")
