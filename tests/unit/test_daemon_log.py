"""heartbeat's log lines: format, destinations by level, syslog facility, rate limits;
the pidfile's format and what -s makes of it."""
import logging
import os
import re
import socket
import subprocess

from heartbeat_py.daemon import hblog
from heartbeat_py.daemon.pidfile import (LSB_STATUS_OK, LSB_STATUS_STOPPED, LSB_STATUS_VAR_PID,
                                         read_pidfile, remove_pidfile, write_pidfile)

LINE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d \d\d:\d\d:\d\d "
                  r"nodeA heartbeat: \[(\d+)\]: (info|WARN|ERROR|CRIT|debug): (.*)$")


def test_line_format_and_levels(tmp_path):
    log = hblog.make_logger(hblog.LogTargets(str(tmp_path / "log"), str(tmp_path / "debug"),
                                             debug=1), host="nodeA")
    log.info("Link %s:%s %s.", "nodeb", "eth0", "up")
    log.warning("node nodeb: is dead")
    log.error("bad")
    log.critical("worse")
    log.debug("detail")
    lines = (tmp_path / "log").read_text().splitlines()
    parsed = [LINE.match(line).groups()[2:] for line in lines]
    assert parsed == [("info", "Link nodeb:eth0 up."), ("WARN", "node nodeb: is dead"),
                      ("ERROR", "bad"), ("CRIT", "worse")]
    assert LINE.match(lines[0]).group(2) == str(os.getpid())
    debug = (tmp_path / "debug").read_text().splitlines()
    assert len(debug) == 5 and debug[-1].endswith("debug: detail")


def test_debug_lines_only_with_debug_on(tmp_path):
    log = hblog.make_logger(hblog.LogTargets(debugfile=str(tmp_path / "debug")))
    log.debug("detail")
    log.info("x")
    assert (tmp_path / "debug").read_text().count("\n") == 1


def test_syslog_gets_facility_and_entity(tmp_path):
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    log = hblog.make_logger(hblog.LogTargets(facility="local0"), syslog_socket=path)
    log.warning("Late heartbeat: Node nodeb: interval 3000 ms")
    data = server.recv(4096).decode()
    pri = 16 * 8 + 4            # local0.warning
    assert data.startswith(f"<{pri}>")
    assert re.search(r"> ?\w{3} \d\d \d\d:\d\d:\d\d heartbeat: \[\d+\]: WARN: Late heartbeat", data)
    server.close()


def test_no_syslog_for_none_and_no_crash_without_dev_log(tmp_path):
    assert hblog.syslog_handler("none") is None
    log = hblog.make_logger(hblog.LogTargets(facility="daemon"),
                            syslog_socket=str(tmp_path / "missing"))
    log.info("nobody listens")          # must not raise


def test_an_unwritable_logfile_is_said_once(tmp_path, capsys):
    log = hblog.make_logger(hblog.LogTargets(logfile=str(tmp_path / "no" / "such" / "file")))
    log.info("a")
    log.info("b")
    assert capsys.readouterr().err.count("Cannot open") == 1


def test_rate_limiter_counts_what_it_holds_back():
    limiter = hblog.RateLimiter(burst=2, interval=10)
    got = [limiter.allow("k", t) for t in (0, 1, 2, 3, 4)]
    assert got == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    assert limiter.allow("k", 11) == (True, 3)
    assert limiter.allow("other", 11) == (True, 0)


def test_rate_limiter_memory_is_bounded():
    limiter = hblog.RateLimiter()
    for i in range(5000):
        limiter.allow(("auth", f"10.0.{i // 256}.{i % 256}"), float(i))
    assert len(limiter._windows) <= 1001


def test_pidfile_format_and_states(tmp_path):
    path = tmp_path / "heartbeat.pid"
    assert read_pidfile(path).status == LSB_STATUS_STOPPED
    other = subprocess.Popen(["sleep", "30"])
    try:
        write_pidfile(path, other.pid)
        assert path.read_bytes() == b"%10d\n" % other.pid
        # alive but not a heartbeat: a recycled pid must not count as running
        assert read_pidfile(path).status == LSB_STATUS_VAR_PID
    finally:
        other.kill()
        other.wait()
    path.write_text("garbage")
    assert read_pidfile(path).status == LSB_STATUS_VAR_PID
    write_pidfile(path, 123)
    remove_pidfile(path, 456)
    assert path.exists()
    remove_pidfile(path, 123)
    assert not path.exists()
    assert LSB_STATUS_OK == 0
