"""Polling with a deadline: the only way tests wait for a condition."""
import time


class WaitTimeout(AssertionError):
    """The condition stayed false until the deadline."""


def wait_until(condition, timeout, interval=0.05, message=None, ignore=()):
    """Call `condition()` until it returns a truthy value; return that value.

    Raise WaitTimeout after `timeout` seconds, naming `message` (or the
    condition) and the last value seen.  Exceptions listed in `ignore` count
    as "not yet" (e.g. FileNotFoundError while a daemon starts); any other
    exception propagates at once, so a broken condition is not mistaken for
    a slow one.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = condition()
        except ignore as exc:  # an expected "not yet"
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            what = message or getattr(condition, "__name__", repr(condition))
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
