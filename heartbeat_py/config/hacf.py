"""ha.cf: the main heartbeat configuration file.

Read line by line as heartbeat 3.0.6 reads it: `#` starts a comment anywhere, the first
word is a case-sensitive directive name, and most directives take values separated by
blanks or commas, each applied in turn (`node a b`, `node a,b`, `keepalive 1 2` = 2).
After the last line come the defaults and the checks the real daemon makes
(deadtime > 2 x keepalive, initdead >= deadtime, media and nodes present, ...).
"""
from __future__ import annotations

import difflib
import os
import pwd
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from . import directives as dirs
from .errors import ConfigWarning, Diagnostics
from .media import Medium, PingNode, parse_mcast, parse_ping_group, parse_serial, parse_ucast, ping_node
from .scalars import FACILITIES, NO_FACILITY, atoi, parse_bool
from .source import read_file
from .text import DELIMS, WHITESPACE, ascii_lower, physical_lines, quoted, show, split_words, strip_comment
from .timeparse import format_ms, is_extension, parse_ms

DEFAULT_UDPPORT = 694           # IANA's ha-cluster port
SERVICE_NAME = "ha-cluster"
MAX_NODES = 100
MAX_MEDIA = 64
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
MIN_SENSIBLE_INITDEAD_MS = 10_000
RTPRIO_RANGE = range(1, 100)    # SCHED_FIFO on Linux
COMPRESSION_MODULES = ("zlib", "bz2")
BUILT_IN_CLIENT = "ipfail"      # the one respawn client our daemon stands in for

# heartbeat refuses any of these values of crm/pacemaker but `off`: we offer v1 only
_PACEMAKER_MODES = ("respawn", "minimal", "manual", "ccm-only", "valgrind")
# directives whose every value adds something; the others keep their last value
_LISTS = frozenset({"node", "bcast", "serial", "ping", "ping6", "env"})


@dataclass(frozen=True)
class ClientChild:
    """A `respawn` or `failfast` program."""

    user: str
    command: str
    failfast: bool
    line: int


@dataclass(frozen=True)
class ApiAuth:
    client: str
    uids: tuple[str, ...]
    gids: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class StonithLine:
    """`stonith TYPE FILE` or `stonith_host HOST TYPE PARAMS...`, kept as written."""

    directive: str
    words: tuple[str, ...]
    line: int


@dataclass
class HaCf:
    """Everything ha.cf says, with heartbeat's defaults filled in. Timers are in ms."""

    path: str
    nodes: list[str] = field(default_factory=list)          # lower-cased, in order
    media: list[Medium] = field(default_factory=list)
    ping_nodes: list[PingNode] = field(default_factory=list)
    keepalive_ms: int = 1000
    deadtime_ms: int = 30_000
    warntime_ms: int = 15_000
    initdead_ms: int = 30_000
    deadping_ms: int = 30_000
    udpport: int = DEFAULT_UDPPORT
    auto_failback: str = "legacy"                           # on | off | legacy
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None                          # None: not set
    use_logd: bool = False
    debug: int = 0
    msgfmt: str = "classic"
    uuidfrom: str = "file"
    autojoin: str = "none"
    hbgenmethod: str = "file"
    baud: int = 19200
    hopfudge: int = 1
    watchdog: str | None = None
    realtime: bool = True
    rtprio: int | None = None
    coredumps: bool = True
    compression: str = "zlib"
    compression_threshold_kb: int = 2
    traditional_compression: bool = False
    max_rexmit_delay_ms: int = 250
    cluster: str = "linux-ha"
    respawn: list[ClientChild] = field(default_factory=list)
    apiauth: list[ApiAuth] = field(default_factory=list)
    stonith: list[StonithLine] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # name -> value as heartbeat records it (what `cl_status hbparameter -p NAME` shows)
    parameters: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)     # directive -> last line using it
    warnings: list[ConfigWarning] = field(default_factory=list)
    unhandled: list[ConfigWarning] = field(default_factory=list)

    def is_node(self, name: str) -> bool:
        """Is NAME (any case) a declared node or ping node, as heartbeat's lookup_node()?"""
        name = ascii_lower(name)
        return name in self.nodes or any(p.name == name for p in self.ping_nodes)


