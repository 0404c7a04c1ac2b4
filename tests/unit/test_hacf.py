"""ha.cf as heartbeat 3.0.6 reads it: directives, defaults, checks, messages."""
from pathlib import Path

import pytest

from heartbeat_py.config import ConfigError, ConfigErrors, parse_hacf, read_hacf
from heartbeat_py.config.directives import DIRECTIVES

DATA = Path(__file__).parent / "data" / "hacfg"
PATH = "/etc/ha.d/ha.cf"
# the smallest file heartbeat starts with: a node, a link, somewhere to log
BASE = "node alpha beta\nucast eth0 192.0.2.2\nlogfile /var/log/ha-log\nauto_failback on\n"


def parse(text, **kwargs):
    kwargs.setdefault("udpport_default", 694)
    return parse_hacf(text.encode() if isinstance(text, str) else text, PATH, **kwargs)


def errors_of(text, **kwargs):
    with pytest.raises(ConfigErrors) as caught:
        parse(text, **kwargs)
    return [str(e) for e in caught.value.errors]


def warnings_of(text, **kwargs):
    return [str(w) for w in parse(text, **kwargs).warnings]


# -- real files ------------------------------------------------------------------------


def test_reference_file_of_the_real_cluster_loads():
    cf = read_hacf(str(DATA / "reference" / "ha.cf"))
    assert cf.nodes == ["nodea", "nodeb"]
    assert (cf.keepalive_ms, cf.deadtime_ms, cf.warntime_ms, cf.initdead_ms) == (1000, 5000, 3000, 10000)
    assert (cf.msgfmt, cf.uuidfrom, cf.logfacility, cf.use_logd) == ("classic", "nodename", "none", False)
    assert cf.auto_failback == "on"
    assert [(m.kind, m.interface, m.peer, m.port) for m in cf.media] == [("ucast", "eth0", "10.99.0.2", 694)]
    assert cf.parameters["keepalive"] == "1"        # what cl_status hbparameter -p keepalive prints
    assert cf.parameters["pacemaker"] == "no"
    assert cf.warnings == [] and cf.unhandled == []


@pytest.mark.parametrize("variant", ["classic", "classic-eucjp"])
def test_classic_guide_file_with_japanese_comments(variant):
    cf = read_hacf(str(DATA / variant / "ha.cf"))
    assert cf.nodes == ["debian-420", "debian-566"]
    assert [(m.kind, m.interface, m.peer) for m in cf.media] == [("ucast", "eth0", "192.168.0.73")]
    assert (cf.keepalive_ms, cf.deadtime_ms, cf.warntime_ms, cf.initdead_ms) == (2000, 30000, 10000, 120000)
    assert (cf.logfile, cf.debugfile, cf.logfacility) == ("/var/log/ha-log", "/var/log/ha-debug", "local0")
    assert cf.auto_failback == "on"


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_hacf(str(tmp_path / "ha.cf"))
    assert str(caught.value) == f"{tmp_path}/ha.cf: cannot open config file: No such file or directory"


# -- defaults -----------------------------------------------------------------------------


def test_defaults_are_heartbeat_306s():
    cf = parse(BASE)
    assert (cf.keepalive_ms, cf.deadtime_ms, cf.warntime_ms, cf.initdead_ms, cf.deadping_ms) == \
        (1000, 30000, 15000, 30000, 30000)
    assert (cf.udpport, cf.msgfmt, cf.uuidfrom, cf.autojoin, cf.baud) == (694, "classic", "file", "none", 19200)
    assert parse(BASE.replace("auto_failback on\n", "")).auto_failback == "legacy"
    assert cf.parameters["warntime"] == "15000ms" and cf.parameters["initdead"] == "30000ms"


@pytest.mark.parametrize("deadtime, initdead_ms", [("5", 12000), ("8", 16000), ("10", 20000), ("11", 11000)])
def test_initdead_default_follows_deadtime(deadtime, initdead_ms):
    assert parse(BASE + f"keepalive 1\ndeadtime {deadtime}\n").initdead_ms == initdead_ms


def test_udpport_default_comes_from_services_database_argument():
    assert parse(BASE, udpport_default=7000).media[0].port == 7000


# -- timers and the checks heartbeat makes --------------------------------------------------


@pytest.mark.parametrize("value, ms", [("2", 2000), ("1.5", 1500), ("500ms", 500), ("500MS", 500),
                                       ("2000us", 2), ("2s", 2000), ("1min", 60000), ("0.001", 1)])
def test_keepalive_time_syntax(value, ms):
    assert parse(BASE + f"keepalive {value}\ndeadtime 1000\n").keepalive_ms == ms


