"""resource.d/ scripts without a network namespace: calling convention,
usage errors, log format, the address helpers, drbddisk (fake drbdadm)
and MailTo (no or a fake sendmail).

The real heartbeat 3.0.6 / resource-agents scripts installed in
/etc/ha.d/resource.d serve as the reference where they run here.
"""
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

RESOURCE_D = Path(__file__).resolve().parents[2] / "resource.d"
REAL_D = Path("/etc/ha.d/resource.d")
ACTIONS = "(start|stop|status|usage|meta-data)"
# heartbeat exports this to its scripts (a tab ends it)
HB_DATEFMT = "%Y/%m/%d_%T\t"
DATE_RE = r"\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d"


def run_script(path, *args, env=None, timeout=30):
    """Run a resource script as heartbeat does: no terminal on stdin, the
    environment given (HA_RSCTMP always set, never the host's)."""
    full = {"PATH": os.environ["PATH"], "HA_RSCTMP": "/nonexistent/rsctmp"}
    full.update(env or {})
    return subprocess.run([str(path), *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=full, timeout=timeout)


def ours(name):
    return RESOURCE_D / name


def real(name):
    path = REAL_D / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path}: the real script is not installed")
    return path


def write_exe(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


# ---- calling convention ----------------------------------------------------------

def test_every_script_is_executable_and_runs_with_dash():
    for name in ("IPaddr", "IPaddr2", "SendArp", "Filesystem", "MailTo", "drbddisk"):
        path = ours(name)
        assert os.access(path, os.X_OK), name
        assert path.read_text().startswith("#!/bin/sh\n"), name
        check = subprocess.run(["dash", "-n", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, (name, check.stderr)
    for helper in RESOURCE_D.glob("hafuncs*"):
        assert subprocess.run(["dash", "-n", str(helper)]).returncode == 0, helper


@pytest.mark.parametrize("name,args,usage", [
    ("IPaddr", [], "usage: {0} <ip-address> " + ACTIONS),
    ("IPaddr", ["192.0.2.5"], "usage: {0} <ip-address> " + ACTIONS),
    ("IPaddr", ["192.0.2.5", "eth0", "start"], "usage: {0} <ip-address> " + ACTIONS),
    ("IPaddr2", ["192.0.2.5"],
     "usage: {0} ip-address[/netmaskbits[/interface[:label][/broadcast]]] " + ACTIONS),
    ("SendArp", ["start"], "usage: {0} ip-address/interface " + ACTIONS),
    ("Filesystem", ["/dev/sdb1", "start"],
     "usage: {0} <device> <directory> [<fstype> [<options>]] " + ACTIONS),
    ("MailTo", ["start"],
     "At least 1 Email address has to be given!\n"
     "Usage: {0} <email> [<subject>] " + ACTIONS),
    ("MailTo", ["a@b", "subj", "x", "start"],
     "Additional parameters found: 4 but max. 3 are allowed!\n"
     "Usage: {0} <email> [<subject>] " + ACTIONS),
])
def test_wrong_arguments_print_the_legacy_usage_and_exit_1(name, args, usage):
    proc = run_script(ours(name), *args)
    assert (proc.returncode, proc.stdout) == (1, usage.format(ours(name)) + "\n")


@pytest.mark.parametrize("name,args", [
    ("IPaddr", ["192.0.2.5"]),
    ("IPaddr", []),
    ("IPaddr2", ["192.0.2.5"]),
    ("SendArp", ["start"]),
    ("Filesystem", ["/dev/sdb1", "start"]),
    ("MailTo", ["start"]),
    ("MailTo", ["a@b", "subj", "x", "start"]),
    ("IPaddr", ["192.0.2.5", "bogus"]),
])
def test_usage_errors_match_the_real_scripts(name, args):
    theirs = run_script(real(name), *args)
    mine = run_script(ours(name), *args)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stdout.replace(str(ours(name)), "$0") == \
        theirs.stdout.replace(str(real(name)), "$0")


def test_unknown_action_is_named_then_usage():
    proc = run_script(ours("IPaddr2"), "192.0.2.5", "restart")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "ERROR: Unknown operation: restart"
    assert proc.stdout.splitlines()[1].startswith(f"usage: {ours('IPaddr2')} ip-address")


@pytest.mark.parametrize("args,out,rc", [
    ([], "Usage: drbddisk [resource] {start|stop|status}\n", 1),
    (["r0", "start", "x"], "Usage: drbddisk [resource] {start|stop|status}\n", 1),
    (["r0", "restart"], "Usage: drbddisk [resource] {start|stop|status}\n", 1),
    (["status"], "A resource name is required for status inquiries.\n", 10),
])
def test_drbddisk_usage(args, out, rc):
    proc = run_script(ours("drbddisk"), *args)
    assert (proc.stdout, proc.returncode) == (out, rc)


# ---- log format ---------------------------------------------------------------------

def test_log_lines_have_heartbeats_format(tmp_path):
    logfile, debugfile = tmp_path / "ha-log", tmp_path / "ha-debug"
    proc = run_script(ours("IPaddr"), "192.0.2.77", "status",
                      env={"HA_LOGFILE": logfile, "HA_DEBUGLOG": debugfile,
                           "HA_DATEFMT": HB_DATEFMT})
    assert (proc.returncode, proc.stdout) == (7, "INFO:  Resource is stopped\n")
    # as in the reference ha-log: date, two blanks, NAME(INSTANCE)[PID]:, four blanks
    assert re.fullmatch(DATE_RE + r"  IPaddr\(IPaddr_192\.0\.2\.77\)\[\d+\]:    "
                        r"INFO:  Resource is stopped\n", logfile.read_text())
    assert re.fullmatch(r"IPaddr\(IPaddr_192\.0\.2\.77\)\[\d+\]:\t" + DATE_RE +
                        r" INFO:  Resource is stopped\n", debugfile.read_text())


def test_log_line_format_matches_the_real_script(tmp_path):
    lines = {}
    for who, path in (("real", real("IPaddr")), ("ours", ours("IPaddr"))):
        log = tmp_path / f"{who}.log"
        run_script(path, "192.0.2.77", "status", env={"HA_LOGFILE": log, "HA_DATEFMT": HB_DATEFMT})
        line = log.read_text()
        # the real wrapper tags its own line with the OCF agent's full path
        line = re.sub(r"^(\S+)  \S*?IPaddr\(", r"DATE  IPaddr(", line)
        lines[who] = re.sub(r"\[\d+\]", "[PID]", line)
    assert lines["ours"] == lines["real"]


def test_without_logfile_or_facility_the_log_goes_to_stderr():
    proc = run_script(ours("IPaddr"), "192.0.2.77", "status", env={"HA_DATEFMT": HB_DATEFMT})
    assert re.fullmatch(DATE_RE + r" INFO:  Resource is stopped\n", proc.stderr)


def test_logfacility_sends_to_syslog_with_the_tag(tmp_path):
    calls = tmp_path / "logger.calls"
    write_exe(tmp_path / "logger", f'#!/bin/sh\nprintf "%s|" "$@" >> {calls}\necho >> {calls}\n')
    proc = run_script(ours("IPaddr"), "192.0.2.77", "status",
                      env={"PATH": f"{tmp_path}:{os.environ['PATH']}", "HA_LOGFACILITY": "local7"})
    assert proc.returncode == 7 and proc.stderr == ""
    fields = calls.read_text().rstrip("|\n").split("|")
    assert fields[0] == "-t" and re.fullmatch(r"IPaddr\(IPaddr_192\.0\.2\.77\)\[\d+\]", fields[1])
    assert fields[2:] == ["-p", "local7.info", "--", "INFO:  Resource is stopped"]


def test_logfacility_none_means_no_syslog(tmp_path):
    calls = tmp_path / "logger.calls"
    write_exe(tmp_path / "logger", f"#!/bin/sh\necho called >> {calls}\n")
    log = tmp_path / "ha-log"
    run_script(ours("IPaddr"), "192.0.2.77", "status",
               env={"PATH": f"{tmp_path}:{os.environ['PATH']}", "HA_LOGFACILITY": "none",
                    "HA_LOGFILE": log})
    assert not calls.exists()
    assert "INFO:  Resource is stopped" in log.read_text()


# ---- address helpers (hafuncs-net) -------------------------------------------------------

def net_shell(snippet):
    """Run `snippet` with hafuncs and hafuncs-net sourced; its stdout lines."""
    script = f'. "{RESOURCE_D}/hafuncs"; . "{RESOURCE_D}/hafuncs-net"\n{snippet}'
    proc = subprocess.run(["dash", "-c", script], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert proc.stderr == ""
    return proc.stdout.splitlines()


def test_ip4_valid():
    good = ["192.0.2.1", "10.0.0.0", "255.255.255.255", "1.2.3.4"]
    bad = ["", "abc", "192.0.2", "192.0.2.1.5", "256.1.1.1", "0.1.2.3", "1..2.3",
           "192.0.2.01", "192.0.2.1/24", "-1.2.3.4", "1.2.3.4."]
    out = net_shell("".join(f'ip4_valid "{a}" && echo yes || echo no\n' for a in good + bad))
    assert out == ["yes"] * len(good) + ["no"] * len(bad)


@pytest.mark.parametrize("mask,bits", [
    ("24", "24"), ("32", "32"), ("1", "1"), ("255.255.255.0", "24"), ("255.255.255.224", "27"),
    ("255.0.0.0", "8"), ("255.255.255.255", "32"), ("128.0.0.0", "1"),
    ("0", None), ("33", None), ("255.0.255.0", None), ("0.0.0.0", None), ("x", None), ("", None),
])
def test_mask_bits(mask, bits):
    assert net_shell(f'mask_bits "{mask}" || echo fail') == [bits or "fail"]


@pytest.mark.parametrize("ip,bits,bcast", [
    ("192.0.2.50", 24, "192.0.2.255"), ("192.0.2.50", 27, "192.0.2.63"),
    ("10.1.2.3", 8, "10.255.255.255"), ("192.0.2.130", 25, "192.0.2.255"),
])
def test_broadcast_of(ip, bits, bcast):
    assert net_shell(f"broadcast_of {ip} {bits}") == [bcast]


@pytest.mark.parametrize("spec,parts", [
    ("192.0.2.5", ["192.0.2.5", "", "", ""]),
    ("192.0.2.5/24", ["192.0.2.5", "24", "", ""]),
    ("192.0.2.5/24/eth1", ["192.0.2.5", "24", "eth1", ""]),
    ("192.0.2.5/24/eth1:web/192.0.2.255", ["192.0.2.5", "24", "eth1:web", "192.0.2.255"]),
    # a third part that starts with a digit is the broadcast address
    ("192.0.2.5/24/192.0.2.255", ["192.0.2.5", "24", "", "192.0.2.255"]),
    ("192.0.2.5/255.255.255.0/eth0", ["192.0.2.5", "255.255.255.0", "eth0", ""]),
])
def test_ip_parse_spec(spec, parts):
    out = net_shell(f'ip_parse_spec "{spec}"\n'
                    'printf "%s\\n" "$SPEC_IP" "$SPEC_MASK" "$SPEC_NIC" "$SPEC_BCAST"')
    assert out == parts


# ---- drbddisk -------------------------------------------------------------------------

FAKE_DRBDADM = """#!/bin/sh
# answers as told by files in its folder; records every call
d=$(dirname "$0")
echo "$*" >> "$d/calls"
case $1 in
primary|secondary)
    n=$(grep -c "^$1 " "$d/calls")
    fails=$(cat "$d/fail-$1" 2>/dev/null || echo 0)
    [ "$fails" = always ] && exit 11
    [ "$n" -gt "$fails" ] ;;
state)
    [ -f "$d/state" ] || exit 20
    cat "$d/state" ;;
sh-minor)
    [ -f "$d/minor" ] || exit 20
    cat "$d/minor" ;;
sh-dev)
    exit 20 ;;
esac
"""


@pytest.fixture
def fake_drbd(tmp_path):
    """A folder with a fake drbdadm and a fake sleep (that returns at once,
    recording "sleep N"), and the environment that puts them first."""
    if os.path.exists("/etc/default/drbd"):
        pytest.skip("/etc/default/drbd exists here and would pick the drbdadm")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_exe(bindir / "drbdadm", FAKE_DRBDADM)
    write_exe(bindir / "sleep", f'#!/bin/sh\necho "sleep $*" >> "{bindir}/calls"\n')
    env = {"PATH": f"{bindir}:{os.environ['PATH']}",
           "DRBD_PY_RUNDIR": str(tmp_path / "run")}

    class Fake:
        dir = bindir

        def set(self, name, value):
            (bindir / name).write_text(f"{value}\n")

        def calls(self):
            path = bindir / "calls"
            return path.read_text().splitlines() if path.exists() else []

        def run(self, *args):
            return run_script(ours("drbddisk"), *args, env=env)
    return Fake()


def test_drbddisk_start_promotes(fake_drbd):
    proc = fake_drbd.run("r0", "start")
    assert proc.returncode == 0
    assert fake_drbd.calls() == ["primary r0"]


def test_drbddisk_start_retries_a_second_apart_until_it_works(fake_drbd):
    fake_drbd.set("fail-primary", 3)
    assert fake_drbd.run("r0", "start").returncode == 0
    assert fake_drbd.calls() == ["primary r0", "sleep 1"] * 3 + ["primary r0"]


def test_drbddisk_start_gives_up_after_six_tries(fake_drbd):
    fake_drbd.set("fail-primary", "always")
    assert fake_drbd.run("r0", "start").returncode == 1
    assert fake_drbd.calls() == ["primary r0", "sleep 1"] * 5 + ["primary r0"]


def test_drbddisk_start_succeeds_on_the_sixth_try(fake_drbd):
    fake_drbd.set("fail-primary", 5)
    assert fake_drbd.run("r0", "start").returncode == 0
    assert fake_drbd.calls().count("primary r0") == 6


def test_drbddisk_stop_demotes_all_by_default(fake_drbd):
    assert fake_drbd.run("stop").returncode == 0
    assert fake_drbd.calls() == ["secondary all"]


def test_drbddisk_stop_gives_up_after_three_tries(fake_drbd):
    fake_drbd.set("fail-secondary", "always")
    assert fake_drbd.run("r0", "stop").returncode == 1
    assert fake_drbd.calls() == ["secondary r0", "sleep 1"] * 2 + ["secondary r0"]


@pytest.mark.parametrize("state,out,rc", [
    ("Primary/Secondary", "running (Primary)", 0),
    ("Primary/Unknown", "running (Primary)", 0),
    ("Secondary/Primary", "stopped (Secondary)", 3),
    ("Unconfigured", "stopped (Unconfigured)", 3),
])
def test_drbddisk_status_from_drbdadm_state(fake_drbd, state, out, rc):
    fake_drbd.set("state", state)
    proc = fake_drbd.run("r0", "status")
    assert (proc.stdout, proc.returncode) == (out + "\n", rc)
    assert fake_drbd.calls()[0] == "state r0"


@pytest.fixture
def no_proc_drbd():
    if os.path.exists("/proc/drbd"):
        pytest.skip("this kernel has /proc/drbd: the fallback reads it first")


@pytest.mark.parametrize("line,out,rc", [
    (" 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----",
     "running (Primary)", 0),
    (" 0: cs:Connected st:Secondary/Primary ld:Consistent", "stopped (Secondary)", 3),
    (" 1: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----",
     "stopped (Unconfigured)", 3),
])
def test_drbddisk_status_falls_back_to_the_status_file(fake_drbd, no_proc_drbd, tmp_path,
                                                       line, out, rc):
    # drbdadm state fails; the role is read from our engine's /proc/drbd copy
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "proc-drbd").write_text(f"version: 8.4.11 (api:1/proto:86-101)\n{line}\n")
    fake_drbd.set("minor", 0)
    proc = fake_drbd.run("r0", "status")
    assert (proc.stdout, proc.returncode) == (out + "\n", rc)


def test_drbddisk_status_unknown_says_may_be_running(fake_drbd, no_proc_drbd, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "proc-drbd").write_text(" 0: cs:Connected ro:Primary/Secondary\n")
    proc = fake_drbd.run("r0", "status")  # no state, no minor
    assert (proc.stdout, proc.returncode) == \
        ("undetermined status, may be running (Unknown)\n", 4)


def test_drbddisk_status_without_drbd_at_all_is_stopped(fake_drbd, no_proc_drbd):
    proc = fake_drbd.run("r0", "status")
    assert (proc.stdout, proc.returncode) == ("stopped (Unconfigured)\n", 3)


# ---- MailTo ---------------------------------------------------------------------------

@pytest.fixture
def mailto(tmp_path):
    rsctmp = tmp_path / "rsctmp"

    def run(*args, sendmail="/nonexistent/sendmail"):
        return run_script(ours("MailTo"), *args,
                          env={"HA_RSCTMP": rsctmp, "SENDMAIL": sendmail,
                               "HA_LOGFILE": tmp_path / "ha-log"})
    run.log = tmp_path / "ha-log"
    return run


def test_mailto_without_sendmail_logs_and_succeeds(mailto):
    assert mailto("root", "status").stdout == "stopped\nINFO:  Resource is stopped\n"
    assert mailto("root", "status").returncode == 7
    proc = mailto("root", "start")
    assert (proc.returncode, proc.stdout) == (0, "INFO:  Success\n")
    log = mailto.log.read_text()
    host = socket.gethostname()
    assert re.search(r"MailTo\(MailTo\)\[\d+\]:    INFO: Mail to root: Resource Group "
                     rf"Takeover in progress at .* on {re.escape(host)}\n", log)
    assert "WARN: No sendmail found: mail to root not sent" in log
    proc = mailto("root", "status")
    assert (proc.returncode, proc.stdout) == (0, "running\nINFO:  Running OK\n")
    assert mailto("root", "stop").returncode == 0
    assert "Migrating resource away at" in mailto.log.read_text()
    assert mailto("root", "status").returncode == 7
    assert mailto("root", "stop").returncode == 0


def test_mailto_hands_the_message_to_sendmail(mailto, tmp_path):
    sendmail = write_exe(tmp_path / "sendmail",
                         f'#!/bin/sh\necho "$*" > {tmp_path}/args\ncat > {tmp_path}/msg\n')
    proc = mailto("root,ops@example.com", "Web Server", "start", sendmail=sendmail)
    assert proc.returncode == 0
    assert (tmp_path / "args").read_text() == "-oi -t\n"
    msg = (tmp_path / "msg").read_text()
    assert msg.startswith("To: root,ops@example.com\nSubject: Web Server Takeover in progress at ")
    assert "Command line was:\n" in msg
    assert "No sendmail" not in mailto.log.read_text()


def test_mailto_succeeds_when_sendmail_fails(mailto, tmp_path):
    sendmail = write_exe(tmp_path / "sendmail", "#!/bin/sh\ncat >/dev/null\nexit 75\n")
    proc = mailto("root", "stop", sendmail=sendmail)
    assert (proc.returncode, proc.stdout) == (0, "INFO:  Success\n")
    assert f"ERROR: {sendmail} failed: mail to root not sent" in mailto.log.read_text()


def test_mailto_groups_with_other_subjects_keep_their_own_state(mailto):
    mailto("root", "Web", "start")
    assert mailto("root", "Web", "status").returncode == 0
    assert mailto("root", "Database", "status").returncode == 7
