"""heartbeat_py.resources.runner and .groups: script calls, status reading, timeouts,
group acquire/release order, failed start and failed stop handling.

The scripts are small sh scripts that record every call in a file and keep their
"running" state as a marker file, so the tests see what a user would: which
commands ran in which order, and what is left running.
"""
import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from heartbeat_py.config.haresources import parse_haresources
from heartbeat_py.resources.groups import GroupRunner, stop_retries
from heartbeat_py.resources.runner import ScriptResult, ScriptRunner

# A resource script: `NAME [args] start|stop|status`. Behaviour per name from files in
# $STATE: NAME.failstart / NAME.failstop make that action fail, NAME.slow makes it sleep.
FAKE = r"""#!/bin/sh
name=$(basename "$0")
eval action=\${$#}
echo "$name $*" >> "$STATE/calls"
[ -f "$STATE/$name.slow" ] && sleep "$(cat "$STATE/$name.slow")"
case $action in
  start) [ -f "$STATE/$name.failstart" ] && { echo "start failed"; exit 1; }
         touch "$STATE/$name.running"; echo "INFO:  Success";;
  stop)  [ -f "$STATE/$name.failstop" ] && { echo "device busy"; exit 1; }
         rm -f "$STATE/$name.running"; echo "INFO:  Success";;
  status) if [ -f "$STATE/$name.running" ]; then echo "INFO:  Running OK"; exit 0; fi
          echo "INFO:  Resource is stopped"; exit 7;;
esac
"""