@pytest.mark.parametrize("value", ["2h", "fast", "-1", "0", "1..2"])
def test_bad_keepalive_names_value_and_line(value):
    assert errors_of(BASE + f"keepalive {value}\n")[0].startswith(f'{PATH}:5: invalid keepalive "{value}"')


def test_value_written_with_a_blank_before_the_unit_is_refused_like_heartbeat():
    # heartbeat splits `500 ms` into two values: 500 (seconds) and `ms`, which is no time
    assert errors_of(BASE + "keepalive 500 ms\n")[0] == \
        f'{PATH}:5: invalid keepalive "ms": not a time (examples: 2, 1.5, 500ms)'


def test_units_heartbeat_306_refuses_are_accepted_with_a_warning():
    assert any("heartbeat 3.0.6 itself refuses" in w for w in warnings_of(BASE + "deadtime 20s\n"))


def test_deadtime_must_exceed_twice_keepalive():
    assert errors_of(BASE + "keepalive 2\ndeadtime 4\n") == [
        f"{PATH}:6: deadtime 4s is too small compared to keepalive 2s: it must be more than twice keepalive"]
    assert parse(BASE + "keepalive 2\ndeadtime 4001ms\n").deadtime_ms == 4001


def test_initdead_below_deadtime_is_an_error_and_below_ten_seconds_a_warning():
    assert errors_of(BASE + "deadtime 5\ninitdead 3\n") == [f"{PATH}:6: initdead 3s is smaller than deadtime 5s"]
    assert f"{PATH}:6: initdead 8s may be too small" in " ".join(warnings_of(BASE + "deadtime 5\ninitdead 8\n"))


def test_initdead_below_twice_deadtime_is_warned_when_written():
    assert f"{PATH}:6: initdead 40s is less than twice deadtime 30s" in \
        " ".join(warnings_of(BASE + "deadtime 30\ninitdead 40\n"))
    for text in ("deadtime 30\ninitdead 60\n", "deadtime 30\n"):     # enough, or 3.0.6's default
        assert not [w for w in warnings_of(BASE + text) if "initdead" in w], text


def test_warntime_not_below_deadtime_is_warned():
    assert any(w.startswith(f"{PATH}:6: warntime 10s is not less than deadtime 10s")
               for w in warnings_of(BASE + "deadtime 10\nwarntime 10\n"))


def test_deadping_checked_against_keepalive():
    assert errors_of(BASE + "keepalive 2\ndeadping 3\n") == \
        [f"{PATH}:6: deadping 3s is too small compared to keepalive 2s"]


def test_last_of_several_values_wins_with_a_warning():
    cf = parse(BASE + "keepalive 1 2\n")
    assert cf.keepalive_ms == 2000
    assert any('several values; the last one, "2"' in str(w) for w in cf.warnings)


# -- directives, names, comments ------------------------------------------------------------


def test_unknown_directive_is_named_with_its_line_and_a_suggestion():
    assert errors_of(BASE + "keepalve 2\n") == [f'{PATH}:5: unknown directive "keepalve" (did you mean "keepalive"?)']


def test_directive_names_are_case_sensitive():
    assert errors_of(BASE + "Keepalive 2\n")[0].startswith(f'{PATH}:5: unknown directive "Keepalive"')


def test_every_error_is_reported_not_only_the_first():
    errors = errors_of("keepalve 2\nnode a\nlogfile /x\nmcast eth0 10.0.0.1 694 1 0\nuuidfrom disk\n")
    assert [e.split(":")[1] for e in errors] == ["1", "4", "5", f" no heartbeat media defined (bcast, ucast or mcast)"]


def test_comments_blank_lines_carriage_returns_and_commas():
    cf = parse("# comment\n\n   \t\nnode Alpha,BETA gamma  # trailing comment\r\n"
               "ucast eth0 192.0.2.2\r\nlogfile /x\r\nkeepalive 2\r garbage after CR\n")
    assert cf.nodes == ["alpha", "beta", "gamma"]
    assert cf.keepalive_ms == 2000


def test_node_names_lower_cased_ascii_only_and_duplicates_warned():
    cf = parse(BASE + "node GAMMA alpha\n")
    assert cf.nodes == ["alpha", "beta", "gamma"]
    assert any('node "alpha" declared twice' in str(w) for w in cf.warnings)
    assert cf.is_node("Gamma") and not cf.is_node("delta")


def test_directive_without_value_is_ignored_with_a_warning():
    assert any('"deadtime" has no value' in w for w in warnings_of(BASE + "deadtime\n"))


