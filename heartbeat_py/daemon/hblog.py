"""heartbeat's log lines, to logfile, debugfile, syslog and (while starting) stderr.

The line format is cluster-glue's as Debian's heartbeat 3.0.6 writes it:

    Nov 25 06:37:17 nodeA heartbeat: [6461]: info: Link nodeb:eth0 up.

(date, host as `uname -n` gives it, entity, pid, level word, message). syslog gets
`heartbeat: [6461]: info: ...` with the `logfacility` facility. debugfile receives
every line, logfile every line but debug ones. Each line opens and closes its file,
as cluster-glue does, so logrotate needs no signal.

Packets that fail checks arrive at the rate an attacker likes: `RateLimiter` lets a
few lines per kind through and then counts, so the log cannot be flooded.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys
import time
from dataclasses import dataclass, field

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LEVEL_WORDS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "WARN",
               logging.ERROR: "ERROR", logging.CRITICAL: "CRIT"}
SYSLOG_SOCKET = "/dev/log"


def timestamp(when: float | None = None) -> str:
    """`Nov 25 06:37:17`, in English whatever the locale."""
    t = time.localtime(time.time() if when is None else when)
    return f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def level_word(levelno: int) -> str:
    return LEVEL_WORDS.get(levelno, "info" if levelno < logging.WARNING else "ERROR")


class LineFormatter(logging.Formatter):
    """`DATE HOST ENTITY: [PID]: LEVEL: MESSAGE`; for syslog (with_host=False)
    `DATE ENTITY: [PID]: LEVEL: MESSAGE`, what glibc's syslog(3) sends."""

    def __init__(self, entity: str = "heartbeat", host: str | None = None, with_host: bool = True):
        super().__init__()
        self.entity = entity
        self.host = host if host is not None else os.uname().nodename
        self.with_host = with_host

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            # a traceback stays on one line: log watchers read lines
            text += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        text = text.replace("\n", " ")
        head = f"{self.entity}: [{record.process}]: {level_word(record.levelno)}: {text}"
        if not self.with_host:
            return f"{timestamp(record.created)} {head}"
        return f"{timestamp(record.created)} {self.host} {head}"


class AppendFileHandler(logging.Handler):
    """Append one line per record to PATH, opening the file each time."""

    def __init__(self, path: str, level: int = logging.NOTSET):
        super().__init__(level)
        self.path = path
        self._failing = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            with open(self.path, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(line)
            self._failing = False
        except OSError as e:
            if not self._failing:       # say it once, where someone may see it
                self._failing = True
                print(f"Cannot open {self.path}: {e.strerror}", file=sys.stderr)


class QuietSysLogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler that does not print tracebacks when /dev/log is missing."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def syslog_handler(facility: str, socket_path: str = SYSLOG_SOCKET) -> logging.Handler | None:
    """A handler for `logfacility FACILITY`, or None for `none` or a missing /dev/log."""
    code = logging.handlers.SysLogHandler.facility_names.get(facility)
    if code is None:
        return None
    try:
        handler = QuietSysLogHandler(address=socket_path, facility=code,
                                     socktype=socket.SOCK_DGRAM)
    except OSError:
        return None
    handler.append_nul = False
    return handler


@dataclass
class LogTargets:
    logfile: str | None = None
    debugfile: str | None = None
    facility: str | None = None         # None or "none": no syslog
    stderr: bool = False
    debug: int = 0


def make_logger(targets: LogTargets, entity: str = "heartbeat", host: str | None = None,
                syslog_socket: str = SYSLOG_SOCKET) -> logging.Logger:
    """A logger of its own (not registered with the logging module, so two daemons
    in one test process do not share handlers) writing to TARGETS."""
    logger = logging.Logger(entity)
    configure(logger, targets, entity, host, syslog_socket)
    return logger


def configure(logger: logging.Logger, targets: LogTargets, entity: str = "heartbeat",
              host: str | None = None, syslog_socket: str = SYSLOG_SOCKET) -> None:
    """(Re)point LOGGER at TARGETS (after a reload, or when leaving the terminal)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG if targets.debug > 0 else logging.INFO)
    dated = LineFormatter(entity, host)
    if targets.debugfile and targets.debugfile != "/dev/null":
        handler = AppendFileHandler(targets.debugfile)
        handler.setFormatter(dated)
        logger.addHandler(handler)
    if targets.logfile and targets.logfile != "/dev/null":
        handler = AppendFileHandler(targets.logfile, logging.INFO)
        handler.setFormatter(dated)
        logger.addHandler(handler)
    if targets.facility and targets.facility != "none":
        handler = syslog_handler(targets.facility, syslog_socket)
        if handler is not None:
            handler.setFormatter(LineFormatter(entity, host, with_host=False))
            handler.setLevel(logging.INFO)
            logger.addHandler(handler)
    if targets.stderr:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(dated)
        logger.addHandler(handler)


@dataclass
class RateLimiter:
    """At most `burst` lines per key every `interval` seconds; what is held back is
    counted and reported with the next line that gets through."""

    burst: int = 5
    interval: float = 10.0
    _windows: dict = field(default_factory=dict)    # key -> [window start, lines, held back]

    def allow(self, key, now: float) -> tuple[bool, int]:
        """(may log now, how many were held back before this one)."""
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.interval:
            held = window[2] if window else 0
            self._windows[key] = [now, 1, 0]
            if len(self._windows) > 1000:       # forged keys must not grow this forever
                oldest = min(self._windows, key=lambda k: self._windows[k][0])
                del self._windows[oldest]
            return True, held
        if window[1] < self.burst:
            window[1] += 1
            return True, 0
        window[2] += 1
        return False, 0
