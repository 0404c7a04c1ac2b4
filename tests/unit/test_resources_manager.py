"""heartbeat_py.resources.ResourceManager on a fake daemon: two managers joined by a
fake network, real child processes for the resource scripts (sh scripts whose state
is a marker file per node), the daemon's calls as docs/heartbeat-daemon.md §1 lists
them. Checks what an admin would see: which node runs the group, rscstatus, the
answer of a shutdown, and that keepalives (a ticker) flow while scripts run.
"""
import asyncio
import logging
import os
import time

import pytest

from heartbeat_py.config.loader import load
from heartbeat_py.resources import ResourceManager
from heartbeat_py.resources.manager import uses_ipfail
from heartbeat_py.wire import Message
from heartbeat_py.wire import fields as F
from tests.unit.test_resources_runner import Ticker

SCRIPT = r"""#!/bin/sh
eval action=\${$#}
name=$(basename "$0")
echo "$name $*" >> "$HA_STATE/calls"
[ "$action" = start ] && [ -f "$HA_STATE/slow" ] && sleep "$(cat "$HA_STATE/slow")"
case $action in
  start) [ -f "$HA_STATE/failstart" ] && exit 1; touch "$HA_STATE/$name.running";;
  stop)  [ -f "$HA_STATE/failstop" ] && exit 1; rm -f "$HA_STATE/$name.running";;
  status) [ -f "$HA_STATE/$name.running" ] && { echo running; exit 0; }; echo stopped; exit 3;;
esac
exit 0
"""


class FakeApi:
    def __init__(self, node, config, net):
        self.local_node = node
        self.config = config
        self.nodes = list(config.hacf.nodes)
        self.log = logging.getLogger(f"mgr.{node}")
        self.comm_is_up = False
        self.net = net
        self.sent = []
        self.hints = []

    def node_status(self, node):
        return "active"

    def send(self, msg):
        if not isinstance(msg, Message):
            msg = msg.to_message()
        msg = msg.copy()
        msg.set(F.F_ORIG, self.local_node)
        self.sent.append(msg)
        self.net.deliver(self.local_node, msg)

    def stable_hint(self, unstable):
        self.hints.append(unstable)


class Net:
    def __init__(self):
        self.managers = {}
        self.cut = False

    def deliver(self, src, msg):
        if self.cut:
            return
        loop = asyncio.get_running_loop()
        for name, mgr in self.managers.items():
            dest = msg.get(F.F_TO)
            if name != src and dest in (None, name):
                loop.call_soon(mgr.message, msg)


def make_node(tmp_path, name, net, haresources="alpha resA resB::x\n", hacf_extra=""):
    confdir = tmp_path / name / "ha.d"
    state = tmp_path / name / "state"
    (confdir / "resource.d").mkdir(parents=True)
    state.mkdir()
    for script in ("resA", "resB"):
        path = confdir / "resource.d" / script
        path.write_text(SCRIPT)
        path.chmod(0o755)
    (confdir / "ha.cf").write_text(
        "keepalive 200ms\ndeadtime 1\ninitdead 1\nudpport 694\nbcast eth0\n"
        f"auto_failback on\nnode alpha beta\nlogfile {tmp_path / name / 'ha-log'}\n"
        f"env STATE={state}\n" + hacf_extra)
    (confdir / "haresources").write_text(haresources)
    (confdir / "authkeys").write_text("auth 1\n1 crc\n")
    (confdir / "authkeys").chmod(0o600)
    config = load(confdir, env={}, nodename=name)
    api = FakeApi(name, config, net)
    mgr = ResourceManager(api, config)
    net.managers[name] = mgr
    mgr.state = state
    return mgr


def running(mgr):
    return sorted(p.name.removesuffix(".running") for p in mgr.state.glob("*.running"))


async def until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def start_pair(tmp_path, prepare=None, **kw):
    """Two managers started together; `prepare(alpha)` runs first (to change a script)."""
    net = Net()
    a, b = make_node(tmp_path, "alpha", net, **kw), make_node(tmp_path, "beta", net, **kw)
    if prepare is not None:
        prepare(a)
    for mgr, peer in ((a, "beta"), (b, "alpha")):
        mgr.start()
        mgr.node_status(peer, None, "up")
        mgr.node_status(peer, "up", "active")
    for mgr in (a, b):
        mgr.api.comm_is_up = True
        mgr.comm_up()
    return net, a, b


