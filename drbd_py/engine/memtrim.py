"""Hand freed heap back to the kernel after a burst of large buffers.

A resync moves its data through many short-lived buffers; glibc keeps the freed heap
for reuse, so an engine that synced once would idle with that memory resident for the
rest of its life. malloc_trim(0) returns what is free. It is called on rare events
(start, the end of a resync), never on the I/O path.
"""
import ctypes

try:
    _malloc_trim = ctypes.CDLL(None).malloc_trim
    _malloc_trim.argtypes = [ctypes.c_size_t]
    _malloc_trim.restype = ctypes.c_int
except (OSError, AttributeError):        # not glibc (musl has no malloc_trim)
    _malloc_trim = None


def give_back_free_heap() -> bool:
    """True if memory was returned to the system."""
    return bool(_malloc_trim(0)) if _malloc_trim is not None else False
