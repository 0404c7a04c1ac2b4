"""/etc/init.d/drbd on the test cluster: start (all resources up, connected),
status, reload, stop, with LSB exit codes."""
import time
from pathlib import Path

from tests.cluster import wait_until

INITD = str(Path(__file__).resolve().parents[2] / "etc" / "init.d" / "drbd")
ENV = {"DRBD_PY_DEVICES": "0"}

CONF = """global {{ usage-count no; }}
resource r0 {{
  protocol C;
  startup {{ wfc-timeout 30; degr-wfc-timeout 30; }}
  syncer {{ rate 1M; }}
  net {{ ping-int 2; connect-int 1; timeout 15; ping-timeout 10; }}
  on alpha {{ device /dev/drbd1; disk {da}; address 192.0.2.11:7789; meta-disk internal; }}
  on beta  {{ device /dev/drbd1; disk {db}; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""


def initd(node, action, check=False):
    return node.run(["sh", INITD, action], env=ENV, check=check, timeout=90)


def test_init_script_start_status_reload_stop(cluster):
    c = cluster("alpha", "beta")
    a, b = c["alpha"], c["beta"]
    da, db = a.loop_device("32M"), b.loop_device("32M")
    for node in (a, b):
        node.write_file("/etc/drbd.conf", CONF.format(da=da, db=db))
        node.run("drbdadm create-md r0", env=ENV)
    assert initd(a, "status").returncode == 3
    # start waits for the peer (wfc-timeout): start both at once
    starter = a.spawn(["sh", INITD, "start"], env=ENV)
    done = initd(b, "start")
    assert done.returncode == 0, done.stdout + done.stderr
    assert starter.wait(60) == 0, starter.output()
    for node in (a, b):
        assert node.run("drbdadm cstate r0", env=ENV).stdout.strip() == "Connected"
    status = initd(a, "status")
    assert status.returncode == 0
    assert "drbd driver loaded OK; device status:" in status.stdout
    assert " 1: cs:Connected st:Secondary/Secondary ds:Inconsistent/Inconsistent C r---" \
        in status.stdout
    # start again on a running node changes nothing and succeeds
    assert initd(a, "start").returncode == 0
    # reload applies a changed rate: the full sync of 32 MiB would take 32 s at 1M
    for node in (a, b):
        node.write_file("/etc/drbd.conf", CONF.format(da=da, db=db).replace("1M", "100M"))
        assert initd(node, "reload").returncode == 0
    a.run("drbdadm -- --overwrite-data-of-peer primary r0", env=ENV)
    started = time.monotonic()
    wait_until(lambda: b.run("drbdadm dstate r0", env=ENV).stdout.strip()
               == "UpToDate/UpToDate", 30, message="beta synced")
    assert time.monotonic() - started < 10
    r = initd(a, "frobnicate")
    assert r.returncode == 1 and r.stdout.startswith("Usage: /etc/init.d/drbd {start|stop"), r
    for node in (a, b):
        assert initd(node, "stop").returncode == 0
    assert initd(a, "status").returncode == 3
    wait_until(lambda: not a.pids("drbd-py-engine"), 10, message="engine gone")
