"""Reusable payload buffers for large NBD writes.

A write payload is received straight into one of these (recv_into) and handed to the
backend as a memoryview. After the backend's write() returns, the buffer goes back to
the pool only if nothing else still refers to it: a backend that queued a slice of the
view (say, in a socket transport's send buffer) keeps its data intact, the pool simply
allocates a fresh buffer next time.
"""
import sys

SMALL = 64 * 1024          # below this, a fresh bytearray is cheaper than bookkeeping


class BufferPool:
    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        self._free: dict[int, list[bytearray]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes

    def take(self, size: int) -> bytearray:
        if size >= SMALL:
            free = self._free.get(size)
            if free:
                self._bytes -= size
                return free.pop()
        return bytearray(size)

    def give_back(self, buf: bytearray, view: memoryview) -> None:
        """Return `buf` (and release `view`, the one view handed out) if nobody kept either.

        The caller must hold exactly one reference to each (its local variable).
        """
        size = len(buf)
        # getrefcount counts its own argument and the caller's variable (+ the frame's
        # argument here): anything above that is a holder outside our control.
        if sys.getrefcount(view) > 3:
            return
        view.release()
        if size < SMALL or self._bytes + size > self._max_bytes or sys.getrefcount(buf) > 3:
            return
        self._free.setdefault(size, []).append(buf)
        self._bytes += size