def default_udpport() -> int:
    """The ha-cluster port from the services database, else 694 (as heartbeat does)."""
    try:
        return socket.getservbyname(SERVICE_NAME, "udp")
    except OSError:
        return DEFAULT_UDPPORT


def read_hacf(path: str, *, manage_resources: bool = True) -> HaCf:
    """Parse the ha.cf at PATH; ConfigErrors for an unreadable or invalid file."""
    data, _ = read_file(path, "config file")
    return parse_hacf(data, str(path), manage_resources=manage_resources)


def parse_hacf(data: bytes | str, path: str = "ha.cf", *, manage_resources: bool = True,
               udpport_default: int | None = None) -> HaCf:
    """Parse ha.cf text; raise ConfigErrors listing every error found.

    manage_resources is False under `heartbeat -M` (no haresources), which lifts
    the checks that only v1 resource management needs.
    """
    parser = _Parser(path, manage_resources,
                     default_udpport() if udpport_default is None else udpport_default)
    for number, text in physical_lines(data):
        parser.feed(number, text)
    return parser.finish()


class _Parser:
    def __init__(self, path: str, manage_resources: bool, udpport_default: int):
        self.cf = HaCf(path=path)
        self.diag = Diagnostics(path)
        self.manage_resources = manage_resources
        self.udpport_default = udpport_default
        self.set_timers: set[str] = set()
        self.auto_failback_seen = False
        self.pacemaker_line: int | None = None
        self.link_ports: dict[str, tuple[int, int]] = {}     # kind -> (port, first line)
        self.unhandled_named: set[str] = set()
        self.handlers: dict[str, Callable[[str, int], None]] = {
            "node": self._node, "keepalive": self._timer, "deadtime": self._timer,
            "deadping": self._timer, "initdead": self._timer, "warntime": self._timer,
            "conn_logd_time": self._timer, "udpport": self._udpport, "baud": self._baud,
            "logfacility": self._logfacility, "logfile": self._logfile,
            "debugfile": self._debugfile, "auto_failback": self._auto_failback,
            "nice_failback": self._nice_failback, "use_logd": self._use_logd,
            "debug": self._debug, "hopfudge": self._hopfudge, "msgfmt": self._msgfmt,
            "uuidfrom": self._uuidfrom, "autojoin": self._autojoin,
            "hbgenmethod": self._hbgenmethod, "crm": self._pacemaker, "pacemaker": self._pacemaker,
            "crm_daemon_dir": self._before_pacemaker, "crmd_spawns_pengine": self._before_pacemaker,
            "watchdog": self._watchdog, "rtprio": self._rtprio, "compression": self._compression,
            "compression_threshold": self._positive, "max_rexmit_delay": self._positive,
            "memreserve": self._positive, "env": self._env, "cluster": self._cluster,
            "quorum_server": self._cluster, "coreroot": self._anything,
            "realtime": self._bool, "coredumps": self._bool, "traditional_compression": self._bool,
            "use_apphbd": self._bool, "log_badpack": self._bool, "syslogmsgfmt": self._bool,
            "record_config_changes": self._bool, "record_pengine_inputs": self._bool,
            "enable_config_writes": self._bool,
            "stonith": self._stonith, "stonith_host": self._stonith_host,
            "apiauth": self._apiauth, "respawn": self._respawn, "failfast": self._respawn,
            "bcast": self._bcast, "ucast": self._ucast, "ucast6": self._ucast,
            "mcast": self._mcast, "mcast6": self._mcast, "serial": self._serial,
            "ping": self._ping, "ping6": self._ping, "ping_group": self._ping_group,
        }
        self.current = ""           # directive being applied, for the handlers' messages

    # -- reading lines --------------------------------------------------------------

    def feed(self, number: int, text: str) -> None:
        text = strip_comment(text)
        cut = text.find("\r")
        if cut >= 0:            # heartbeat drops everything from a CR on
            text = text[:cut]
        text = text.lstrip(WHITESPACE)
        if not text:
            return
        name = split_words(text)[0]
        rest = text[len(name):]
        if name in dirs.ALIASES:
            self.diag.warn(number, f'directive "{name}" is the old name of'
                           f' "{dirs.ALIASES[name]}"; read as such')
            name = dirs.ALIASES[name]
        spec = dirs.lookup(name)
        if spec is None:
            self._unknown(number, name)
            return
        self.cf.lines[name] = number
        self.current = name
        if not spec.acted_on and name not in self.unhandled_named:
            self.unhandled_named.add(name)
            self.cf.unhandled.append(ConfigWarning(
                self.cf.path, number, f'"{name}" is accepted but not acted on by this heartbeat'))
        if spec.split == dirs.LINE:
            self.handlers[name](rest.lstrip(DELIMS), number)
            return
        values = split_words(rest, DELIMS)
        if not values:
            self.diag.warn(number, f'"{name}" has no value; line ignored, as heartbeat does')
        elif len(values) > 1 and name not in _LISTS:
            self.diag.warn(number, f'"{name}" has several values; the last one,'
                           f" {quoted(values[-1])}, is used")
        for value in values:
            self.handlers[name](value, number)

    def _unknown(self, number: int, name: str) -> None:
        message = f"unknown directive {quoted(name)}"
        known = list(dirs.BY_NAME) + list(dirs.ALIASES)
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f' (did you mean "{close[0]}"?)'
        self.diag.error(number, message)

    def _bad(self, line: int, value: str, why: str = "") -> None:
        self.diag.error(line, f"invalid {self.current} {quoted(value)}" + (f": {why}" if why else ""))

    def _record(self, value: str) -> None:
        if dirs.BY_NAME[self.current].recorded:
            self.cf.parameters[self.current] = value

    def _int(self, value: str, line: int, valid: Callable[[int], bool], why: str) -> int | None:
        number, exact = atoi(value)
        if not valid(number):
            self._bad(line, value, why)
            return None
        if not exact:
            self.diag.warn(line, f"{self.current} {quoted(value)} read as {number}, as heartbeat does")
        return number

    # -- simple values ----------------------------------------------------------------

    def _timer(self, value: str, line: int) -> None:
        name = self.current
        try:
            ms = parse_ms(value)
        except ValueError:
            self._bad(line, value, "not a time (examples: 2, 1.5, 500ms)")
            return
        if name in ("keepalive", "warntime", "conn_logd_time") and ms <= 0:
            self._bad(line, value, "must be more than zero")
            return
        if is_extension(value):
            self.diag.warn(line, f"{name} {quoted(value)}: heartbeat 3.0.6 itself refuses this"
                           " unit; write seconds or ms for a config both accept")
        attr = {"keepalive": "keepalive_ms", "deadtime": "deadtime_ms", "deadping": "deadping_ms",
                "initdead": "initdead_ms", "warntime": "warntime_ms"}.get(name)
        if attr:
            setattr(self.cf, attr, ms)
            self.set_timers.add(name)
        self._record(value)

    def _udpport(self, value: str, line: int) -> None:
        port = self._int(value, line, lambda p: 0 < p <= 65535, "not a UDP port")
        if port is None:
            return
        for kind, (locked, first) in self.link_ports.items():
            if locked != port:
                self.diag.warn(line, f"udpport {port} comes after the {kind} line {first}, which"
                               f" keeps port {locked}; put udpport before the media lines")
        self.cf.udpport = port
        self._record(value)

    def _baud(self, value: str, line: int) -> None:
        if "baud" in self.cf.parameters:
            self._bad(line, value, "baud set more than once")
            return
        rate = self._int(value, line, lambda b: b in BAUD_RATES,
                         "speeds are " + ", ".join(map(str, BAUD_RATES)))
        if rate is None:
            return
        if any(m.kind == "serial" for m in self.cf.media):
            self.diag.warn(line, "baud comes after a serial line, which keeps the default speed")
        self.cf.baud = rate
        self._record(value)

    def _logfacility(self, value: str, line: int) -> None:
        if value != NO_FACILITY and value not in FACILITIES:
            self._bad(line, value, "facilities are none, " + ", ".join(FACILITIES))
            return
        self.cf.logfacility = value
        self._record(value)

    def _logfile(self, value: str, line: int) -> None:
        self.cf.logfile = value
        self._record(value)

    def _debugfile(self, value: str, line: int) -> None:
        self.cf.debugfile = value
        self._record(value)

    def _auto_failback(self, value: str, line: int) -> None:
        if value.lower() == "legacy":
            self.cf.auto_failback = "legacy"
        else:
            try:
                self.cf.auto_failback = "on" if parse_bool(value) else "off"
            except ValueError:
                self._bad(line, value, "use on, off or legacy")
                return
        self.auto_failback_seen = self.cf.auto_failback != "legacy"
        self._record(value)

    def _nice_failback(self, value: str, line: int) -> None:
        try:
            parse_bool(value)
        except ValueError:
            self._bad(line, value, "use auto_failback on|off|legacy")
            return
        # heartbeat 3.0.6 ignores the value itself: after an auto_failback on|off line
        # nice_failback means off, otherwise it means legacy
        self.cf.auto_failback = "off" if self.auto_failback_seen else "legacy"
        self.cf.parameters["auto_failback"] = self.cf.auto_failback
        self.diag.warn(line, f"nice_failback is obsolete: 'nice_failback {show(value)}' is read as"
                       f" 'auto_failback {self.cf.auto_failback}', as heartbeat 3.0.6 does;"
                       " write auto_failback on|off instead")

    def _use_logd(self, value: str, line: int) -> None:
        try:
            self.cf.use_logd = parse_bool(value)
        except ValueError:
            self._bad(line, value, "not a boolean (yes/no, on/off, true/false)")
            return
        self.cf.parameters["use_logd"] = value

    def _debug(self, value: str, line: int) -> None:
        level = self._int(value, line, lambda d: 0 <= d < 256, "0 to 255")
        if level is not None:
            self.cf.debug = level
            self._record(value)

    def _hopfudge(self, value: str, line: int) -> None:
        hops = self._int(value, line, lambda h: 0 <= h < 256, "0 to 255")
        if hops is not None:
            self.cf.hopfudge = hops
            self._record(value)

    def _choice(self, value: str, line: int, choices: tuple[str, ...], attr: str,
                fold_case: bool = False) -> None:
        word = value.lower() if fold_case else value
        if word not in choices:
            self._bad(line, value, "use " + " or ".join(choices))
            return
        setattr(self.cf, attr, word)
        self._record(value)

    def _msgfmt(self, value: str, line: int) -> None:
        self._choice(value, line, ("classic", "netstring"), "msgfmt")

    def _uuidfrom(self, value: str, line: int) -> None:
        self._choice(value, line, ("file", "nodename"), "uuidfrom")

    def _autojoin(self, value: str, line: int) -> None:
        self._choice(value, line, ("none", "other", "any"), "autojoin", fold_case=True)

    def _hbgenmethod(self, value: str, line: int) -> None:
        self._choice(value, line, ("file", "time"), "hbgenmethod")

    def _compression(self, value: str, line: int) -> None:
        self._choice(value, line, COMPRESSION_MODULES, "compression")

    def _pacemaker(self, value: str, line: int) -> None:
        if self.pacemaker_line is not None:
            self.diag.error(line, f"crm/pacemaker given more than once (first on line {self.pacemaker_line})")
            return
        self.pacemaker_line = line
        try:
            on = parse_bool(value)
        except ValueError:
            on = value.lower() in _PACEMAKER_MODES
            if not on:
                self._bad(line, value, "use no or off")
                return
        if on:
            self.diag.error(line, f'"{self.current} {show(value)}" is not supported: only heartbeat'
                            ' v1 resource management (haresources) is offered; write "crm no"')
            return
        self.cf.parameters["pacemaker"] = value

    def _before_pacemaker(self, value: str, line: int) -> None:
        if self.pacemaker_line is not None:
            self.diag.error(line, f"{self.current} must come before the crm/pacemaker directive")
            return
        if self.current == "crmd_spawns_pengine":
            self._bool(value, line)
            return
        self._record(value)

    def _watchdog(self, value: str, line: int) -> None:
        if self.cf.watchdog is not None:
            self._bad(line, value, "watchdog device given more than once")
            return
        self.cf.watchdog = value
        self._record(value)

    def _rtprio(self, value: str, line: int) -> None:
        prio = self._int(value, line, lambda p: p in RTPRIO_RANGE, "1 to 99")
        if prio is not None:
            self.cf.rtprio = prio
            self._record(value)

    def _positive(self, value: str, line: int) -> None:
        number = self._int(value, line, lambda n: n > 0, "must be more than zero")
        if number is None:
            return
        if self.current == "compression_threshold":
            self.cf.compression_threshold_kb = number
        elif self.current == "max_rexmit_delay":
            self.cf.max_rexmit_delay_ms = number
        self._record(value)

    def _bool(self, value: str, line: int) -> None:
        try:
            truth = parse_bool(value)
        except ValueError:
            self._bad(line, value, "not a boolean (yes/no, on/off, true/false)")
            return
        if self.current in ("realtime", "coredumps", "traditional_compression"):
            setattr(self.cf, self.current, truth)
        self._record(value)

    def _env(self, value: str, line: int) -> None:
        name, sep, setting = value.partition("=")
        if not name or not sep:
            self._bad(line, value, "expected NAME=value")
            return
        self.cf.env["HA_" + name] = setting

    def _cluster(self, value: str, line: int) -> None:
        self.cf.cluster = value
        self._record(value)

    def _anything(self, value: str, line: int) -> None:
        self._record(value)

    # -- nodes and links ----------------------------------------------------------------

    def _node(self, value: str, line: int) -> None:
        name = ascii_lower(value)
        if name in self.cf.nodes:
            self.diag.warn(line, f"node {quoted(name)} declared twice")
            return
        if len(self.cf.nodes) + len(self.cf.ping_nodes) >= MAX_NODES:
            self.diag.error(line, f"too many nodes (at most {MAX_NODES})")
            return
        self.cf.nodes.append(name)

    def _link_port(self, kind: str, line: int) -> int:
        """bcast and ucast each take the udpport in effect at their first line, for good."""
        if kind not in self.link_ports:
            self.link_ports[kind] = (self.cf.udpport if "udpport" in self.cf.parameters
                                     else self.udpport_default, line)
        return self.link_ports[kind][0]

    def _add_medium(self, medium: Medium | None, line: int) -> None:
        if medium is None:
            return
        if len(self.cf.media) >= MAX_MEDIA:
            self.diag.error(line, f"too many media (at most {MAX_MEDIA})")
            return
        self.cf.media.append(medium)

    def _bcast(self, value: str, line: int) -> None:
        self._add_medium(Medium("bcast", line, interface=value,
                                port=self._link_port("bcast", line)), line)

    def _ucast(self, rest: str, line: int) -> None:
        kind = self.current
        self._add_medium(parse_ucast(kind, rest, line, self._link_port(kind, line), self.diag), line)

    def _mcast(self, rest: str, line: int) -> None:
        self._add_medium(parse_mcast(self.current, rest, line, self.diag), line)

    def _serial(self, value: str, line: int) -> None:
        self._add_medium(parse_serial(value, line, self.cf.baud, self.diag), line)

    def _ping(self, value: str, line: int) -> None:
        self._add_ping(ping_node(self.current, value, line), line)

    def _ping_group(self, rest: str, line: int) -> None:
        group = parse_ping_group(rest, line, self.diag)
        if group is not None:
            self._add_ping(group, line)

    def _add_ping(self, node: PingNode, line: int) -> None:
        if len(self.cf.nodes) + len(self.cf.ping_nodes) >= MAX_NODES:
            self.diag.error(line, f"too many nodes (at most {MAX_NODES})")
            return
        self.cf.ping_nodes.append(node)

    # -- whole-line directives ------------------------------------------------------------

    def _stonith(self, rest: str, line: int) -> None:
        words = split_words(rest)
        if not words:
            self.diag.error(line, "stonith: no STONITH type given (syntax: stonith TYPE CONFIG-FILE)")
            return
        self.cf.stonith.append(StonithLine("stonith", tuple(words), line))

    def _stonith_host(self, rest: str, line: int) -> None:
        words = split_words(rest)
        if len(words) < 2:
            missing = "host name" if not words else "STONITH type"
            self.diag.error(line, f"stonith_host: no {missing} given"
                            " (syntax: stonith_host HOST|* TYPE PARAMETERS...)")
            return
        self.cf.stonith.append(StonithLine("stonith_host", tuple(words), line))

    def _apiauth(self, rest: str, line: int) -> None:
        words = split_words(rest)
        syntax = " (syntax: apiauth CLIENT [uid=UID,...] [gid=GID,...])"
        if not words:
            self.diag.error(line, "apiauth: no client name" + syntax)
            return
        client, uids, gids = words[0], None, None
        for word in words[1:]:
            key, sep, ids = word.partition("=")
            if sep and key in ("uid", "gid"):
                if (uids if key == "uid" else gids) is not None:
                    self.diag.error(line, f"apiauth {show(client)}: {key} list given twice")
                    return
                found = tuple(i for i in ids.split(",") if i)
                uids, gids = (found, gids) if key == "uid" else (uids, found)
            else:
                self.diag.error(line, f"apiauth {show(client)}: {quoted(word)} is neither"
                                " uid=... nor gid=..." + syntax)
                return
        if uids is None and gids is None:
            self.diag.error(line, f"apiauth {show(client)}: give a uid or a gid list" + syntax)
            return
        if any(a.client == client for a in self.cf.apiauth):
            self.diag.error(line, f"apiauth {show(client)} given twice")
            return
        self.cf.apiauth.append(ApiAuth(client, uids or (), gids or (), line))

    def _respawn(self, rest: str, line: int) -> None:
        kind = self.current
        words = split_words(rest)
        if len(words) < 2:
            self.diag.error(line, f"{kind}: expected a user and a command (syntax: {kind} USER /PATH [ARGS...])")
            return
        user = words[0]
        command = rest.lstrip(WHITESPACE)[len(user):].strip(WHITESPACE)
        if not command.startswith("/"):
            self.diag.error(line, f"{kind}: command {quoted(words[1])} is not a full pathname")
            return
        try:
            pwd.getpwnam(user)
        except KeyError:
            self.diag.warn(line, f"{kind}: no user {quoted(user)} on this machine"
                           " (heartbeat would not start here)")
        if not os.access(words[1], os.X_OK):
            self.diag.warn(line, f"{kind}: {quoted(words[1])} is not executable on this machine"
                           " (heartbeat would not start here)")
        if os.path.basename(words[1]) != BUILT_IN_CLIENT:
            self.cf.unhandled.append(ConfigWarning(
                self.cf.path, line, f'"{kind}" {show(words[1])}: not started by this heartbeat,'
                f" which has no client API ({BUILT_IN_CLIENT} is built in)"))
        self.cf.respawn.append(ClientChild(user, command, kind == "failfast", line))

    # -- after the last line --------------------------------------------------------------

    def finish(self) -> HaCf:
        cf, diag, lines = self.cf, self.diag, self.cf.lines
        for spec in dirs.DIRECTIVES:
            if spec.default is not None and spec.recorded:
                cf.parameters.setdefault(spec.name, spec.default)
        cf.parameters.setdefault("debug", str(cf.debug))
        if not cf.media and not cf.ping_nodes:
            diag.error(None, "no heartbeat media defined (bcast, ucast or mcast)")
        if "warntime" not in self.set_timers:
            cf.warntime_ms = cf.deadtime_ms // 2
            cf.parameters["warntime"] = f"{cf.warntime_ms}ms"
        if not cf.nodes and not cf.ping_nodes and cf.autojoin != "any":
            diag.error(None, "no nodes defined (add a node line for each cluster node)")
        timer_line = lines.get("deadtime") or lines.get("keepalive")
        if cf.deadtime_ms <= 2 * cf.keepalive_ms:
            diag.error(timer_line, f"deadtime {format_ms(cf.deadtime_ms)} is too small compared to"
                       f" keepalive {format_ms(cf.keepalive_ms)}: it must be more than twice keepalive")
        self._initdead()
        if "deadping" not in self.set_timers:
            cf.deadping_ms = cf.deadtime_ms
            cf.parameters["deadping"] = f"{cf.deadping_ms}ms"
        elif cf.deadping_ms <= 2 * cf.keepalive_ms:
            diag.error(lines.get("deadping"), f"deadping {format_ms(cf.deadping_ms)} is too small"
                       f" compared to keepalive {format_ms(cf.keepalive_ms)}")
        if cf.warntime_ms >= cf.deadtime_ms and "warntime" in self.set_timers:
            diag.warn(lines.get("warntime"), f"warntime {format_ms(cf.warntime_ms)} is not less than"
                      f" deadtime {format_ms(cf.deadtime_ms)}: no late-heartbeat warning will come first")
        cf.parameters.setdefault("udpport", str(self.udpport_default))
        if "udpport" not in lines:
            cf.udpport = self.udpport_default
        if cf.auto_failback == "legacy" and self.manage_resources:
            diag.warn(lines.get("auto_failback"), "auto_failback is 'legacy' (the default):"
                      " consider 'auto_failback on' or 'off'")
        self._logging()
        if self.manage_resources and cf.autojoin != "none":
            diag.error(lines.get("autojoin"), f"autojoin {cf.autojoin} conflicts with v1 resource"
                       " management (haresources): remove it")
        cf.warnings = diag.warnings
        diag.raise_if_errors(partial=cf)
        return cf

    def _initdead(self) -> None:
        cf, lines = self.cf, self.cf.lines
        if "initdead" not in self.set_timers:
            if cf.deadtime_ms > 10_000:
                cf.initdead_ms = cf.deadtime_ms
            elif cf.deadtime_ms < 6_000:
                cf.initdead_ms = 12_000
            else:
                cf.initdead_ms = 2 * cf.deadtime_ms
            cf.parameters["initdead"] = f"{cf.initdead_ms}ms"
        if cf.initdead_ms < cf.deadtime_ms:
            self.diag.error(lines.get("initdead"), f"initdead {format_ms(cf.initdead_ms)} is smaller"
                            f" than deadtime {format_ms(cf.deadtime_ms)}")
        elif cf.initdead_ms < MIN_SENSIBLE_INITDEAD_MS:
            self.diag.warn(lines.get("initdead"), f"initdead {format_ms(cf.initdead_ms)} may be too"
                           " small: it covers slow network start-up and should be at least"
                           " deadtime and at least 10 seconds")
        elif "initdead" in self.set_timers and cf.initdead_ms < 2 * cf.deadtime_ms:
            # ha.cf(5)'s advice; 3.0.6 itself says nothing here
            self.diag.warn(lines.get("initdead"), f"initdead {format_ms(cf.initdead_ms)} is less than"
                           f" twice deadtime {format_ms(cf.deadtime_ms)}: a peer still booting may"
                           " be declared dead at start-up")

    def _logging(self) -> None:
        cf = self.cf
        syslog_on = cf.logfacility not in (None, NO_FACILITY, "kern")   # kern is facility 0
        logging_set = bool(cf.logfile or cf.debugfile or syslog_on)
        if not logging_set:
            if "use_logd" not in cf.parameters:
                cf.use_logd = True
                cf.parameters["use_logd"] = "yes"
                self.diag.warn(None, "no logfile, debugfile or logfacility: heartbeat would log"
                               " through the logging daemon, which is not provided here")
            elif not cf.use_logd:
                self.diag.error(cf.lines.get("use_logd"), "no logfile, debugfile or logfacility"
                                " and use_logd is off: heartbeat would log nowhere")
        elif cf.use_logd:
            self.diag.warn(cf.lines.get("use_logd"), "use_logd: there is no logging daemon here;"
                           " messages go to logfile, debugfile and logfacility directly")
        if syslog_on:
            cf.parameters.setdefault("logfile", "/dev/null")
            cf.parameters.setdefault("debugfile", "/dev/null")
