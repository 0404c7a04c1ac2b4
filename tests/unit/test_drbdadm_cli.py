"""drbdadm's command surface: command lines as 0.7/8.x scripts wrote them, the -d
plan, sh-* answers, exit codes, and what it sends to (a stand-in for) the engine."""
import os
import shutil
import subprocess
import sys

import pytest

from drbd_py.adm import cli
from drbd_py.adm.executor import Engine
from drbd_py.config.hostmatch import LocalView
from drbd_py.config.loader import load_text

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "drbd")
CLASSIC = os.path.join(DATA, "v07", "classic.conf")
VOLUMES = os.path.join(DATA, "v84", "volumes.conf")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


class StandInEngine(Engine):
    """Answers the control protocol from a script of replies; records every request."""

    def __init__(self, status=None, refuse=None, running=True):
        super().__init__()
        self.requests = []
        self.status = status or {"ok": True, "resources": []}
        self.refuse = refuse or {}
        self.up = running

    def request(self, message):
        if not self.up:
            from drbd_py.adm.executor import EngineNotRunning
            raise EngineNotRunning("drbdadm: no DRBD engine is running", 20)
        self.requests.append(message)
        if message["op"] == "status":
            return self.status
        if message["op"] in self.refuse:
            return {"ok": False, **self.refuse[message["op"]]}
        return {"ok": True}


def drbdadm(capsys, *argv, host="debian-420", addresses=(), engine=None):
    code = cli.main(list(argv), view=LocalView(host, set(addresses)), engine=engine)
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_up_is_attach_syncer_connect(capsys):
    code, out, err = drbdadm(capsys, "-c", CLASSIC, "-d", "up", "drbd0")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["new-resource", "attach", "syncer", "connect"]
    assert lines[0] == 'new-resource drbd0 handlers:pri-on-incon-degr="halt -f"'
    assert lines[1].startswith("attach drbd0/0 minor=1 device=/dev/drbd1 disk=/dev/sdb1 "
                               "meta_disk=internal al_extents=7 ")
    assert "rate=20971520" in lines[2].split() and "group=1" in lines[2].split()
    connect = lines[3].split()
    assert "local=ipv4:192.168.0.95:7789" in connect
    assert "peer=ipv4:192.168.0.73:7789" in connect
    assert "peer_name=debian-566" in connect and "protocol=C" in connect


def test_the_other_node_sees_its_own_side(capsys):
    code, out, _ = drbdadm(capsys, "-c", CLASSIC, "-d", "attach", "all", host="debian-566")
    assert code == 0
    assert "disk=/dev/hda3" in out.splitlines()[1].split()


@pytest.mark.parametrize("argv", [
    ["-d", "--", "--do-what-I-say", "primary", "all"],
    ["-d", "--", "--overwrite-data-of-peer", "primary", "drbd0"],
    ["-d", "primary", "--force", "drbd0"],
    ["-d", "primary", "drbd0", "--force"],
])
def test_forced_primary_in_every_era(capsys, argv):
    assert drbdadm(capsys, "-c", CLASSIC, *argv)[:2] == (0, "primary drbd0 force=yes\n")


def test_plain_primary_and_discard_my_data(capsys):
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "primary", "drbd0")[1] == \
        "primary drbd0 force=no\n"
    out = drbdadm(capsys, "-c", CLASSIC, "-d", "--", "--discard-my-data", "connect", "drbd0")[1]
    assert "discard_my_data=yes" in out.split()


def test_volumes_and_resource_slash_volume(capsys):
    out = drbdadm(capsys, "-c", VOLUMES, "-d", "attach", "r0", host="alice")[1]
    assert [line.split()[1] for line in out.splitlines()] == ["r0", "r0/0", "r0/1"]
    out = drbdadm(capsys, "-c", VOLUMES, "-d", "detach", "r0/1", host="alice")[1]
    assert out == "detach r0/1\n"
    code, _, err = drbdadm(capsys, "-c", VOLUMES, "-d", "detach", "r0/7", host="alice")
    assert (code, err) == (1, "'r0/7' not defined in your config (for this host).\n")


