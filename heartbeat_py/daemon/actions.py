"""`heartbeat` (start), `heartbeat -k`, `heartbeat -r`, `heartbeat -s`: the hooks
heartbeat_py.tools.heartbeat_cmd calls, each (Options, HAConfig | None) -> exit code.

Messages and exit codes are those of heartbeat 3.0.6, observed in a test node:
  -s   `heartbeat OK [pid N et al] is running on HOST [NODE]...` 0;
       `heartbeat is stopped. No process` 3 (no pidfile) or 1 (stale pidfile)
  -k   waits until the daemon is gone, 0; `INFO: Heartbeat already stopped.` 0
       (ours also returns, 1, when the daemon cancels the stop because a resource
       would not stop: 3.0.6 rebooted the node there)
  -r   `Signalling heartbeat pid N to reread config files` 0; starts heartbeat when
       none runs; a bad configuration: `Config errors: Heartbeat pid N NOT restarted` 1
  start: `heartbeat: already running [pid N].` 0 when one runs.
One improvement: the starting process waits until the daemon has its media up, so
its exit code says whether heartbeat really started (3.0.6 exits 0 right after fork).
"""
from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import time

from heartbeat_py import VERSION
from heartbeat_py.config import ConfigError, ConfigErrors, HAConfig, config_dir, load
from heartbeat_py.config.errors import where
from heartbeat_py.config.text import ascii_lower

from . import hblog
from .control import ControlTimeout, ControlUnavailable, request
from .core import Daemon, log_targets
from .identity import local_node_name
from .paths import Paths
from .pidfile import is_alive, read_pidfile, remove_pidfile, write_pidfile

LSB_EXIT_OK = 0
LSB_EXIT_GENERIC = 1
LSB_EXIT_EPERM = 4
READY_TIMEOUT = 60.0            # how long the starting process waits for the daemon
KILL_WAIT_LIMIT = 3600.0        # 3.0.6 waits for ever; its emergency stop comes after an hour
KILL_POLL = 0.1
KILL_ASK_EVERY = 0.5            # how often -k asks the daemon whether it cancelled the stop
DATEFMT = "%Y/%m/%d_%T\t"


def _paths() -> Paths:
    return Paths.from_env()


def _stderr_logger(entity: str = "heartbeat"):
    return hblog.make_logger(hblog.LogTargets(stderr=True), entity)


def status(options, cfg: HAConfig | None) -> int:
    state = read_pidfile(_paths().pidfile)
    if state.pid is None:
        print("heartbeat is stopped. No process")
        return state.status
    host = ascii_lower(os.uname().nodename)
    print(f"heartbeat OK [pid {state.pid} et al] is running on {host}"
          f" [{local_node_name(config_dir())}]...")
    return LSB_EXIT_OK


def kill(options, cfg: HAConfig | None) -> int:
    state = read_pidfile(_paths().pidfile)
    if state.pid is None:
        print("INFO: Heartbeat already stopped.", file=sys.stderr)
        return LSB_EXIT_OK
    cancelled = _shutdowns_cancelled()
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        return LSB_EXIT_OK
    except PermissionError as e:
        print(f"ERROR: Could not kill pid {state.pid}:  {e.strerror}", file=sys.stderr)
        return LSB_EXIT_EPERM
    deadline = time.monotonic() + KILL_WAIT_LIMIT
    next_ask = time.monotonic() + KILL_ASK_EVERY
    while time.monotonic() < deadline:
        if not is_alive(state.pid):
            return LSB_EXIT_OK
        if cancelled is not None and time.monotonic() >= next_ask:
            next_ask = time.monotonic() + KILL_ASK_EVERY
            now = _shutdowns_cancelled()
            if now is not None and now > cancelled:
                print(f"ERROR: heartbeat pid {state.pid} cancelled its shutdown: a resource"
                      " could not be stopped and stays on this node (see the log)",
                      file=sys.stderr)
                return LSB_EXIT_GENERIC
        time.sleep(KILL_POLL)
    print(f"ERROR: heartbeat pid {state.pid} did not stop", file=sys.stderr)
    return LSB_EXIT_GENERIC


def _shutdowns_cancelled() -> int | None:
    """How many graceful stops the running daemon has cancelled; None: no answer."""
    try:
        answer = request(_paths().control_socket, "stats", timeout=2.0)
    except (ControlUnavailable, ControlTimeout, OSError, ValueError):
        return None
    value = answer.get("shutdowns_cancelled")
    return value if isinstance(value, int) else None