async def stable_pair(tmp_path):
    """Started, the group on alpha, both nodes stable."""
    net, a, b = await start_pair(tmp_path)
    await until(lambda: running(a) == ["resA", "resB"], 15, "group on alpha")
    await until(lambda: a.rscstatus() == "local" and b.rscstatus() == "local", 5, "stable")
    return net, a, b


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture(autouse=True)
def short_rqstdelay(monkeypatch):
    # 3.0.6 waits 10 s (RQSTDELAY) after a joint start before taking local groups
    monkeypatch.setenv("HBPY_RQSTDELAY", "0.3")


def test_pair_starts_with_the_group_on_its_node(tmp_path):
    async def main():
        net, a, b = await stable_pair(tmp_path)
        assert running(b) == []
        calls = (a.state / "calls").read_text().splitlines()
        assert calls == ["resA status", "resA start", "resB x status", "resB x start"]
        assert a.api.hints == []        # our deadtime stays as configured during resource work
        for m in (a, b):
            m.close()
    run(main())


def test_failover_standby_takeover_and_graceful_stop(tmp_path):
    async def main():
        net, a, b = await stable_pair(tmp_path)
        # hb_standby on alpha
        assert await a.standby("all") == (0, "")
        await until(lambda: running(b) == ["resA", "resB"] and not running(a), 10, "moved to beta")
        await until(lambda: a.rscstatus() == "none" and b.rscstatus() == "all", 5, "stable again")
        # hb_takeover on alpha
        assert await a.takeover("all") == (0, "")
        await until(lambda: running(a) == ["resA", "resB"] and not running(b), 10, "back on alpha")
        await until(lambda: a.rscstatus() == "all" and b.rscstatus() == "none", 5, "stable again")
        # graceful stop of alpha: resources stop there, then start on beta
        assert await a.shutdown() is True
        assert not running(a)
        a_calls = (a.state / "calls").read_text().splitlines()
        assert a_calls[-2:] == ["resB x stop", "resA stop"]
        shutdone = Message()
        shutdone.add(F.F_TYPE, F.T_SHUTDONE)
        shutdone.add(F.F_STATUS, F.STATUS_DEAD)
        shutdone.add(F.F_ORIG, "alpha")
        b.message(shutdone)
        await until(lambda: running(b) == ["resA", "resB"], 10, "beta took over")
        b.node_status("alpha", "active", "dead")
        await until(lambda: b.rscstatus() == "all", 5, "beta stable")
        for m in (a, b):
            m.close()
    run(main())


def test_kill_of_the_owner_moves_the_group(tmp_path):
    async def main():
        net, a, b = await start_pair(tmp_path)
        await until(lambda: running(a) == ["resA", "resB"], 15, "group on alpha")
        a.close()
        net.managers.pop("alpha")
        b.node_status("alpha", "active", "dead")
        await until(lambda: running(b) == ["resA", "resB"], 10, "beta took over")
        await until(lambda: b.rscstatus() == "all", 5, "beta stable")
        b.close()
    run(main())


def test_failed_stop_at_shutdown_keeps_the_daemon_and_the_group(tmp_path):
    async def main():
        net, a, b = await stable_pair(tmp_path)
        (a.state / "failstop").touch()
        os.environ["HA_STOPRETRYMAX"] = "1"
        try:
            a.groups.retries, a.groups.retry_delay = 1, 0.01
            assert await a.shutdown() is False
        finally:
            del os.environ["HA_STOPRETRYMAX"]
        assert running(a) == ["resA", "resB"] and running(b) == []
        await asyncio.sleep(0.3)
        assert running(b) == []
        log = (tmp_path / "alpha" / "state" / "calls").read_text()
        assert "resB x stop" in log and "resA stop" not in log
        for m in (a, b):
            m.close()
    run(main())


def test_keepalives_flow_while_a_slow_start_runs(tmp_path):
    async def main():
        net, a, b = await start_pair(tmp_path)
        (a.state / "slow").write_text("0.7")
        ticker = Ticker()
        await until(lambda: running(a) == ["resA", "resB"], 20, "group on alpha")
        assert ticker.stop() <= 3 and ticker.ticks >= 10
        assert a.rscstatus() in ("transition", "local")
        for m in (a, b):
            m.close()
    run(main())