@pytest.mark.parametrize("argv, code, message", [
    (["-c", CLASSIC, "frobnicate", "drbd0"], 1, "drbdadm: Unknown command 'frobnicate'\n"),
    (["-c", "/nonexistent.conf", "up", "all"], 20, "Can not open '/nonexistent.conf'.\n"),
    (["-c", CLASSIC, "-d", "up", "r0"], 1, "'r0' not defined in your config (for this host).\n"),
    (["-c", CLASSIC, "-d", "primary", "--frob", "drbd0"], 1,
     "drbdadm: unrecognized option '--frob'\ntry 'drbdadm help'\n"),
    (["--frob", "up", "all"], 1, "drbdadm: unrecognized option '--frob'\ntry 'drbdadm help'\n"),
    (["-c", CLASSIC, "-d", "--", "--size=10G", "primary", "drbd0"], 1,
     "drbdadm: unrecognized option '--size'\ntry 'drbdadm help'\n"),
    (["-c", CLASSIC, "-d", "--", "--size", "ten", "resize", "drbd0"], 1,
     "drbdadm: --size: 'ten' is not a valid size ([0-9]+[KMGs]?)\n"),
    (["-c", os.devnull, "-d", "up", "r0"], 1, "no resources defined!\n"),
    (["-c", CLASSIC, "up"], 1, "USAGE: drbdadm up [OPTION...] {all|RESOURCE...}\n\n"
     "No resource names specified\n"),
])
def test_exit_codes_and_messages(capsys, argv, code, message):
    assert drbdadm(capsys, *argv)[0::2] == (code, message)


def test_resource_without_a_section_for_this_host(capsys):
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "up", "drbd0", host="elsewhere")[0::2] == (
        1, "'drbd0' not defined in your config (for this host).\n")
    assert drbdadm(capsys, "-c", CLASSIC, "sh-resources", host="elsewhere")[:2] == (0, "")
    warning = ("WARN: no normal resources defined for this host (elsewhere)!?\n"
               "Misspelled name of the local machine with the 'on' keyword ?\n")
    for argv in (["-d", "up", "all"], ["-d", "down", "all"], ["sh-dev", "all"], ["status"]):
        assert drbdadm(capsys, "-c", CLASSIC, *argv, host="elsewhere")[0::2] == (1, warning)
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "wait-con-int", host="elsewhere") == (0, "", "")


def test_parse_error_is_exit_10_with_file_and_line(capsys, tmp_path):
    conf = tmp_path / "drbd.conf"
    conf.write_text("resource r0 {\nprotocol C\n on debian-420 { }\n}\n")
    assert drbdadm(capsys, "-c", str(conf), "up", "r0")[0::2] == (
        10, f"{conf}:3: Parse error: ';' expected, but got 'on'\n")


@pytest.mark.parametrize("command, expected", [
    ("sh-dev", "/dev/drbd1\n"), ("sh-ll-dev", "/dev/sdb1\n"), ("sh-md-dev", "/dev/sdb1\n"),
    ("sh-ip", "192.168.0.95\n"), ("sh-minor", "1\n"), ("sh-md-idx", "internal\n"),
])
def test_sh_commands(capsys, command, expected):
    assert drbdadm(capsys, "-c", CLASSIC, command, "drbd0")[:2] == (0, expected)


def test_sh_commands_on_84_samples(capsys):
    split = os.path.join(DATA, "v84", "split", "drbd.conf")
    assert drbdadm(capsys, "-c", split, "sh-resources", host="alice")[1] == "r0 r1\n"
    assert drbdadm(capsys, "-c", VOLUMES, "sh-dev", "r0", host="alice")[1] == \
        "/dev/drbd1\n/dev/drbd2\n"
    external = os.path.join(DATA, "v84", "external-meta.conf")
    out = drbdadm(capsys, "-c", external, "sh-md-idx", "all", host="alpha")[1]
    assert out == "2\nflexible\nflexible\n"


def test_floating_sections_match_by_local_address(capsys):
    floating = os.path.join(DATA, "v83", "floating.conf")
    out = drbdadm(capsys, "-c", floating, "-d", "connect", "r0", host="nobody",
                  addresses={"10.1.1.32"})[1]
    assert "local=ipv4:10.1.1.32:7788" in out.split() and "peer=ipv4:10.1.1.31:7788" in out.split()


