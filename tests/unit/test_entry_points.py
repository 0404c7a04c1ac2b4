"""The console entry points as an admin runs them from .venv/bin: --help prints the
usage, a wrong argument prints the legacy complaint and exits with the legacy code.
Where the real heartbeat 3.0.6 / drbd-utils tool is installed, its answer is the
expected one (program paths and log-line prefixes aside)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
REAL = {
    "heartbeat": "/usr/libexec/heartbeat/heartbeat",
    "cl_status": "/usr/bin/cl_status",
    "hb_standby": "/usr/share/heartbeat/hb_standby",
    "hb_takeover": "/usr/share/heartbeat/hb_takeover",
    "drbdadm": "/lib/drbd/drbdadm-84",
}
# `Nov 25 08:58:10 host cl_status: [20766]: ERROR: ` starts each of cl_status's log lines
LOG_PREFIX = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (\S+): \[\d+\]: ", re.M)


def run(program: str, *argv: str, tmp: Path) -> tuple[int, str, str]:
    # an empty run folder: no daemon of ours or of the host's answers
    env = {**os.environ, "HBPY_ROOT": str(tmp), "HA_DIR": str(tmp / "ha.d")}
    proc = subprocess.run([program, *argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env, cwd=tmp)
    return proc.returncode, proc.stdout, proc.stderr


def same_text(text: str, program: str, name: str) -> str:
    return LOG_PREFIX.sub(r"\1: ", text.replace(program, name))


def ours_and_real(name: str, argv: list[str], tmp: Path):
    mine = run(str(BIN / name), *argv, tmp=tmp)
    real = REAL[name]
    if not os.access(real, os.X_OK):
        return mine, None
    theirs = run(real, *argv, tmp=tmp)
    return mine, tuple([theirs[0]] + [same_text(t, real, name) for t in theirs[1:]])


def normalised(name: str, result) -> tuple:
    code, out, err = result
    return code, same_text(out, str(BIN / name), name), same_text(err, str(BIN / name), name)


@pytest.mark.parametrize("name, argv, code", [
    ("heartbeat", ["-X"], 2),
    ("heartbeat", ["--bogus"], 2),
    ("cl_status", [], 0),
    ("cl_status", ["bogus"], 11),
    ("hb_standby", ["--help"], 1),
    ("hb_standby", ["sideways"], 1),
    ("hb_takeover", ["all", "extra"], 1),
    ("drbdadm", ["frobnicate", "r0"], 1),
    ("drbdadm", ["--bogus", "up", "r0"], 1),
])
def test_wrong_arguments_answer_as_the_legacy_tool(name, argv, code, tmp_path):
    mine, real = ours_and_real(name, argv, tmp_path)
    assert mine[0] == code, mine
    assert "Traceback" not in mine[2]
    if real is None:
        return
    mine = normalised(name, mine)
    if name == "drbdadm":
        # drbdadm-84 names itself `drbdadm-84`; our messages are drbdadm's own
        real = (real[0], real[1], real[2].replace("drbdadm-84", "drbdadm"))
    if argv == ["--bogus"]:
        # 3.0.6 has no long options and complains letter by letter; ours has
        # --check and --help, so getopt_long's one line; the usage is the same
        assert mine[2] == "heartbeat: unrecognized option '--bogus'\n" + real[2].split("\n", 5)[5]
        real = real[:2] + mine[2:]
    assert mine == real


@pytest.mark.parametrize("name, argv, code, first_line", [
    ("heartbeat", ["--help"], 0, "Usage: heartbeat [-dDkMrRsvWlVf]... [-C <Current-resource-state>]"),
    ("cl_status", ["--help"], 0, "Usage: cl_status <sub-command> [<options>] [<parameters>]"),
    ("hb_takeover", ["--help"], 1, "usage:"),            # the script's own --help
    ("drbdadm", ["-c", "/dev/null", "--help"], 0, "drbdadm: read /etc/drbd.conf as admins wrote it,"
     " and carry out their command lines."),
])
def test_help_prints_the_usage(name, argv, code, first_line, tmp_path):
    got, out, err = run(str(BIN / name), *argv, tmp=tmp_path)
    assert (got, out.splitlines()[0]) == (code, first_line), (out, err)
    if name in ("heartbeat", "drbdadm"):
        assert "Usage:" in out and err == ""
    real = REAL[name]
    if os.access(real, os.X_OK) and name in ("hb_takeover", "drbdadm"):
        # the same exit code as the real tool; 3.0.6's heartbeat has no --help (exit 2)
        # and its cl_status takes --help for an unknown sub-command (exit 11)
        assert run(real, *argv, tmp=tmp_path)[0] == code
