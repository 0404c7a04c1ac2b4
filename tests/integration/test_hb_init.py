"""etc/init.d/heartbeat in a test node: its actions, outputs and exit codes (heartbeat's
own script's where it had them, LSB's for what it lacked), the admin's resource.d/startstop
hook around start and stop, and a bad configuration refused with heartbeat --check's
errors before anything starts."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cluster import wait_until
from tests.cluster.node import venv_bin
from tests.integration.test_hb_pair import QUICK, log

SCRIPT = str(Path(__file__).resolve().parents[2] / "etc" / "init.d" / "heartbeat")
HA_CF = """\
logfile /var/log/ha-log
keepalive 250ms
deadtime 1500ms
initdead 1500ms
bcast eth0
node alpha beta
auto_failback on
"""


def init(node, action, check=False):
    env = dict(QUICK, HEARTBEAT=str(Path(venv_bin()) / "heartbeat"),
               HB_STANDBY=str(Path(venv_bin()) / "hb_standby"))
    return node.run(["sh", SCRIPT, action], check=check, env=env, timeout=90)


@pytest.fixture
def alpha(cluster):
    node = cluster("alpha")["alpha"]
    node.write_file("/etc/ha.d/authkeys", "auth 1\n1 sha1 secret\n", mode=0o600)
    node.write_file("/etc/ha.d/haresources", "")
    return node


# an admin's hook, as heartbeat 1.x shipped it for site steps: it notes each call
STARTSTOP = """#!/bin/sh
echo "$*" >> /run/startstop.calls
"""


def test_lsb_actions_and_exit_codes(alpha):
    alpha.write_file("/etc/ha.d/ha.cf", HA_CF)
    alpha.write_file("/etc/ha.d/resource.d/startstop", STARTSTOP, mode=0o755)
    r = init(alpha, "status")
    assert (r.returncode, r.stdout) == (3, "heartbeat is stopped. No process\n")
    assert init(alpha, "reload").returncode == 7
    assert init(alpha, "stop").returncode == 0            # stopping a stopped service is fine
    r = init(alpha, "start")
    assert (r.returncode, r.stdout) == (0, "Starting High-Availability services: Done.\n\n")
    assert init(alpha, "status").returncode == 0
    pid = alpha.run(["cat", "/var/run/heartbeat.pid"]).stdout.strip()
    r = init(alpha, "start")
    assert r.returncode == 0 and "already running" in r.stdout
    assert init(alpha, "reload").returncode == 0
    wait_until(lambda: "Configuration unchanged." in log(alpha), 5)
    assert init(alpha, "force-reload").returncode == 0
    r = init(alpha, "restart")
    assert r.returncode == 0, r
    assert alpha.run(["cat", "/var/run/heartbeat.pid"]).stdout.strip() != pid
    r = init(alpha, "standby")
    assert (r.returncode, r.stdout) == \
        (0, "auto_failback: on\nAttempting to enter standby mode: Done.\n"), r
    r = init(alpha, "stop")
    assert (r.returncode, r.stdout) == (0, "Stopping High-Availability services: Done.\n\n")
    assert not alpha.pids("heartbeat")
    assert init(alpha, "status").returncode == 3
    r = init(alpha, "standby")
    assert (r.returncode, r.stdout) == \
        (1, "auto_failback: on\nHeartbeat is not currently running.\n"), r
    r = init(alpha, "bogus")
    assert r.returncode == 1 and r.stdout.startswith("Usage: "), r
    # every start and stop (not restart), with the outcome after the action
    assert alpha.read_file("/run/startstop.calls").splitlines() == \
        ["pre-stop", "post-stop 0"] + ["pre-start", "post-start 0"] * 2 + \
        ["pre-stop", "post-stop 0"]


def test_standby_is_refused_with_legacy_failback(alpha):
    """heartbeat's script refuses standby before asking anyone when failback is legacy."""
    for line, said in (("auto_failback legacy", "auto_failback is set to legacy."),
                       ("", "auto_failback defaulted to legacy."),
                       ("nice_failback off", "nice_failback is disabled.")):
        alpha.write_file("/etc/ha.d/ha.cf", HA_CF.replace("auto_failback on", line))
        r = init(alpha, "standby")
        assert (r.returncode, r.stdout) == (1, f"{said}  Cannot enter standby.\n"), r


def test_a_bad_configuration_is_refused_with_its_errors(alpha):
    alpha.write_file("/etc/ha.d/ha.cf", HA_CF.replace("deadtime 1500ms", "deadtime 400ms"))
    r = init(alpha, "start")
    assert r.returncode == 6
    assert "configuration is not valid" in r.stderr
    assert "/etc/ha.d/ha.cf:" in r.stderr and "deadtime" in r.stderr
    assert not alpha.pids("heartbeat")
    assert init(alpha, "status").returncode == 3


def test_no_configuration_at_all(alpha):
    r = init(alpha, "start")
    assert r.returncode == 6 and "ha.cf" in r.stderr
    assert not alpha.pids("heartbeat")


def test_without_the_program(alpha):
    r = alpha.run(["sh", SCRIPT, "start"], check=False, env={"HEARTBEAT": "/nonexistent"})
    assert r.returncode == 5
    assert shutil.which("sh")
