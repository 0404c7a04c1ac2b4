"""cl_status against a running daemon of ours (control socket in a temp folder):
outputs and exit codes as heartbeat 3.0.6's cl_status gives them."""
import asyncio
import io
import os
import re

import pytest

from heartbeat_py.daemon.paths import Paths
from heartbeat_py.tools import hb_standby, hb_takeover
from heartbeat_py.tools.cl_status import HELP, Tool
from tests.unit.daemon_bus import Bus, Node, run, stop_all, until

LOG_LINE = re.compile(r"^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ cl_status: \[\d+\]: ERROR: ")


def tool_run(paths, *argv):
    out, err = io.StringIO(), io.StringIO()
    code = Tool(out, err, paths).run(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """Every question asked once of one running pair (alpha asked, beta running)."""
    tmp = tmp_path_factory.mktemp("clstatus")
    questions = [
        ("hbstatus",), ("hbstatus", "-v"), ("hbstatus", "-v", "-m"), ("listnodes",),
        ("listnodes", "-v"), ("listnodes", "-p"), ("listnodes", "-n"), ("listnodes", "-m"),
        ("nodestatus", "beta"), ("nodestatus", "BETA"), ("nodestatus", "-m", "beta"),
        ("nodestatus", "beta", "extra"), ("nodestatus", "nosuch"), ("nodestatus",),
        ("nodestatus", "-x", "beta"), ("nodetype", "beta"), ("nodetype", "nosuch"),
        ("nodetype",), ("nodeweight", "beta"), ("listhblinks", "beta"),
        ("listhblinks", "-v", "beta"), ("listhblinks", "nosuch"), ("hblinkstatus", "beta", "eth0"),
        ("hblinkstatus", "-m", "beta", "eth0"), ("hblinkstatus", "beta", "eth9"),
        ("hblinkstatus", "beta"), ("hbparameter", "-p", "keepalive"),
        ("hbparameter", "-p", "deadtime"), ("hbparameter", "-p", "crm"),
        ("hbparameter", "-p", "hbversion"), ("hbparameter", "-m", "-p", "keepalive"),
        ("hbparameter", "-p", "nosuch"), ("hbparameter",), ("rscstatus",), ("rscstatus", "-m"),
        ("clientstatus", "beta", "ipfail"), ("bogus",), ("hbstatus", "-x"), ("listnodes", "-v", "-v"),
        ("listnodes", "-x"), ("hbparameter", "-pkeepalive"), ("hbparameter", "-p"),
        ("hbparameter", "-p", "deadtime", "-p", "keepalive"), ("nodestatus", "beta", "-m"),
    ]

    async def scenario():
        bus = Bus()
        a, b = Node(tmp, "alpha", bus).start(), Node(tmp, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active" and a.status_of("alpha") == "active", 3)
        loop = asyncio.get_running_loop()
        got = {}
        for q in questions:
            got[q] = await loop.run_in_executor(None, tool_run, a.paths, *q)
        got["standby"] = await loop.run_in_executor(None, hb_call, a.paths, hb_standby, ["local"])
        got["takeover"] = await loop.run_in_executor(None, hb_call, a.paths, hb_takeover, [])
        await stop_all(a, b)
        return got
    return run(scenario())


def hb_call(paths, module, argv):
    saved = Paths.from_env
    Paths.from_env = classmethod(lambda cls, env=None: paths)
    try:
        return module.main(argv)
    finally:
        Paths.from_env = saved


def test_hbstatus(answers):
    assert answers[("hbstatus",)] == (0, "Heartbeat is running on this machine.\n", "")
    code, out, _ = answers[("hbstatus", "-v")]
    assert code == 0
    assert out.startswith("version:\t3.0.6 (heartbeat_py ") and 'managed by:\t"haresources"\n' in out
    assert out.endswith("\nbeta\tactive\t(nodetype: normal)\n\teth0\tup\n"
                        "\nalpha\tactive\t(nodetype: normal)\n\teth0\tup\n")
    assert answers[("hbstatus", "-v", "-m")][1].startswith("Heartbeat version 3.0.6")


def test_listnodes_last_node_first_as_3_0_6(answers):
    assert answers[("listnodes",)] == (0, "beta\nalpha\n", "")
    assert answers[("listnodes", "-v")][1] == ("\nbeta\tactive\t(nodetype: normal)\n\teth0\tup\n"
                                               "\nalpha\tactive\t(nodetype: normal)\n\teth0\tup\n")
    assert answers[("listnodes", "-p")] == (0, "", "")
    assert answers[("listnodes", "-n")] == (0, "beta\nalpha\n", "")
    assert answers[("listnodes", "-m")][1] == "The nodes are as follow:\nbeta\nalpha\n"


def test_nodestatus(answers):
    assert answers[("nodestatus", "beta")] == (0, "active\n", "")
    assert answers[("nodestatus", "BETA")] == (0, "active\n", "")
    assert answers[("nodestatus", "beta", "extra")] == (0, "active\n", "")
    assert answers[("nodestatus", "-m", "beta")] == (0, "The cluster node beta is active\n", "")
    assert answers[("nodestatus", "nosuch")] == (11, "", "Error. May be due to incorrect node name\n")
    assert answers[("nodestatus",)] == (11, "", "Not enough parameters.\n")
    code, out, err = answers[("nodestatus", "-x", "beta")]
    assert code == 11 and err.startswith("nodestatus: invalid option -- 'x'\n")


def test_nodetype_and_weight(answers):
    assert answers[("nodetype", "beta")] == (0, "normal\n", "")
    assert answers[("nodetype", "nosuch")] == (11, "", "Error. May be due to incorrect node name\n")
    assert answers[("nodetype",)] == (11, "", "No enough parameter.\n")
    assert answers[("nodeweight", "beta")] == (0, "100\n", "")


def test_links(answers):
    assert answers[("listhblinks", "beta")] == (0, "\teth0\n", "")
    assert answers[("listhblinks", "-v", "beta")] == (0, "\teth0\tup\n", "")
    code, out, err = answers[("listhblinks", "nosuch")]
    assert code == 13 and out == ""
    assert [LOG_LINE.sub("", line) for line in err.splitlines()] == [
        "Cannot start heartbeat link interface walk.", "REASON: EINVAL"]
    assert answers[("hblinkstatus", "beta", "eth0")] == (0, "up\n", "")
    assert answers[("hblinkstatus", "-m", "beta", "eth0")][1] == \
        "The node beta's heartbeat link eth0 is up\n"
    code, out, err = answers[("hblinkstatus", "beta", "eth9")]
    assert code == 13 and "ERROR: Cannot get heartbeat link status" in err
    assert answers[("hblinkstatus", "beta")] == (11, "", "No enough parameter.\n")


def test_hbparameter(answers):
    assert answers[("hbparameter", "-p", "keepalive")] == (0, "100ms\n", "")
    assert answers[("hbparameter", "-p", "deadtime")] == (0, "500ms\n", "")
    assert answers[("hbparameter", "-p", "crm")] == (0, "no\n", "")
    assert answers[("hbparameter", "-p", "hbversion")][1].startswith("3.0.6 (")
    assert answers[("hbparameter", "-m", "-p", "keepalive")][1] == \
        "Heartbeat parameter keepalive's value: 100ms\n"
    code, out, err = answers[("hbparameter", "-p", "nosuch")]
    assert code == 1 and "ERROR: Cannot get parameter nosuch's value" in err
    code, out, err = answers[("hbparameter",)]
    assert code == 11 and LOG_LINE.match(err) and err.endswith("ERROR: parameter name required\n")


def test_rscstatus_clientstatus_and_bad_subcommand(answers):
    assert answers[("rscstatus",)] == (0, "none\n", "")
    assert answers[("rscstatus", "-m")] == (0, "This node is holding none resources.\n", "")
    assert answers[("clientstatus", "beta", "ipfail")] == (1, "offline\n", "")
    code, out, err = answers[("bogus",)]
    assert code == 11 and err.endswith("ERROR: bogus: invalid sub-command.\n")


def test_standby_and_takeover_reach_the_resource_layer(answers):
    assert answers["standby"] == 0 and answers["takeover"] == 0


def test_without_a_daemon(tmp_path):
    paths = Paths(tmp_path / "pid", tmp_path / "run", tmp_path / "lib")
    assert tool_run(paths, "hbstatus") == (1, "Heartbeat is stopped on this machine.\n", "")
    assert tool_run(paths, "hbstatus", "-x") == (1, "Heartbeat is stopped on this machine.\n",
                                                 "hbstatus: invalid option -- 'x'\n")
    code, out, err = tool_run(paths, "nodestatus", "beta")
    assert code == 1 and out == ""
    assert [LOG_LINE.sub("", line) for line in err.splitlines()] == [
        "Cannot signon with heartbeat",
        "REASON: hb_api_signon: Can't initiate connection to heartbeat"]
    assert tool_run(paths, "nodestatus")[0] == 1          # signon first, as 3.0.6
    assert tool_run(paths) == (0, HELP, "")
    assert tool_run(paths, "-h") == (0, HELP, "")


@pytest.mark.parametrize("argv, out, err", [
    (["a", "b"], "{p}: too many arguments\nusage:\n", "{p} [all|foreign|local|failback]\n"),
    (["bogus"], "{p}: wrong resources(bogus).\nusage:\n", "{p} [all|foreign|local|failback]\n"),
    (["--help"], "usage:\n", "{p} [all|foreign|local|failback]\n"),
])
def test_standby_and_takeover_argument_checks(argv, out, err, capsys, monkeypatch):
    for module in (hb_standby, hb_takeover):
        monkeypatch.setattr("sys.argv", ["/usr/share/heartbeat/x"])
        assert module.main(argv) == 1
        got = capsys.readouterr()
        assert (got.out, got.err) == (out.format(p="/usr/share/heartbeat/x"),
                                      err.format(p="/usr/share/heartbeat/x"))


def test_standby_without_a_daemon_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HBPY_ROOT", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["hb_standby"])
    assert hb_standby.main([]) == 1
    assert "heartbeat is not running" in capsys.readouterr().err


def test_options_are_read_as_3_0_6s_getopt_reads_them(answers):
    # hbstatus lets getopt complain about an unknown option and answers anyway
    assert answers[("hbstatus", "-x")] == (0, "Heartbeat is running on this machine.\n",
                                           "hbstatus: invalid option -- 'x'\n")
    assert answers[("listnodes", "-v", "-v")] == answers[("listnodes", "-v")]
    code, out, err = answers[("listnodes", "-x")]
    assert code == 11 and err.startswith("listnodes: invalid option -- 'x'\n")
    assert err.endswith("ERROR: Error: getopt returnedcharacter code ?.\n")
    assert answers[("nodestatus", "-x", "beta")][2].endswith(
        "ERROR: Error: getopt returnedcharacter ?.\n")          # the other wording
    assert answers[("hbparameter", "-pkeepalive")] == (0, "100ms\n", "")
    assert answers[("hbparameter", "-p", "deadtime", "-p", "keepalive")] == (0, "100ms\n", "")
    code, out, err = answers[("hbparameter", "-p")]
    assert code == 11 and err.startswith("hbparameter: option requires an argument -- 'p'\n")
    assert answers[("nodestatus", "beta", "-m")] == (0, "The cluster node beta is active\n", "")