def test_every_directive_of_the_man_page_is_accepted_and_unhandled_ones_reported_once():
    text = (DATA / "all-directives.cf").read_text()
    cf = parse(text, manage_resources=False)
    names = {line.split()[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert names == {d.name for d in DIRECTIVES} - {"crm"}     # crm is pacemaker's other name
    unhandled = [u.message.split('"')[1] for u in cf.unhandled]
    assert sorted(unhandled) == sorted(set(unhandled))
    # exactly what the daemon leaves aside: ping nodes, hopfudge, env, deadping and
    # max_rexmit_delay are honoured; serial, ucast6 and mcast6 stop it from starting
    assert sorted(unhandled) == [
        "apiauth", "baud", "cluster", "compression", "compression_threshold", "conn_logd_time",
        "coredumps", "coreroot", "crm_daemon_dir", "crmd_spawns_pengine", "enable_config_writes",
        "failfast", "hbgenmethod", "log_badpack", "mcast6", "memreserve", "quorum_server",
        "realtime", "record_config_changes", "record_pengine_inputs", "respawn", "rtprio",
        "serial", "stonith", "stonith_host", "syslogmsgfmt", "traditional_compression", "ucast6",
        "use_apphbd", "watchdog"]


def test_respawned_ipfail_is_built_in_and_other_clients_are_reported():
    cf = parse(BASE + "respawn hacluster /usr/lib/heartbeat/ipfail\nrespawn root /bin/true\n"
               "failfast root /bin/false\n")
    assert [str(u) for u in cf.unhandled] == [
        f'{PATH}:6: "respawn" /bin/true: not started by this heartbeat, which has no client API'
        " (ipfail is built in)",
        f'{PATH}:7: "failfast" /bin/false: not started by this heartbeat, which has no client API'
        " (ipfail is built in)"]
    assert [c.command for c in cf.respawn] == ["/usr/lib/heartbeat/ipfail", "/bin/true", "/bin/false"]


# -- media ------------------------------------------------------------------------------------


def test_udpport_before_media_sets_their_port():
    cf = parse("udpport 1694\n" + BASE + "bcast eth1 eth2\n")
    assert [(m.kind, m.interface, m.port) for m in cf.media] == \
        [("ucast", "eth0", 1694), ("bcast", "eth1", 1694), ("bcast", "eth2", 1694)]


def test_udpport_after_media_does_not_apply_to_them_and_is_warned():
    cf = parse(BASE + "udpport 1694\n")
    assert cf.media[0].port == 694 and cf.udpport == 1694
    assert any("udpport 1694 comes after the ucast line 2, which keeps port 694" in str(w) for w in cf.warnings)


def test_mcast_with_ttl_and_loop():
    m = parse(BASE + "mcast eth1 239.192.0.42 1694 1 0\n").media[1]
    assert (m.kind, m.interface, m.group, m.port, m.ttl, m.loop) == ("mcast", "eth1", "239.192.0.42", 1694, 1, 0)


def test_mcast_checks_like_heartbeat():
    assert errors_of(BASE + "mcast eth1 10.0.0.1 0 5 2\n") == [
        f'{PATH}:5: mcast eth1: bad multicast group "10.0.0.1" (must be in 224.0.0.0/4)',
        f'{PATH}:5: mcast eth1: bad port "0"',
        f'{PATH}:5: mcast eth1: bad ttl "5" (0 to 4)',
        f'{PATH}:5: mcast eth1: bad loop "2" (0 or 1)']
    assert errors_of(BASE + "mcast eth1 239.0.0.1 694 1\n") == [
        f"{PATH}:5: mcast eth1 239.0.0.1 694 1: missing loop (syntax: mcast interface group port ttl loop)"]


def test_ucast_needs_a_peer_and_ignores_extra_words_with_a_warning():
    assert errors_of(BASE + "ucast eth1\n")[0] == \
        f"{PATH}:5: ucast eth1: missing peer-address (syntax: ucast interface peer-address)"
    assert any("extra words" in w for w in warnings_of(BASE + "ucast eth1 192.0.2.3 192.0.2.4\n"))


def test_old_udp_directive_is_bcast():
    cf = parse(BASE + "udp eth1\n")
    assert cf.media[1].kind == "bcast"
    assert any('"udp" is the old name of "bcast"' in str(w) for w in cf.warnings)


def test_no_media_and_no_nodes_are_errors():
    assert errors_of("logfile /x\n") == [f"{PATH}: no heartbeat media defined (bcast, ucast or mcast)",
                                         f"{PATH}: no nodes defined (add a node line for each cluster node)"]


def test_serial_baud_and_ping_nodes():
    cf = parse("baud 115200\n" + BASE + "serial /dev/ttyS0\nping 192.0.2.254\nping_group routers 192.0.2.1 192.0.2.9\n")
    assert [(m.device, m.baud) for m in cf.media if m.kind == "serial"] == [("/dev/ttyS0", 115200)]
    assert [(p.kind, p.name, p.hosts) for p in cf.ping_nodes] == \
        [("ping", "192.0.2.254", ("192.0.2.254",)), ("ping_group", "routers", ("192.0.2.1", "192.0.2.9"))]
    assert errors_of(BASE + "serial ttyS0\n") == [f'{PATH}:5: serial port "ttyS0" is not a full pathname']
    assert errors_of(BASE + "baud 1234\n")[0].startswith(f'{PATH}:5: invalid baud "1234"')
    assert errors_of(BASE + "ping_group routers\n")[0].startswith(f"{PATH}:5: ping_group needs a name")


# -- resource management, logging, failback -----------------------------------------------------


@pytest.mark.parametrize("line", ["crm yes", "crm respawn", "pacemaker on", "crm minimal"])
def test_crm_is_refused_clearly(line):
    assert errors_of(BASE + line + "\n") == [
        f'{PATH}:5: "{line}" is not supported: only heartbeat v1 resource management'
        ' (haresources) is offered; write "crm no"']


def test_crm_off_accepted_once():
    assert parse(BASE + "crm no\n").parameters["pacemaker"] == "no"
    assert errors_of(BASE + "crm no\ncrm off\n") == [f"{PATH}:6: crm/pacemaker given more than once (first on line 5)"]


@pytest.mark.parametrize("value, expected", [("on", "on"), ("yes", "on"), ("off", "off"), ("false", "off"),
                                             ("legacy", "legacy"), ("Legacy", "legacy")])
def test_auto_failback_values(value, expected):
    assert parse(BASE.replace("auto_failback on", f"auto_failback {value}")).auto_failback == expected


def test_auto_failback_legacy_is_warned_and_nonsense_refused():
    assert any("'legacy'" in w for w in warnings_of(BASE.replace("on\n", "legacy\n")))
    assert errors_of(BASE.replace("on\n", "maybe\n")) == [f'{PATH}:4: invalid auto_failback "maybe": use on, off or legacy']


def test_nice_failback_is_read_as_heartbeat_306_reads_it():
    assert parse(BASE.replace("auto_failback on\n", "") + "nice_failback on\n").auto_failback == "legacy"
    assert parse(BASE + "nice_failback on\n").auto_failback == "off"


def test_logging_without_any_log_target():
    assert errors_of(BASE.replace("logfile /var/log/ha-log\n", "use_logd no\n")) == [
        f"{PATH}:3: no logfile, debugfile or logfacility and use_logd is off: heartbeat would log nowhere"]
    cf = parse(BASE.replace("logfile /var/log/ha-log\n", ""))
    assert cf.use_logd is True


def test_logfacility_names():
    assert parse(BASE + "logfacility local7\n").logfacility == "local7"
    assert errors_of(BASE + "logfacility LOCAL7\n")[0].startswith(f'{PATH}:5: invalid logfacility "LOCAL7"')


def test_autojoin_conflicts_with_haresources_only():
    assert errors_of(BASE + "autojoin any\n") == [
        f"{PATH}:5: autojoin any conflicts with v1 resource management (haresources): remove it"]
    assert parse(BASE + "autojoin any\n", manage_resources=False).autojoin == "any"


@pytest.mark.parametrize("line, message", [
    ("uuidfrom disk", 'invalid uuidfrom "disk": use file or nodename'),
    ("msgfmt binary", 'invalid msgfmt "binary": use classic or netstring'),
    ("hbgenmethod Time", 'invalid hbgenmethod "Time": use file or time'),
    ("debug 256", 'invalid debug "256": 0 to 255'),
    ("udpport 0", 'invalid udpport "0": not a UDP port'),
    ("apiauth ipfail", "apiauth ipfail: give a uid or a gid list"),
    ("respawn hacluster ipfail", 'respawn: command "ipfail" is not a full pathname'),
    ("env =x", 'invalid env "=x": expected NAME=value'),
    ("stonith_host *", "stonith_host: no STONITH type given"),
    ("compression lzma", 'invalid compression "lzma": use zlib or bz2'),
])
def test_invalid_values_name_the_line(line, message):
    assert errors_of(BASE + line + "\n")[0].startswith(f"{PATH}:5: {message}")


def test_whole_line_directives_are_kept():
    cf = parse(BASE + "apiauth ipfail gid=haclient uid=hacluster,root\n"
               "respawn root /bin/true --flag\nstonith_host * baytech 10.0.0.3 login pw\n")
    assert [(a.client, a.uids, a.gids) for a in cf.apiauth] == [("ipfail", ("hacluster", "root"), ("haclient",))]
    assert [(c.user, c.command) for c in cf.respawn] == [("root", "/bin/true --flag")]
    assert cf.stonith[0].words == ("*", "baytech", "10.0.0.3", "login", "pw")
