"""External commands and processes, run without blocking the engine's event loop.

The kernel sends the device's I/O back to the engine's own NBD server: a blocking
wait here (losetup, mkfs's flush, umount) would deadlock it, so every command runs
as an asyncio subprocess with a deadline.
"""
import asyncio
import os
import signal
import time

from .state import DeviceError


class CommandTimeout(DeviceError):
    """A DeviceError: callers report it in one line like any other device failure."""


async def run(argv: list[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """Run argv; return (exit code, stdout, stderr). Killed and CommandTimeout after timeout."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise CommandTimeout(f"{argv[0]}: no answer after {timeout:g}s") from None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def poll(condition, timeout: float, interval: float = 0.02) -> bool:
    """Await until condition() is true or the deadline passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        await asyncio.sleep(interval)


def start_time(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, in clock ticks since boot."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def same_process(pid: int | None, started: int | None) -> bool:
    return pid is not None and started is not None and start_time(pid) == started


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