def reload(options, cfg: HAConfig | None) -> int:
    log = _stderr_logger()
    state = read_pidfile(_paths().pidfile)
    confdir = config_dir()
    try:
        cfg = load(confdir, nodename=local_node_name(confdir),
                   manage_resources=options.manage_resources)
    except (ConfigErrors, ConfigError) as e:
        for error in getattr(e, "errors", [e]):
            print(f"heartbeat: {where(error.path, error.line)}: {error.message}", file=sys.stderr)
        if state.pid is None:
            log.error("Configuration error, heartbeat not started.")
            return 6
        log.info("Config errors: Heartbeat pid %d NOT restarted", state.pid)
        return LSB_EXIT_GENERIC
    if state.pid is None:
        return start(options, cfg)
    log.info("Signalling heartbeat pid %d to reread config files", state.pid)
    try:
        os.kill(state.pid, signal.SIGHUP)
    except OSError as e:
        log.error("Unable to send SIGHUP to pid %d: %s", state.pid, e.strerror)
        return LSB_EXIT_EPERM if e.errno in (errno.EPERM, errno.EACCES) else LSB_EXIT_GENERIC
    return LSB_EXIT_OK


def start(options, cfg: HAConfig) -> int:
    paths = _paths()
    log = hblog.make_logger(log_targets(cfg.hacf, options.debug, stderr=True))
    state = read_pidfile(paths.pidfile)
    if state.pid is not None:
        log.info("heartbeat: already running [pid %d].", state.pid)
        return LSB_EXIT_OK
    log.info("**************************")
    log.info("Configuration validated. Starting heartbeat %s", VERSION)
    for warning in cfg.warnings:
        log.warning("%s: %s", where(warning.path, warning.line), warning.message)
    for note in cfg.unhandled:      # directives parsed but not acted on: said, never dropped
        log.info("%s: %s", where(note.path, note.line), note.message)
    if options.foreground:
        return _run_daemon(options, cfg, paths, ready_fd=None)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(write_fd)
        return _await_ready(read_fd, pid)
    os.close(read_fd)
    os.setsid()
    code = LSB_EXIT_GENERIC
    try:
        code = _run_daemon(options, cfg, paths, ready_fd=write_fd)
    finally:
        os._exit(code)      # never return into the caller's frames in the forked copy


def _await_ready(read_fd: int, pid: int) -> int:
    """Parent side: 0 once the daemon says it is up, 1 if it died first."""
    deadline = time.monotonic() + READY_TIMEOUT
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        os.set_blocking(pipe.fileno(), False)
        while time.monotonic() < deadline:
            try:
                byte = pipe.read(1)
            except BlockingIOError:
                byte = None
            if byte == b"1":
                return LSB_EXIT_OK
            if byte == b"":
                break
            time.sleep(0.02)
    print("heartbeat: the daemon did not start; see its log", file=sys.stderr)
    return LSB_EXIT_GENERIC


def _export_environment(cfg: HAConfig, debug: int) -> None:
    """What heartbeat exports to the scripts it runs."""
    hacf = cfg.hacf
    os.environ["HA_DIR"] = str(cfg.confdir)
    os.environ["HA_DATEFMT"] = DATEFMT
    os.environ["HA_LOGFILE"] = hacf.logfile or ""
    os.environ["HA_DEBUGLOG"] = hacf.debugfile or ""
    os.environ["HA_LOGFACILITY"] = hacf.logfacility or "none"
    if hacf.debug + debug > 0:
        os.environ["HA_debug"] = str(hacf.debug + debug)


def _detach_from_terminal() -> None:
    os.chdir("/")
    os.umask(0o022)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


def _run_daemon(options, cfg: HAConfig, paths: Paths, ready_fd: int | None) -> int:
    log = hblog.make_logger(log_targets(cfg.hacf, options.debug, stderr=ready_fd is None))
    if ready_fd is not None:
        _detach_from_terminal()
    _export_environment(cfg, options.debug)
    pid = os.getpid()
    try:
        write_pidfile(paths.pidfile, pid)
    except OSError as e:
        log.error("heartbeat: could not create pidfile [%s]: %s", paths.pidfile, e.strerror)
        return LSB_EXIT_EPERM
    daemon = Daemon(cfg, local_node_name(cfg.confdir), log, paths,
                    manage_resources=options.manage_resources, debug=options.debug)

    def ready():
        if ready_fd is not None:
            os.write(ready_fd, b"1")
            os.close(ready_fd)

    try:
        return asyncio.run(daemon.run(ready))
    finally:
        remove_pidfile(paths.pidfile, pid)
