"""Acquire and release haresources groups, as heartbeat 3.0.6's ResourceManager did.

Acquire: for each resource left to right, nothing if its `status` says running, else
`start`; a failed start stops the whole group again, right to left, and the group is
reported failed. Release: `stop` right to left, a failed stop retried once a second
up to HA_STOPRETRYMAX times (10); then, if `status` still says running, the group is
"stop failed": it is still ours and must never be reported released. (3.0.6 rebooted
the machine at that point; we keep running and keep the group, see
docs/heartbeat-resources.md.) A stop that fails while status says stopped is a
non-LSB script: logged, and the release goes on, as in 3.0.6.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config.haresources import Resource, ResourceGroup
from .runner import ScriptResult, ScriptRunner

DEFAULT_STOP_RETRIES = 10       # ResourceManager's HA_STOPRETRYMAX
MAX_STOP_RETRIES = 3600         # "0 = for ever" in 3.0.6; we stop after an hour
STOP_RETRY_DELAY_S = 1.0


@dataclass(frozen=True)
class GroupOutcome:
    group: ResourceGroup
    action: str                         # acquire | release
    ok: bool
    failed: Resource | None = None      # the resource whose start/stop failed
    stop_failed: bool = False           # something could not be stopped: still ours


def stop_retries(env: Mapping[str, str]) -> int:
    """HA_STOPRETRYMAX as ResourceManager reads it; 0 or less meant retry for ever."""
    try:
        value = int(env.get("HA_STOPRETRYMAX", DEFAULT_STOP_RETRIES))
    except ValueError:
        return DEFAULT_STOP_RETRIES
    return MAX_STOP_RETRIES if value <= 0 else min(value, MAX_STOP_RETRIES)


class GroupRunner:
    def __init__(self, runner: ScriptRunner, find_script: Callable[[str], Path | None],
                 log: logging.Logger, *, retries: int = DEFAULT_STOP_RETRIES,
                 retry_delay: float = STOP_RETRY_DELAY_S):
        self.runner = runner
        self.find_script = find_script
        self.log = log
        self.retries = retries
        self.retry_delay = retry_delay

    async def _call(self, resource: Resource, action: str, *, announce: bool) -> ScriptResult | None:
        """Run one action; None (and the 3.0.6 error line) when the script is missing."""
        path = self.find_script(resource.script)
        if path is None:
            self.log.error("Cannot locate resource script %s", resource.script)
            return None
        argv = resource.command(path, action)
        if announce:
            self.log.info("Running %s", " ".join(argv))
        result = await self.runner.run(argv, action)
        if announce and not result.ok:
            how = (f"Return code {result.exit_code} from {path}" if result.exit_code is not None
                   else f"{path} {action} {result.describe()}")
            self.log.error("%s", how)
        return result

    async def is_running(self, resource: Resource) -> bool:
        result = await self._call(resource, "status", announce=False)
        return result is not None and result.says_running()

    async def acquire(self, group: ResourceGroup) -> GroupOutcome:
        self.log.info("Acquiring resource group: %s", group.text())
        for resource in group.resources:
            if await self.is_running(resource):
                continue
            result = await self._call(resource, "start", announce=True)
            if result is not None and result.ok:
                continue
            self.log.critical("Giving up resources due to failure of %s", resource.raw)
            undone = await self.release(group)
            return GroupOutcome(group, "acquire", False, resource, undone.stop_failed)
        return GroupOutcome(group, "acquire", True)

    async def release(self, group: ResourceGroup) -> GroupOutcome:
        self.log.info("Releasing resource group: %s", group.text())
        for resource in reversed(group.resources):
            if not await self._stop(resource):
                return GroupOutcome(group, "release", False, resource, stop_failed=True)
        return GroupOutcome(group, "release", True)

    async def _stop(self, resource: Resource) -> bool:
        """Stop with retries; False when it failed and the resource still runs."""
        attempt = 0
        while True:
            result = await self._call(resource, "stop", announce=True)
            if result is not None and result.ok:
                return True
            if result is None or attempt >= self.retries:
                break
            attempt += 1
            await asyncio.sleep(self.retry_delay)
            self.log.info("Retrying failed stop operation [%s]", resource.raw)
        if await self.is_running(resource):
            self.log.critical("Resource STOP failure: %s is still running.", resource.raw)
            return False
        self.log.error("Resource script for %s probably not LSB-compliant.", resource.raw)
        self.log.warning("it (%s) MUST succeed on a stop when already stopped", resource.raw)
        return True