def test_dump_reads_back_to_the_same_model(capsys, tmp_path):
    code, out, _ = drbdadm(capsys, "-c", CLASSIC, "dump")
    assert code == 0
    again = load_text(out, str(tmp_path / "x.conf"))
    assert again.resources == load_text(open(CLASSIC).read(), CLASSIC).resources
    code, out, _ = drbdadm(capsys, "-c", VOLUMES, "dump", "r0", host="alice")
    assert code == 0 and "resource r0 {" in out


@pytest.mark.parametrize("command, expected", [
    ("state", "Primary/Secondary\n"), ("role", "Primary/Secondary\n"),
    ("cstate", "Connected\n"), ("dstate", "UpToDate/UpToDate\n"),
])
def test_state_commands_read_engine_status(capsys, command, expected):
    engine = StandInEngine(status={"ok": True, "resources": [{
        "name": "drbd0", "role": "Primary", "peer_role": "Secondary", "connection": "Connected",
        "volumes": [{"volume": 0, "minor": 1, "disk": "UpToDate", "peer_disk": "UpToDate"}]}]})
    assert drbdadm(capsys, "-c", CLASSIC, command, "drbd0", engine=engine) == (0, expected, "")
    assert engine.requests == [{"op": "status", "v": 1}]


def test_state_without_engine_is_unconfigured(capsys):
    engine = StandInEngine(running=False)
    assert drbdadm(capsys, "-c", CLASSIC, "state", "drbd0", engine=engine)[:2] == (
        0, "Unconfigured\n")


def test_status_command(capsys):
    engine = StandInEngine(status={"ok": True, "resources": [{
        "name": "drbd0", "role": "Secondary", "peer_role": "Primary", "connection": "Connected",
        "volumes": [{"volume": 0, "disk": "Inconsistent", "peer_disk": "UpToDate",
                     "replication": "SyncTarget", "done": 12.5}]}]})
    assert drbdadm(capsys, "-c", CLASSIC, "status", engine=engine)[1] == (
        "drbd0 role:Secondary\n  disk:Inconsistent\n  debian-566 role:Primary\n"
        "    replication:SyncTarget peer-disk:UpToDate done:12.50\n")


def test_up_sends_the_planned_steps(capsys):
    engine = StandInEngine()
    assert drbdadm(capsys, "-c", CLASSIC, "up", "drbd0", engine=engine) == (0, "", "")
    ops = [r["op"] for r in engine.requests if r["op"] != "status"]
    assert ops == ["new-resource", "attach", "syncer", "connect"]
    attach = next(r for r in engine.requests if r["op"] == "attach")
    assert attach == {"op": "attach", "v": 1, "resource": "drbd0", "volume": 0, "minor": 1,
                      "device": "/dev/drbd1", "disk": "/dev/sdb1", "meta_disk": "internal",
                      "meta_index": None, "al_extents": 7, "on_io_error": "detach",
                      "size": None, "auto_create_md": True}
    connect = next(r for r in engine.requests if r["op"] == "connect")
    assert connect["local"] == {"family": "ipv4", "host": "192.168.0.95", "port": 7789}


def test_engine_refusal_gives_its_message_and_code(capsys):
    engine = StandInEngine(refuse={"primary": {
        "code": 11, "error": "State change failed: (-2) Need access to UpToDate data"}})
    assert drbdadm(capsys, "-c", CLASSIC, "primary", "drbd0", engine=engine)[0::2] == (
        11, "State change failed: (-2) Need access to UpToDate data\n")


def test_without_engine(capsys):
    engine = StandInEngine(running=False)
    code, _, err = drbdadm(capsys, "-c", CLASSIC, "primary", "drbd0", engine=engine)
    assert code == 20 and err.startswith("drbdadm: no DRBD engine is running")
    assert drbdadm(capsys, "-c", CLASSIC, "down", "drbd0", engine=engine)[0] == 0


def test_engine_not_installed(capsys, monkeypatch):
    import drbd_py.engine
    monkeypatch.setitem(sys.modules, "drbd_py.engine.client", None)
    # once imported by an earlier test, the package attribute would answer the import
    monkeypatch.delattr(drbd_py.engine, "client", raising=False)
    assert drbdadm(capsys, "-c", CLASSIC, "primary", "drbd0")[0::2] == (
        20, "drbdadm: the replication engine is not installed "
            "(drbd_py.engine.client is missing)\n")


