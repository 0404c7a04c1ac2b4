"""The engine's log: syslog-style lines (`Nov 25 07:40:52 node drbd-py-engine[pid]:
drbd1: conn( WFConnection -> WFReportParams )`) to its log file, to syslog when
/dev/log exists, and to stderr in the foreground."""
from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys

PROGRAM = "drbd-py-engine"


class _Prefix(logging.Filter):
    """Every record gets a `prefix` (drbdN, drbd r0, or the program)."""

    def filter(self, record: logging.LogRecord) -> bool:
        prefix = getattr(record, "prefix", None)
        record.where = f"{prefix}: " if prefix else ""
        return True


def setup(logfile: str | None, foreground: bool, debug: bool = False) -> logging.Logger:
    log = logging.getLogger("drbd_py")
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
    host = socket.gethostname()
    line = logging.Formatter(
        f"%(asctime)s {host} {PROGRAM}[%(process)d]: %(where)s%(message)s",
        datefmt="%b %d %H:%M:%S")
    handlers: list[logging.Handler] = []
    if logfile:
        try:
            os.makedirs(os.path.dirname(logfile) or ".", exist_ok=True)
            handlers.append(logging.FileHandler(logfile))
        except OSError as e:
            sys.stderr.write(f"{PROGRAM}: cannot open log file {logfile}: {e.strerror}\n")
    if os.path.exists("/dev/log"):
        try:
            sys_handler = logging.handlers.SysLogHandler(
                "/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON)
            sys_handler.setFormatter(logging.Formatter(
                f"{PROGRAM}[%(process)d]: %(where)s%(message)s"))
            sys_handler.addFilter(_Prefix())
            log.addHandler(sys_handler)
        except OSError:
            pass
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(line)
        handler.addFilter(_Prefix())
        log.addHandler(handler)
    log.propagate = False
    return log