def test_ipfail_is_built_in_when_ha_cf_respawns_it(tmp_path):
    net = Net()
    plain = make_node(tmp_path, "alpha", net, hacf_extra="ping 192.0.2.1\n")
    assert not uses_ipfail(plain.config)
    with_ipfail = make_node(tmp_path / "x", "alpha", net, hacf_extra=(
        "ping 192.0.2.1\nrespawn hacluster /usr/lib/heartbeat/ipfail\n"))
    assert uses_ipfail(with_ipfail.config)
    assert with_ipfail.handles_respawn("/usr/lib/heartbeat/ipfail")
    assert not with_ipfail.handles_respawn("/usr/lib/heartbeat/dopd")


def test_reload_takes_new_groups_and_scripts_for_the_next_operations(tmp_path):
    async def main():
        net, a, b = await stable_pair(tmp_path)
        for mgr in (a, b):
            confdir = mgr.config.confdir
            (confdir / "haresources").write_text("alpha resA\n")
            mgr.reload(load(confdir, env={}, nodename=mgr.api.local_node))
        await a.standby("all")
        await until(lambda: running(b) == ["resA"], 10, "resA on beta")
        await until(lambda: b.rscstatus() == "all", 5, "stable")
        # resB::x is no longer managed: it stays where it ran, and is never started on beta
        assert running(a) == ["resB"]
        assert "resB x stop" not in (a.state / "calls").read_text()
        assert "resB" not in (b.state / "calls").read_text()
        for m in (a, b):
            m.close()
    run(main())


def test_ping_nodes_status_is_not_a_peer_death(tmp_path):
    async def main():
        net, a, b = await stable_pair(tmp_path)
        a.node_status("192.0.2.1", "ping", "dead")
        await asyncio.sleep(0.2)
        assert running(a) == ["resA", "resB"] and a.rscstatus() == "local"
        for m in (a, b):
            m.close()
    run(main())


def test_scripts_get_heartbeats_environment(tmp_path, monkeypatch):
    """What a resource script finds in its environment when the daemon runs it: 3.0.6's
    exports (resource-agents' shellfuncs reads them), ha.cf's log settings, `env` lines
    as HA_NAME, and no terminal on stdin."""
    monkeypatch.setenv("HA_LOGFACILITY", "daemon")      # an admin's shell must not leak in
    rsctmp = tmp_path / "rsctmp"
    monkeypatch.setenv("HA_RSCTMP", str(rsctmp))

    dump = ('[ "$action" = start ] && { env > "$HA_STATE/env"; '
            '[ -t 0 ] && echo tty >> "$HA_STATE/env"; }\n')

    def dumping_env(mgr):
        script = mgr.config.confdir / "resource.d" / "resA"
        script.write_text(SCRIPT.replace("case $action", dump + "case $action"))

    async def main():
        net, a, b = await start_pair(tmp_path, prepare=dumping_env, haresources="alpha resA\n",
                                     hacf_extra="env FOO=bar\ndebug 1\n")
        await until(lambda: running(a) == ["resA"], 15, "resA on alpha")
        env = dict(line.split("=", 1) for line in
                   (a.state / "env").read_text().splitlines() if "=" in line)
        assert "tty" not in (a.state / "env").read_text().splitlines()
        confdir = str(a.config.confdir)
        assert {k: env.get(k) for k in (
            "HA_DIR", "HA_FUNCS", "HA_CURHOST", "HA_LOGFILE", "HA_DEBUGLOG", "HA_LOGFACILITY",
            "HA_RSCTMP", "HA_RESOURCEDIR", "HA_NICEFAILBACK", "HA_cluster_type", "HA_debug",
            "HA_FOO", "OCF_ROOT")} == {
            "HA_DIR": confdir, "HA_FUNCS": f"{confdir}/shellfuncs", "HA_CURHOST": "alpha",
            "HA_LOGFILE": str(tmp_path / "alpha" / "ha-log"), "HA_DEBUGLOG": None,
            "HA_LOGFACILITY": None, "HA_RSCTMP": str(rsctmp),
            "HA_RESOURCEDIR": f"{confdir}/resource.d", "HA_NICEFAILBACK": "yes",
            "HA_cluster_type": "heartbeat", "HA_debug": "1", "HA_FOO": "bar",
            "OCF_ROOT": "/usr/lib/ocf"}
        assert env["HA_DATEFMT"] == "%Y/%m/%d_%T\t"
        assert rsctmp.is_dir()          # created for the scripts' state files
        for m in (a, b):
            m.close()
    run(main())