def test_wait_connect_uses_startup_timeouts(capsys):
    sample = os.path.join(DATA, "v83", "heartbeat-v1.conf")
    assert drbdadm(capsys, "-c", sample, "-d", "wait-connect", "r0", host="node1")[1] == \
        "wait-connect r0 timeout=60 degr_timeout=30\n"


def test_help_lists_commands(capsys):
    code, out, _ = drbdadm(capsys, "hidden-commands")
    assert code == 0 and "sh-resources" in out and "sh-md-dev" in out
    code, out, _ = drbdadm(capsys, "help")
    assert code == 0 and "wait-con-int" in out


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root")
def test_host_is_matched_by_uname_n():
    def run(hostname):
        return subprocess.run(
            ["unshare", "--uts", "sh", "-c", 'hostname "$0"; exec "$@"', hostname,
             sys.executable, "-c", "import sys; from drbd_py.adm.cli import main; sys.exit(main())",
             "-c", os.path.join(ROOT, "etc", "drbd.conf"), "sh-ll-dev", "drbd0"],
            capture_output=True, text=True, timeout=30)
    assert (run("debian-420").stdout, run("debian-566").stdout) == ("/dev/sdb1\n", "/dev/hda3\n")
    other = run("somewhere-else")
    assert (other.returncode, other.stderr) == (
        1, "'drbd0' not defined in your config (for this host).\n")


def test_meta_data_commands_on_a_file_backed_disk(capsys, tmp_path):
    pytest.importorskip("drbd_py.engine.metadata")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    os.truncate(disk, 64 << 20)
    conf = tmp_path / "drbd.conf"
    conf.write_text(f"resource r0 {{\n"
                    f" on a {{ device /dev/drbd0; disk {disk}; address 127.0.0.1:7789; "
                    f"meta-disk internal; }}\n"
                    f" on b {{ device /dev/drbd0; disk {disk}; address 127.0.0.2:7789; "
                    f"meta-disk internal; }}\n}}\n")
    assert drbdadm(capsys, "-c", str(conf), "-d", "create-md", "r0", host="a")[1] == (
        f"create-md r0/0 disk={disk} meta_disk=internal force=no al_extents=1237\n")
    with open(disk, "rb") as image:  # -d wrote nothing: the internal meta-data area is blank
        image.seek(-(1 << 20), os.SEEK_END)
        assert image.read() == bytes(1 << 20)
    code, out, _ = drbdadm(capsys, "-c", str(conf), "create-md", "r0", host="a")
    assert code == 0 and "successfully created" in out
    code, out, _ = drbdadm(capsys, "-c", str(conf), "dump-md", "r0", host="a")
    assert code == 0 and "# al-extents 1237;" in out
    code, out, _ = drbdadm(capsys, "-c", str(conf), "--", "--force", "wipe-md", "r0", host="a")
    assert code == 0 and "successfully wiped out" in out
    code, _, err = drbdadm(capsys, "-c", str(conf), "get-gi", "r0", host="a")
    assert code != 0 and err


def test_adjust_does_only_what_is_missing(capsys):
    engine = StandInEngine(status={"ok": True, "resources": [{
        "name": "drbd0", "role": "Secondary", "connection": "WFConnection",
        "volumes": [{"volume": 0, "disk": "Diskless"}]}]})
    assert drbdadm(capsys, "-c", CLASSIC, "adjust", "drbd0", engine=engine)[0] == 0
    assert [r["op"] for r in engine.requests if r["op"] != "status"] == [
        "new-resource", "attach", "syncer"]
    engine.status["resources"][0]["volumes"][0]["disk"] = "UpToDate"
    engine.status["resources"][0]["connection"] = "StandAlone"
    engine.requests.clear()
    assert drbdadm(capsys, "-c", CLASSIC, "adjust", "drbd0", engine=engine)[0] == 0
    assert [r["op"] for r in engine.requests if r["op"] != "status"] == [
        "new-resource", "syncer", "connect"]


def test_07_underscore_commands_and_init_script_helpers(capsys):
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "invalidate_remote", "drbd0")[1] == \
        "invalidate-remote drbd0/0\n"
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "wait_con_int")[1] == \
        "wait-connect drbd0 timeout=0 degr_timeout=0\n"
    assert drbdadm(capsys, "-c", CLASSIC, "sh-nop")[:2] == (0, "")
    assert drbdadm(capsys, "-c", CLASSIC, "sh-mod-parms")[1] == "minor_count=32\n"
    sample = os.path.join(DATA, "v07", "sample-0.7.conf")
    assert drbdadm(capsys, "-c", sample, "sh-mod-parms", host="amd")[1] == "minor_count=4\n"


