"""Every directive heartbeat 3.0.6 accepts in ha.cf, and what this implementation does with it.

The names, the way each is split and the defaults are those of heartbeat 3.0.6 (its
directive table, whole-line directives and the HBcomm plugins Debian ships); the
descriptions are ours. `acted_on` says whether our daemon honours the directive;
the others are parsed and validated, then reported once as not acted on. `respawn`
and `failfast` are honoured for ipfail only (it is built in): each other program
is reported as not started.
"""
from __future__ import annotations

from dataclasses import dataclass

# How the rest of a line is handed to a directive:
VALUES = "values"   # split on blanks and commas, each value applied in turn
LINE = "line"       # the whole rest of the line, read by the directive itself


@dataclass(frozen=True)
class Directive:
    name: str
    split: str = VALUES
    default: str | None = None      # as `heartbeat -D` prints it
    recorded: bool = True           # its value is kept as a parameter (cl_status hbparameter)
    acted_on: bool = False
    medium: bool = False            # a communication link (or ping node) plugin
    description: str = ""


DIRECTIVES: tuple[Directive, ...] = (
    Directive("cluster", default="linux-ha", description="cluster name"),
    Directive("quorum_server", description="quorum server name or address"),
    Directive("node", recorded=False, acted_on=True, description="a cluster node"),
    Directive("hopfudge", default="1", acted_on=True, description="hops allowed beyond the node count"),
    Directive("keepalive", default="1000ms", acted_on=True, description="interval between heartbeats"),
    Directive("deadtime", default="30000ms", acted_on=True, description="silence after which a node is dead"),
    Directive("deadping", acted_on=True, description="silence after which a ping node is dead"),
    Directive("initdead", acted_on=True, description="deadtime right after start-up"),
    Directive("warntime", acted_on=True, description="silence after which a late heartbeat is logged"),
    Directive("watchdog", description="watchdog device"),
    Directive("baud", default="19200", description="serial link speed"),
    Directive("udpport", acted_on=True, description="UDP port of bcast and ucast links"),
    Directive("logfacility", acted_on=True, description="syslog facility"),
    Directive("logfile", acted_on=True, description="log file"),
    Directive("debugfile", acted_on=True, description="debug log file"),
    Directive("nice_failback", recorded=False, acted_on=True, description="obsolete form of auto_failback"),
    Directive("auto_failback", default="legacy", acted_on=True, description="move resources back to their preferred node"),
    Directive("rtprio", description="realtime scheduling priority"),
    Directive("hbgenmethod", default="file", description="how the generation number is kept"),
    Directive("realtime", default="true", description="realtime scheduling"),
    Directive("debug", acted_on=True, description="debug level"),
    Directive("msgfmt", default="classic", acted_on=True, description="wire message format"),
    Directive("use_logd", acted_on=True, description="log through the logging daemon"),
    Directive("conn_logd_time", default="60", description="interval between reconnections to logd"),
    Directive("use_apphbd", recorded=False, description="register with apphbd"),
    Directive("log_badpack", default="true", description="log bad packets"),
    Directive("syslogmsgfmt", default="true", description="syslog format in log files"),
    Directive("coredumps", default="true", description="enable core dumps"),
    Directive("coreroot", description="root of the core dump area"),
    Directive("crm_daemon_dir", description="where Pacemaker daemons live"),
    Directive("crmd_spawns_pengine", description="crmd starts the policy engine itself"),
    Directive("crm", recorded=False, acted_on=True, description="old name of pacemaker"),
    Directive("pacemaker", default="false", acted_on=True, description="Pacemaker resource management"),
    Directive("autojoin", default="none", acted_on=True, description="nodes that may join without a node line"),
    Directive("uuidfrom", default="file", acted_on=True, description="where a node's uuid comes from"),
    Directive("compression", default="zlib", description="compression module"),
    Directive("compression_threshold", default="2", description="size (KB) above which messages are compressed"),
    Directive("traditional_compression", default="no", description="compress whole messages"),
    Directive("env", recorded=False, acted_on=True, description="environment variable for respawned clients"),
    Directive("max_rexmit_delay", default="250", acted_on=True, description="longest retransmission delay (ms)"),
    Directive("record_config_changes", default="on", description="Pacemaker only"),
    Directive("record_pengine_inputs", default="on", description="Pacemaker only"),
    Directive("enable_config_writes", default="on", description="Pacemaker only"),
    Directive("memreserve", default="6500", description="KB of memory to preallocate"),
    # whole-line directives
    Directive("stonith", split=LINE, recorded=False, description="STONITH device and its config file"),
    Directive("stonith_host", split=LINE, recorded=False, description="STONITH device for a host"),
    Directive("apiauth", split=LINE, recorded=False, description="who may use an API group"),
    Directive("respawn", split=LINE, recorded=False, acted_on=True, description="program to run and restart"),
    Directive("failfast", split=LINE, recorded=False, acted_on=True, description="program to run; its death is fatal"),
    # communication plugins (HBcomm) shipped with Debian's 3.0.6
    Directive("bcast", recorded=False, acted_on=True, medium=True, description="UDP broadcast link"),
    Directive("ucast", split=LINE, recorded=False, acted_on=True, medium=True, description="UDP unicast link"),
    Directive("mcast", split=LINE, recorded=False, acted_on=True, medium=True, description="UDP multicast link"),
    Directive("serial", recorded=False, medium=True, description="serial link"),
    Directive("ucast6", split=LINE, recorded=False, medium=True, description="UDP/IPv6 unicast link"),
    Directive("mcast6", split=LINE, recorded=False, medium=True, description="UDP/IPv6 multicast link"),
    Directive("ping", recorded=False, acted_on=True, medium=True, description="ping node"),
    Directive("ping6", recorded=False, acted_on=True, medium=True, description="IPv6 ping node"),
    Directive("ping_group", split=LINE, recorded=False, acted_on=True, medium=True, description="group of ping nodes"),
)

BY_NAME: dict[str, Directive] = {d.name: d for d in DIRECTIVES}

# heartbeat still reads the 0.4-era name of bcast, with a warning
ALIASES = {"udp": "bcast"}


def lookup(name: str) -> Directive | None:
    """The directive of that exact (case-sensitive) name, or None."""
    return BY_NAME.get(name)