@pytest.fixture
def rig(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    scripts = tmp_path / "resource.d"
    scripts.mkdir()
    for name in ("IPaddr", "disk", "fs", "web"):
        path = scripts / name
        path.write_text(FAKE)
        path.chmod(0o755)
    log = logging.getLogger("test-resources")
    env = {"PATH": os.environ["PATH"], "STATE": str(state)}
    runner = ScriptRunner(env, log)

    def find(script):
        path = scripts / script
        return path if path.exists() else None

    class Rig:
        pass
    r = Rig()
    r.state, r.scripts, r.runner, r.log = state, scripts, runner, log
    r.groups = GroupRunner(runner, find, log, retries=2, retry_delay=0.01)

    def calls():
        path = state / "calls"
        return path.read_text().splitlines() if path.exists() else []
    r.calls = calls
    r.running = lambda name: (state / f"{name}.running").exists()
    return r


def group(line):
    return parse_haresources(line + "\n").groups[0]


def run(coro):
    return asyncio.run(coro)


# ---- runner ------------------------------------------------------------------------

def write_exe(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_exit_code_output_and_environment(tmp_path):
    script = write_exe(tmp_path / "s", '#!/bin/sh\necho "out $HA_CURHOST $1"\necho err >&2\n'
                       '[ -t 0 ] && echo tty\nread x && echo "stdin: $x"\nexit 3\n')
    runner = ScriptRunner({"PATH": os.environ["PATH"], "HA_CURHOST": "alpha"},
                          logging.getLogger("t"))
    result = run(runner.run([script, "a::b", "start"]))
    assert result.exit_code == 3 and not result.ok
    assert result.stdout == "out alpha a::b\n"       # no terminal, nothing on stdin
    assert result.stderr == "err\n"
    assert result.describe() == "exited with return code 3"


def test_output_lines_are_logged(tmp_path, caplog):
    script = write_exe(tmp_path / "IPaddr", "#!/bin/sh\necho 'INFO:  Success'\necho oops >&2\n")
    failing = write_exe(tmp_path / "bad", "#!/bin/sh\necho 'ERROR:  Generic error'\nexit 1\n")
    runner = ScriptRunner({"PATH": os.environ["PATH"]}, logging.getLogger("t"))
    with caplog.at_level(logging.DEBUG, logger="t"):
        run(runner.run([script, "start"]))
        run(runner.run([failing, "start"]))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("DEBUG", "IPaddr: INFO:  Success") in lines
    assert ("DEBUG", "IPaddr: oops") in lines
    assert ("WARNING", "bad: ERROR:  Generic error") in lines


def test_missing_program_is_a_result_not_an_exception(tmp_path):
    runner = ScriptRunner({"PATH": os.environ["PATH"]}, logging.getLogger("t"))
    result = run(runner.run([tmp_path / "nothing", "start"]))
    assert not result.ok and result.error and "could not be run" in result.describe()


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = write_exe(tmp_path / "slow", f"#!/bin/sh\nsleep 30 &\necho $! > {pidfile}\nwait\n")
    runner = ScriptRunner({"PATH": os.environ["PATH"]}, logging.getLogger("t"),
                          timeouts={"start": 0.5}, kill_grace=1.0)
    began = time.monotonic()
    result = run(runner.run([script, "start"]))
    assert result.timed_out and not result.ok
    assert "timed out" in result.describe()
    assert time.monotonic() - began < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}"):
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{child}") or \
        Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"


def test_background_child_holding_stdout_does_not_delay_the_result(tmp_path):
    # IPaddr leaves a gratuitous-ARP sender running in the background
    script = write_exe(tmp_path / "arp", "#!/bin/sh\n(sleep 3; echo late) &\necho started\n")
    runner = ScriptRunner({"PATH": os.environ["PATH"]}, logging.getLogger("t"))
    began = time.monotonic()
    result = run(runner.run([script, "start"]))
    assert result.ok and result.stdout.startswith("started")
    assert time.monotonic() - began < 2


class Ticker:
    """A stand-in for the daemon's keepalive timer: counts 100 ms ticks while it runs."""

    def __init__(self, period=0.1):
        self.period, self.ticks, self.began = period, 0, time.monotonic()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            await asyncio.sleep(self.period)
            self.ticks += 1

    def stop(self):
        """Ticks missed: how many fewer than the elapsed time allows."""
        self._task.cancel()
        return int((time.monotonic() - self.began) / self.period) - self.ticks


def test_event_loop_keeps_running_during_a_slow_script(tmp_path):
    script = write_exe(tmp_path / "slow", "#!/bin/sh\nsleep 1\n")
    runner = ScriptRunner({"PATH": os.environ["PATH"]}, logging.getLogger("t"))

    async def main():
        ticker = Ticker()
        result = await runner.run([script, "start"])
        return result, ticker.stop(), ticker.ticks
    result, missed, ticks = run(main())
    assert result.ok and ticks >= 7 and missed <= 3


@pytest.mark.parametrize("stdout, code, running", [
    ("INFO:  Running OK\n", 0, True),
    ("INFO:  Resource is stopped\n", 7, False),
    ("running (Primary)\n", 0, True),
    ("stopped (Secondary)\n", 3, False),
    ("httpd is not running\n", 3, False),
    ("httpd (pid 42) is running...\n", 0, True),
    ("Status: OK\n", 1, True),              # heartbeat reads the text, not the code
    ("stopped\n", 0, False),
    ("", 0, True),                          # exit-code-only scripts: LSB says 0 = running
    ("", 3, False),
    # "cannot ... running" holds "not ... running": ResourceManager reads it as stopped
    ("cannot determine status, may be running (x)\n", 4, False),
    ("undetermined status, may be running (x)\n", 4, True),
])
def test_status_answer_read_as_resourcemanager_reads_it(stdout, code, running):
    assert ScriptResult(("s", "status"), code, stdout).says_running() is running


def test_timed_out_status_is_not_running():
    assert not ScriptResult(("s", "status"), None, "", timed_out=True).says_running()


def test_stop_retries_from_environment():
    assert stop_retries({}) == 10
    assert stop_retries({"HA_STOPRETRYMAX": "3"}) == 3
    assert stop_retries({"HA_STOPRETRYMAX": "0"}) == 3600
    assert stop_retries({"HA_STOPRETRYMAX": "x"}) == 10


# ---- groups ------------------------------------------------------------------------

def test_acquire_starts_left_to_right_after_status(rig):
    outcome = run(rig.groups.acquire(group("alpha disk fs::/dev/x::/mnt web")))
    assert outcome.ok
    assert rig.calls() == ["disk status", "disk start", "fs /dev/x /mnt status",
                           "fs /dev/x /mnt start", "web status", "web start"]


def test_acquire_skips_what_already_runs(rig):
    (rig.state / "fs.running").touch()
    run(rig.groups.acquire(group("alpha disk fs web")))
    assert "fs start" not in rig.calls()
    assert all(rig.running(n) for n in ("disk", "fs", "web"))


def test_bare_address_calls_ipaddr(rig):
    run(rig.groups.acquire(group("alpha 192.0.2.100/24/eth0")))
    assert rig.calls() == ["IPaddr 192.0.2.100/24/eth0 status", "IPaddr 192.0.2.100/24/eth0 start"]


def test_failed_start_stops_the_group_in_reverse(rig, caplog):
    (rig.state / "fs.failstart").touch()
    with caplog.at_level(logging.INFO, logger="test-resources"):
        outcome = run(rig.groups.acquire(group("alpha disk fs web")))
    assert not outcome.ok and outcome.failed.raw == "fs" and not outcome.stop_failed
    assert rig.calls()[-3:] == ["web stop", "fs stop", "disk stop"]
    assert "web start" not in rig.calls()
    assert not any(rig.running(n) for n in ("disk", "fs", "web"))
    messages = [r.getMessage() for r in caplog.records]
    assert "Giving up resources due to failure of fs" in messages
    assert any(m.startswith("Return code 1 from ") for m in messages)


def test_release_stops_right_to_left(rig):
    for n in ("disk", "fs", "web"):
        (rig.state / f"{n}.running").touch()
    outcome = run(rig.groups.release(group("alpha disk fs web")))
    assert outcome.ok
    assert rig.calls() == ["web stop", "fs stop", "disk stop"]


def test_failed_stop_is_retried_then_reported_and_the_rest_kept(rig, caplog):
    for n in ("disk", "fs", "web"):
        (rig.state / f"{n}.running").touch()
    (rig.state / "fs.failstop").touch()
    with caplog.at_level(logging.INFO, logger="test-resources"):
        outcome = run(rig.groups.release(group("alpha disk fs web")))
    assert not outcome.ok and outcome.stop_failed and outcome.failed.raw == "fs"
    assert rig.calls() == ["web stop", "fs stop", "fs stop", "fs stop", "fs status"]  # retries=2
    assert rig.running("fs") and rig.running("disk")      # nothing below it is touched
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("Retrying failed stop operation [fs]") == 2
    assert "Resource STOP failure: fs is still running." in messages


def test_failed_stop_of_a_stopped_resource_is_not_fatal(rig, caplog):
    (rig.state / "web.failstop").touch()        # not running, but stop says error
    with caplog.at_level(logging.INFO, logger="test-resources"):
        outcome = run(rig.groups.release(group("alpha disk web")))
    assert outcome.ok
    assert rig.calls()[-1] == "disk stop"
    assert "Resource script for web probably not LSB-compliant." in \
        [r.getMessage() for r in caplog.records]


def test_failed_start_whose_undo_fails_is_stop_failed(rig):
    (rig.state / "web.failstart").touch()
    (rig.state / "fs.failstop").touch()
    outcome = run(rig.groups.acquire(group("alpha disk fs web")))
    assert not outcome.ok and outcome.stop_failed
    assert rig.running("fs")


def test_missing_script_fails_the_start(rig, caplog):
    with caplog.at_level(logging.INFO, logger="test-resources"):
        outcome = run(rig.groups.acquire(group("alpha disk nosuch::x")))
    assert not outcome.ok and outcome.failed.script == "nosuch"
    assert "Cannot locate resource script nosuch" in [r.getMessage() for r in caplog.records]
    assert not rig.running("disk")
