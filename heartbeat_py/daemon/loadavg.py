"""The sender's load average, for the `ld` field of every sequenced packet."""
from __future__ import annotations

import os


class LoadAvg:
    """/proc/loadavg for the `ld` field of every packet we send: the file is kept open
    and re-read with pread, since opening it twice a second was a visible share of an
    idle daemon's CPU."""

    FALLBACK = "0.00 0.00 0.00 1/1 1"

    def __init__(self, path: str = "/proc/loadavg"):
        self.path = path
        self._fd: int | None = None

    def read(self) -> str:
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(self._fd, 256, 0).decode("ascii", "replace").strip() or self.FALLBACK
        except OSError:
            self.close()
            return self.FALLBACK

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
