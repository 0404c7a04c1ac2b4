"""The daemon and its configuration: several media with a link status each, media it
refuses, ping nodes, and `heartbeat -r` (reload) applying a changed ha.cf/authkeys."""
import asyncio

from heartbeat_py.config import load
from heartbeat_py.daemon import hblog
from heartbeat_py.daemon.core import Daemon
from heartbeat_py.daemon.no_resources import NoResources
from tests.unit.daemon_bus import Bus, Node, run, stop_all, until


def test_each_medium_has_its_own_link_status(tmp_path):
    async def scenario():
        bus = Bus()
        media = "bcast eth1\nmcast eth2 239.0.0.1 694 1 0\n"
        a = Node(tmp_path, "alpha", bus, extra=media).start()
        b = Node(tmp_path, "beta", bus, extra=media).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        await until(lambda: all(l.status == "up" for l in a.daemon.membership.nodes["beta"].links.values()), 2)
        bus.cut = {("beta", "alpha", "eth1")}
        await until(lambda: "Link beta:eth1 dead." in a.log(), 4)
        links = await a.daemon._control({"cmd": "listhblinks", "node": "beta"})
        one = await a.daemon._control({"cmd": "hblinkstatus", "node": "beta", "link": "eth2"})
        status = a.status_of("beta")
        await stop_all(a, b)
        return links, one, status
    links, one, status = run(scenario())
    assert [(l["name"], l["status"]) for l in links["links"]] == [
        ("eth0", "up"), ("eth1", "dead"), ("eth2", "up")]
    assert one == {"ok": True, "status": "up"}
    assert status == "active"          # the node lives on while any link carries it


def test_serial_is_refused_clearly_and_heartbeat_does_not_start(tmp_path):
    node = Node(tmp_path, "alpha", Bus(), extra="serial /dev/ttyS0\n")
    config = node.config
    log = hblog.make_logger(hblog.LogTargets(config.hacf.logfile))
    from heartbeat_py.media import medium_from_config
    daemon = Daemon(config, "alpha", log, node.paths, media_factory=medium_from_config,
                    handle_signals=False, resource_manager=NoResources)
    code = asyncio.run(asyncio.wait_for(daemon.run(), 10))
    assert code == 1
    assert "ERROR: Heartbeat not started: serial: serial links are not supported" in node.log()


def test_ping_nodes_are_listed_with_their_type(tmp_path):
    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus, extra="ping 192.0.2.254\n").start()
        await until(lambda: a.daemon.membership is not None, 2)
        nodes = await a.daemon._control({"cmd": "listnodes"})
        kind = await a.daemon._control({"cmd": "nodetype", "node": "192.0.2.254"})
        await stop_all(a)
        return nodes, kind
    nodes, kind = run(scenario())
    assert [(n["name"], n["type"]) for n in nodes["nodes"]] == [
        ("alpha", "normal"), ("beta", "normal"), ("192.0.2.254", "ping")]
    assert kind == {"ok": True, "type": "ping"}


def test_reload_applies_timers_and_keys_or_refuses_a_bad_file(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        same = a.daemon.reload()
        cf = a.dir / "etc" / "ha.cf"
        cf.write_text(cf.read_text().replace("keepalive 100ms", "keepalive 150ms"))
        changed = a.daemon.reload()
        keepalive = a.daemon.keepalive
        cf.write_text(cf.read_text().replace("deadtime 500ms", "deadtime 100ms"))
        bad = a.daemon.reload()
        answer = await a.daemon._control({"cmd": "reload"})
        still = a.daemon.keepalive, a.status_of("beta")
        await stop_all(a, b)
        return same, changed, keepalive, bad, answer, still
    same, changed, keepalive, bad, answer, still = run(scenario())
    assert same == [] and changed == [] and keepalive == 0.15
    assert bad and "deadtime" in bad[0]
    assert answer["ok"] is False and "deadtime" in answer["error"]
    assert still == (0.15, "active")
    text = (tmp_path / "alpha" / "ha-log").read_text()
    assert "info: Configuration unchanged." in text
    assert "info: Configuration reread: keepalive 150 ms" in text
    assert "Config errors: Heartbeat pid" in text


def test_a_changed_key_takes_effect_on_reload(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        keys = a.dir / "etc" / "authkeys"
        keys.write_text("auth 2\n1 sha1 secret\n2 md5 newer\n")
        a.daemon.reload()
        # beta still has only key 1: alpha's packets signed with key 2 fail there
        await until(lambda: "failed authentication" in b.log(), 2)
        await stop_all(a, b)
    run(scenario())


class NoResourcesNode(Node):
    """`heartbeat -M`: the only way v1 heartbeat accepts autojoin."""

    @property
    def config(self):
        return load(self.dir / "etc", env={}, manage_resources=False)


def test_autojoin_adds_a_node_in_no_node_line_and_without_it_the_node_is_refused(tmp_path):
    """alpha: autojoin other; beta: none; gamma: autojoin any, in no node line at all."""
    async def scenario():
        bus = Bus()
        a = NoResourcesNode(tmp_path, "alpha", bus, extra="autojoin other\n").start()
        b = NoResourcesNode(tmp_path, "beta", bus).start()
        g = NoResourcesNode(tmp_path, "gamma", bus, extra="autojoin any\n").start()
        await until(lambda: a.status_of("gamma") == "active" and g.status_of("alpha") == "active"
                    and g.status_of("gamma") == "active", 3, "gamma joined alpha")
        listed = await a.daemon._control({"cmd": "listnodes"})
        at_beta = await b.daemon._control({"cmd": "nodestatus", "node": "gamma"})
        await g.crash()
        await until(lambda: a.status_of("gamma") == "dead", 3, "gamma dead")
        await stop_all(a, b)
        return a, b, listed, at_beta
    a, b, listed, at_beta = run(scenario())
    assert [n["name"] for n in listed["nodes"]] == ["alpha", "beta", "gamma"]
    assert "info: process_clustermsg: Adding new node [gamma] to configuration." in a.log()
    assert "WARN: node gamma: is dead" in a.log()
    assert at_beta == {"ok": False, "error": "unknown node"}
    assert "process_status_message: bad node [gamma] in message" in b.log()
    assert "Adding new node" not in b.log()
