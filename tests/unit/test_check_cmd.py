"""`heartbeat` command line: --check, usage errors, exit codes."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from heartbeat_py.tools.heartbeat_cmd import main

DATA = Path(__file__).parent / "data" / "hacfg"
ROOT = Path(__file__).resolve().parents[2]
LEGACY_USAGE = ("\nUsage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]\n"
                "\t-C only valid with -R\n\t-r is mutually exclusive with -R\n")


@pytest.fixture
def confdir(tmp_path):
    target = tmp_path / "ha.d"
    shutil.copytree(DATA / "classic", target)
    (target / "authkeys").chmod(0o600)
    (target / "resource.d").mkdir()
    (target / "resource.d" / "IPaddr").write_text("#!/bin/sh\n")
    (target / "resource.d" / "IPaddr").chmod(0o755)
    return target


def run(argv, confdir, capsys):
    code = main(argv, {"HA_DIR": str(confdir), "INITDIR": str(confdir / "no-init.d")})
    out, err = capsys.readouterr()
    return code, out, err


def test_classic_guide_passes_check(confdir, capsys):
    code, out, err = run(["--check"], confdir, capsys)
    assert code == 0
    assert out == (f"heartbeat: configuration OK: {confdir}: nodes debian-420 debian-566;"
                   " media ucast eth0 192.168.0.73:694; keepalive 2s deadtime 30s warntime 10s"
                   " initdead 120s; auto_failback on;"
                   " 1 resource group (debian-420: IPaddr::192.168.0.222 drbdisk::drbd0); auth 3 md5\n")
    assert (f'heartbeat: {confdir}/haresources:2: warning: no resource script "drbdisk" in'
            f' {confdir}/resource.d or {confdir}/no-init.d (did you mean "drbddisk"?)\n') in err


def test_check_prints_every_error_and_exits_1(confdir, capsys):
    (confdir / "ha.cf").write_text("node a b\nucast eth0 192.0.2.2\nlogfile /x\nauto_failback on\n"
                                   "keepalve 2\nkeepalive 2\ndeadtime 4\n")
    (confdir / "haresources").write_text("c 192.0.2.10\n")
    (confdir / "authkeys").write_text("auth 2\n1 md5 x\n")
    code, out, err = run(["--check"], confdir, capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f'heartbeat: {confdir}/ha.cf:5: unknown directive "keepalve" (did you mean "keepalive"?)',
        f"heartbeat: {confdir}/ha.cf:7: deadtime 4s is too small compared to keepalive 2s:"
        " it must be more than twice keepalive",
        f'heartbeat: {confdir}/haresources:1: node "c" is not declared by a node directive in ha.cf',
        f"heartbeat: {confdir}/authkeys:1: auth 2: no valid key 2 in this file",
    ]


def test_check_lists_directives_not_acted_on(confdir, capsys):
    with open(confdir / "ha.cf", "a") as f:
        f.write("watchdog /dev/watchdog\n")
    code, _, err = run(["--check"], confdir, capsys)
    assert code == 0
    assert f'heartbeat: {confdir}/ha.cf:14: info: "watchdog" is accepted but not acted on by this heartbeat\n' in err


def test_check_of_missing_directory(tmp_path, capsys):
    code, out, err = run(["--check"], tmp_path / "nowhere", capsys)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 3 and "cannot open config file" in err


def test_start_refused_on_config_error_with_legacy_exit_code(confdir, capsys):
    (confdir / "authkeys").chmod(0o644)
    code, _, err = run([], confdir, capsys)
    assert code == 6
    assert err.endswith("heartbeat: configuration error, heartbeat not started\n")


@pytest.mark.parametrize("argv, complaint", [
    (["-h"], "heartbeat: invalid option -- 'h'\n"),
    (["-kx"], "heartbeat: invalid option -- 'x'\n"),
    (["--bogus"], "heartbeat: unrecognized option '--bogus'\n"),
    (["-C"], "heartbeat: option requires an argument -- 'C'\n"),
    (["-C", "all"], ""),                    # -C only with -R
    (["extra"], ""),
])
def test_bad_command_line_prints_legacy_usage_and_exits_2(argv, complaint, confdir, capsys):
    assert run(argv, confdir, capsys) == (2, "", complaint + LEGACY_USAGE)


def test_help(confdir, capsys):
    code, out, err = run(["--help"], confdir, capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: heartbeat [-dDkMrRsvWlVf]... [-C <Current-resource-state>]\n"
                          "       heartbeat --check\n")


def test_version_and_defaults(confdir, capsys):
    assert run(["-V"], confdir, capsys) == (0, "3.0.6 (heartbeat_py 0.1.0)\n", "")
    code, out, _ = run(["-D"], confdir, capsys)
    assert code == 0
    assert out.splitlines()[0].split() == ["Directive", "Default", "Description"]
    assert ["keepalive", "1000ms", "interval", "between", "heartbeats"] in [line.split() for line in out.splitlines()]


def test_installed_command_never_shows_a_traceback(tmp_path):
    confdir = tmp_path / "ha.d"
    confdir.mkdir()
    (confdir / "ha.cf").write_bytes(b"\xff\xfe\x00keepalive \x80\x81\n\tnode \xe3\x81\n")
    (confdir / "haresources").write_bytes(b"\\\n\\")
    (confdir / "authkeys").write_bytes(b"auth 99999999999999999999999999\n")
    command = shutil.which("heartbeat", path=str(Path(sys.executable).parent)) or ""
    argv = [command] if command else [sys.executable, "-m", "heartbeat_py.tools.heartbeat_cmd"]
    result = subprocess.run(argv + ["--check"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "HA_DIR": str(confdir)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert all(line.startswith(f"heartbeat: {confdir}/") for line in result.stderr.splitlines())
    assert f'heartbeat: {confdir}/ha.cf:1: unknown directive "\\xff\\xfe"' in result.stderr


def test_check_refuses_links_the_daemon_does_not_provide(confdir, capsys):
    with open(confdir / "ha.cf", "a") as f:
        f.write("serial /dev/ttyS0\nucast6 eth0 fe80::1\n")
    code, out, err = run(["--check"], confdir, capsys)
    assert (code, out) == (1, "")
    assert err.count(": serial: links of this kind are not supported") == 1
    assert f"{confdir}/ha.cf:14: serial: links of this kind are not supported by this heartbeat," \
           " which would not start; use ucast, bcast or mcast\n" in err
    assert f"{confdir}/ha.cf:15: ucast6: links of this kind" in err
    assert "not acted on" not in err        # said once, as the error


def test_start_logs_each_directive_it_does_not_act_on(tmp_path):
    """The daemon itself, not only --check: a serial line stops it right after."""
    confdir = tmp_path / "ha.d"
    confdir.mkdir()
    (confdir / "ha.cf").write_text(f"logfile {tmp_path}/ha-log\nkeepalive 1\ndeadtime 5\n"
                                   "node alpha beta\nauto_failback on\nwatchdog /dev/watchdog\n"
                                   "ucast eth0 192.0.2.2\ncoredumps true\nserial /dev/ttyS0\n")
    (confdir / "haresources").write_text("")
    (confdir / "authkeys").write_text("auth 1\n1 crc\n")
    (confdir / "authkeys").chmod(0o600)
    (confdir / "nodeinfo").write_text("alpha\n")
    command = shutil.which("heartbeat", path=str(Path(sys.executable).parent))
    argv = [command] if command else [sys.executable, "-m", "heartbeat_py.tools.heartbeat_cmd"]
    result = subprocess.run(argv + ["-f"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "HA_DIR": str(confdir), "HBPY_ROOT": str(tmp_path)})
    assert result.returncode == 1
    log = (tmp_path / "ha-log").read_text()
    notes = [line.split("info: ", 1)[1] for line in log.splitlines() if "not acted on" in line]
    assert notes == [f'{confdir}/ha.cf:{n}: "{name}" is accepted but not acted on by this heartbeat'
                     for n, name in ((6, "watchdog"), (8, "coredumps"), (9, "serial"))]
    assert "ERROR: Heartbeat not started: serial: serial links are not supported" in log