def test_sh_b_pri_promotes_where_become_primary_on_names_us(capsys):
    dual = os.path.join(DATA, "v83", "dual-primary.conf")
    assert drbdadm(capsys, "-c", dual, "-d", "sh-b-pri", "all", host="gfs1")[1] == \
        "primary r0 force=no\n"
    assert drbdadm(capsys, "-c", CLASSIC, "-d", "sh-b-pri", "all")[:2] == (0, "")


@pytest.mark.parametrize("command, first_op", [
    ("up", "new-resource"), ("down", "down"), ("attach", "new-resource"), ("detach", "detach"),
    ("connect", "connect"), ("disconnect", "disconnect"), ("primary", "primary"),
    ("secondary", "secondary"), ("state", "status"), ("role", "status"), ("cstate", "status"),
    ("dstate", "status"), ("status", "status"), ("create-md", "create-md"),
    ("dump-md", "dump-md"), ("wipe-md", "wipe-md"), ("invalidate", "invalidate"),
    ("invalidate-remote", "invalidate-remote"), ("outdate", "outdate"), ("resize", "resize"),
    ("adjust", "new-resource"), ("syncer", "syncer"), ("pause-sync", "pause-sync"),
    ("resume-sync", "resume-sync"), ("verify", "verify"), ("wait-connect", "wait-connect"),
    ("wait-con-int", "wait-connect"),
])
def test_every_command_plans_under_dry_run(capsys, command, first_op):
    engine = StandInEngine()
    code, out, err = drbdadm(capsys, "-c", CLASSIC, "-d", command, "drbd0", engine=engine)
    assert (code, err) == (0, "")
    assert engine.requests == []  # -d changes nothing: the engine hears nothing
    assert out.split()[:2] in ([first_op, "drbd0"], [first_op, "drbd0/0"])


@pytest.mark.parametrize("argv", [
    ["--force", "primary", "drbd0"],  # 8.3 listed --force among drbdadm's own options
    ["-f", "primary", "drbd0"],
])
def test_force_before_the_command(capsys, argv):
    assert drbdadm(capsys, "-c", CLASSIC, "-d", *argv)[:2] == (0, "primary drbd0 force=yes\n")


@pytest.mark.parametrize("argv, size", [
    (["--", "--size=40G", "resize", "drbd0"], 40 << 30),  # the 8.x user guides' shrink
    (["--", "--size", "100M", "resize", "drbd0"], 100 << 20),
    (["resize", "--size=2048", "drbd0"], 2048 * 512),  # no unit: sectors, as drbdsetup
    (["resize", "drbd0"], None),
])
def test_resize_size(capsys, argv, size):
    engine = StandInEngine()
    assert drbdadm(capsys, "-c", CLASSIC, *argv, engine=engine)[0::2] == (0, "")
    (request,) = [r for r in engine.requests if r["op"] == "resize"]
    assert request["size"] == size


@pytest.mark.parametrize("argv", [["--version"], ["-c", CLASSIC, "--version"], ["-d", "-V"]])
def test_version_among_other_options(capsys, argv):
    code, out, err = drbdadm(capsys, *argv)
    assert (code, err) == (0, "") and out.startswith("DRBDADM_VERSION=")


def test_a_reader_that_goes_away_is_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `drbdadm help | head -0`: the first write finds no reader
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from drbd_py.adm.cli import main; sys.exit(main())",
             "help"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=30, cwd=ROOT)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


def test_stacked_mode_finds_nothing_stacked(capsys):
    assert drbdadm(capsys, "-c", CLASSIC, "-S", "-d", "up", "all")[0::2] == (
        1, "WARN: nothing stacked for this host (debian-420), nothing to do in stacked mode!\n")
    assert drbdadm(capsys, "-c", CLASSIC, "-S", "-d", "up", "drbd0")[0::2] == (
        1, "'drbd0' is a normal resource, and not available in stacked mode.\n")
    assert drbdadm(capsys, "-c", CLASSIC, "-S", "sh-resources") == (0, "", "")
