"""A drift-free repeating timer on the event loop (the keepalive pace)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable


class Periodic:
    """Call `action` every `interval()` seconds on the loop without drifting; after a
    stall, carry on from now rather than firing a burst. A plain timer handle, not a
    task sleeping in a loop: an idle daemon's wake-ups are most of its CPU."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: Callable[[], float],
                 action: Callable[[], None], log: logging.Logger):
        self.loop, self.interval, self.action, self.log = loop, interval, action, log
        self._next_at = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        step = self.interval()
        self._next_at += step
        now = self.loop.time()
        if self._next_at - now < -step:
            self._next_at = now
        self._handle = self.loop.call_at(self._next_at, self._fire)

    def _fire(self) -> None:
        try:
            self.action()
        except Exception:
            self.log.error("internal error in a timer", exc_info=True)
        self._arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
