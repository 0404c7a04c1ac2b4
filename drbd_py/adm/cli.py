"""drbdadm: read /etc/drbd.conf as admins wrote it, and carry out their command lines.

  drbdadm [OPTION...] [-- DRBDSETUP-OPTION...] COMMAND {all|RESOURCE...}

Usage:
  drbdadm [options] [--] COMMAND [RESOURCE...]
  drbdadm (-h | --help)
  drbdadm (-V | --version)

Backend (drbdsetup) options are written as 0.7 and 8.x admins wrote them, after
`--` or after the command:
  drbdadm -- --do-what-I-say primary all        (0.7)
  drbdadm -- --overwrite-data-of-peer primary r0 (8.0-8.3)
  drbdadm primary --force r0                    (8.4)
  drbdadm -- --discard-my-data connect r0
  drbdadm -- --size=40G resize r0
RESOURCE is `all`, a resource name, or RESOURCE/VOLUME.

Options:
  -d, --dry-run                 Print the low-level steps, one a line; change nothing.
  -v, --verbose                 Print each step before carrying it out.
  -c FILE, --config-file=FILE   The configuration file [default: /etc/drbd.conf].
  -t FILE, --config-to-test=FILE  Read this file instead (as drbdadm -t).
  -s CMD, --drbdsetup=CMD       Accepted for compatibility; steps go to the engine.
  -m CMD, --drbdmeta=CMD        Accepted for compatibility; meta-data is handled here.
  -n VAR, --sh-varname=VAR      Accepted for compatibility.
  -P PEER, --peer=PEER          The peer host section to use when there are several.
  -S, --stacked                 Stacked resources (none can be configured here).
  -h, --help                    Show this text.
  -V, --version                 Show the version.

Commands:
  attach detach connect disconnect up down primary secondary invalidate
  invalidate-remote outdate resize syncer verify pause-sync resume-sync adjust
  wait-connect wait-con-int role state cstate dstate status dump create-md
  dump-md wipe-md get-gi show-gi hidden-commands help
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field

from docopt import DocoptExit, docopt

from .. import API_VERSION, PY_VERSION
from ..config.dump import dump_config
from ..config.errors import ConfigError, ConfigMissing
from ..config.hostmatch import LocalView, Placement
from ..config.loader import load_config
from ..config.model import Config, Volume
from ..config.units import parse_size
from . import shinfo, status_view
from .errors import AdmError, EngineNotRunning, ExecError, UsageError
from .executor import Engine, run_meta
from .plan import META_COMMANDS, STATUS_COMMANDS, Command, Step, plan

PROG = "drbdadm"
SYNOPSIS = f"USAGE: {PROG} [OPTION...] [-- DRBDSETUP-OPTION...] COMMAND {{all|RESOURCE...}}"
EXIT_USAGE = 1
EXIT_NOT_DEFINED = 1

COMMANDS = ("attach", "detach", "connect", "disconnect", "up", "down", "primary", "secondary",
            "invalidate", "invalidate-remote", "outdate", "resize", "syncer", "verify",
            "pause-sync", "resume-sync", "adjust", "wait-connect", "wait-con-int", "role",
            "state", "cstate", "dstate", "status", "dump", "create-md", "dump-md", "wipe-md",
            "get-gi", "show-gi", "hidden-commands", "help") + shinfo.COMMANDS
HIDDEN = ("sh-nop", "sh-resources", "sh-mod-parms", "sh-dev", "sh-minor", "sh-ll-dev",
          "sh-md-dev", "sh-md-idx", "sh-ip", "sh-b-pri")
# Commands that work on every resource of this host when none is named.
ALL_BY_DEFAULT = ("dump", "status", "wait-con-int", "sh-resources", "sh-nop", "sh-mod-parms")
NEEDS_NO_RESOURCE = ("help", "hidden-commands")
# What `all` may find empty on a host that no `on` section names (init scripts ask these).
NOTHING_IS_FINE = ("sh-resources", "wait-con-int")
# Commands that bring the engine up if it is not running.
STARTS_ENGINE = ("up", "attach", "adjust")

GENERAL_FLAGS = {"-d", "--dry-run", "-v", "--verbose", "-S", "--stacked", "-h", "--help",
                 "-V", "--version"}
GENERAL_VALUES = {"-c", "--config-file", "-t", "--config-to-test", "-s", "--drbdsetup", "-m",
                  "--drbdmeta", "-n", "--sh-varname", "-P", "--peer"}
FORCE_OPTIONS = {"--force", "-f", "--overwrite-data-of-peer", "-o", "--do-what-I-say"}
# 8.3 listed --force/-f among drbdadm's own options; 8.4 passes a leading --force on.
FORCE_BEFORE_COMMAND = {"--force", "-f"}
DISCARD_OPTIONS = {"--discard-my-data"}
SIZE_OPTION = "--size"  # drbdadm -- --size=40G resize r0 (8.x user guides)
ANSWERS_ALONE = {"-h": "help", "--help": "help", "-V": "version", "--version": "version"}


@dataclass
class Invocation:
    options: dict
    command: str
    targets: list[str]
    backend: Command = field(default_factory=Command)


def _is_general(arg: str) -> bool:
    name = arg.split("=", 1)[0]
    return name in GENERAL_FLAGS or name in GENERAL_VALUES or (
        len(arg) > 2 and arg[:2] in GENERAL_VALUES and not arg.startswith("--"))


def _unrecognized(option: str) -> UsageError:
    return UsageError(f"{PROG}: unrecognized option '{option}'\ntry '{PROG} help'", EXIT_USAGE)


def _size(text: str) -> int:
    # drbdsetup's --size, like drbd.conf's disk size, counts sectors unless a unit is given
    size = parse_size(text, "s")
    if size is None:
        raise UsageError(f"{PROG}: --size: '{text}' is not a valid size ([0-9]+[KMGs]?)",
                         EXIT_USAGE)
    return size


def _backend(options: list[str], command: str) -> Command:
    result = Command()
    for option in options:
        name, _, value = option.partition("=")
        if option in FORCE_OPTIONS:
            result.force = True
        elif option in DISCARD_OPTIONS:
            result.discard_my_data = True
        elif name == SIZE_OPTION and command == "resize":
            result.size = _size(value)
        else:
            raise _unrecognized(name)
    return result


def _answers_alone(general: list[str]) -> str | None:
    """'help' or 'version' when -h/-V is among drbdadm's own options (values skipped)."""
    i = 0
    while i < len(general):
        if general[i] in ANSWERS_ALONE:
            return ANSWERS_ALONE[general[i]]
        i += 2 if general[i] in GENERAL_VALUES else 1
    return None


def parse_argv(argv: list[str]) -> Invocation:
    """Sort argv into drbdadm's own options, backend options, command and resources."""
    general: list[str] = []
    backend: list[str] = []
    words: list[str] = []
    after_dashes = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--" and not after_dashes and not words:
            after_dashes = True
        elif arg.startswith("-") and len(arg) > 1:
            before_command = not words
            if _is_general(arg) and not (after_dashes and before_command):
                general.append(arg)
                if arg in GENERAL_VALUES and i < len(argv):
                    general.append(argv[i])
                    i += 1
            elif after_dashes or words or arg in FORCE_BEFORE_COMMAND:
                if arg == SIZE_OPTION and i < len(argv):
                    arg = f"{arg}={argv[i]}"
                    i += 1
                backend.append(arg)
            else:
                raise _unrecognized(arg)
        elif after_dashes and not words and arg.replace("_", "-") not in COMMANDS:
            # the value of a backend option other than --size (which took its own above),
            # e.g. -- --timeout 5 connect: kept so that _backend names the option it refuses
            backend.append(arg)
        else:
            words.append(arg)
    alone = _answers_alone(general)
    if alone:
        return Invocation({}, alone, [])
    try:
        options = docopt(__doc__, argv=general + ["--"] + words if words else general,
                         default_help=False, version=None)
    except DocoptExit:
        if not words:
            raise UsageError(f"{SYNOPSIS}\n\nNo command specified", EXIT_USAGE) from None
        raise UsageError(f"{PROG}: bad usage\ntry '{PROG} help'", EXIT_USAGE) from None
    command = options["COMMAND"]
    if command.replace("_", "-") in COMMANDS:
        command = command.replace("_", "-")  # 0.7 wrote wait_con_int, invalidate_remote
    if command not in COMMANDS:
        raise UsageError(f"{PROG}: Unknown command '{command}'", EXIT_USAGE)
    return Invocation(options, command, options["RESOURCE"], _backend(backend, command))


def _not_defined(name: str) -> UsageError:
    return UsageError(f"'{name}' not defined in your config (for this host).", EXIT_NOT_DEFINED)


def resolve(config: Config, view: LocalView, targets: list[str], peer: str | None
            ) -> list[tuple[Placement, list[Volume]]]:
    """The resources (and volumes) the command names, as seen from this host."""
    chosen: list[tuple[Placement, list[Volume]]] = []
    if not config.resources:
        raise UsageError("no resources defined!", EXIT_NOT_DEFINED)
    if targets == ["all"] or not targets:
        places = view.mine(config)
        chosen = [(p, list(p.me.volumes.values())) for p in places]
    else:
        for target in targets:
            name, _, number = target.partition("/")
            res = config.resource(name)
            place = view.place(res) if res else None
            if place is None:
                raise _not_defined(target)
            volumes = list(place.me.volumes.values())
            if number:
                if not number.isdigit() or int(number) not in place.me.volumes:
                    raise _not_defined(target)
                volumes = [place.me.volumes[int(number)]]
            chosen.append((place, volumes))
    if peer:
        for place, _ in chosen:
            place.peers = [h for h in place.peers if peer in h.names] or place.peers
    return chosen


def _print(lines) -> None:
    for line in lines:
        print(line)


def _hidden_commands() -> list[str]:
    out = ["", "These additional commands might be useful for writing",
           "nifty shell scripts around drbdadm:", ""]
    for start in range(0, len(HIDDEN), 2):
        out.append(" " + "".join(f"{name:<35}" for name in HIDDEN[start:start + 2]).rstrip())
    return out + [""]


def _help() -> list[str]:
    return [__doc__.strip()]


def _status_commands(inv: Invocation, chosen, engine: Engine) -> int:
    try:
        reply = engine.request({"op": "status", "v": 1})
        if not reply.get("ok"):
            raise ExecError(str(reply.get("error", "status failed")), int(reply.get("code", 10)))
    except EngineNotRunning:
        reply = {"resources": []}  # no engine: nothing is configured
    for place, volumes in chosen:
        found = status_view.find(reply, place.resource.name)
        if inv.command == "status":
            peer = place.peer.name if place.peer else "peer"
            _print(status_view.status_lines(place.resource.name, found, peer))
        else:
            _print(status_view.lines(inv.command, found, [v.number for v in volumes]))
    return 0


def _still_needed(steps: list[Step], engine: Engine) -> list[Step]:
    """adjust: leave out attaching what is attached and connecting what is connected."""
    reply = engine.request({"op": "status", "v": 1})
    needed = []
    for step in steps:
        res = status_view.find(reply, step.resource) or {}
        if step.op == "attach":
            vols = {v.get("volume", 0): v for v in res.get("volumes", [])}
            if vols.get(step.args["volume"], {}).get("disk", "Diskless") != "Diskless":
                continue
        if step.op == "connect" and res.get("connection", "StandAlone") != "StandAlone":
            continue
        needed.append(step)
    return needed


def _execute(inv: Invocation, steps: list[Step], engine: Engine) -> int:
    if inv.command in STARTS_ENGINE:
        engine.ensure_running()
    if inv.command == "adjust":
        steps = _still_needed(steps, engine)
    for step in steps:
        if inv.options["--verbose"]:
            print(step.line(), file=sys.stderr)
        if step.op in META_COMMANDS:
            run_meta(step)
            continue
        try:
            engine.run(step)
        except EngineNotRunning:
            if step.op in ("down", "disconnect", "detach", "secondary"):
                continue  # with no engine, nothing is up: already done
            raise
    return 0


def run(argv: list[str], view: LocalView | None = None, engine: Engine | None = None) -> int:
    inv = parse_argv(argv)
    if inv.command == "version":
        print(f"DRBDADM_VERSION={PY_VERSION}\nDRBD_PY_API_VERSION={API_VERSION}")
        return 0
    if inv.command == "help":
        _print(_help())
        return 0
    if inv.command == "hidden-commands":
        _print(_hidden_commands())
        return 0
    path = inv.options["--config-to-test"] or inv.options["--config-file"]
    config = load_config(path)
    view = view or LocalView()
    if not inv.targets and inv.command not in ALL_BY_DEFAULT:
        raise UsageError(f"USAGE: {PROG} {inv.command} [OPTION...] {{all|RESOURCE...}}\n\n"
                         "No resource names specified", EXIT_USAGE)
    if inv.command in ("dump", "sh-nop", "sh-mod-parms"):
        return _from_config_alone(inv, config, view)
    chosen = resolve(config, view, inv.targets, inv.options["--peer"])
    if inv.options["--stacked"]:
        return _stacked(inv, chosen, view)
    if not chosen and inv.command not in NOTHING_IS_FINE:
        raise UsageError(f"WARN: no normal resources defined for this host ({view.hostname})!?\n"
                         "Misspelled name of the local machine with the 'on' keyword ?",
                         EXIT_NOT_DEFINED)
    if inv.command in shinfo.COMMANDS and inv.command != "sh-b-pri":
        _print(shinfo.resource_lines(inv.command, chosen))
        return 0
    command = inv.command
    if command == "sh-b-pri":
        # drbd's init script: promote where startup { become-primary-on } names us.
        chosen = [(p, v) for p, v in chosen if shinfo.becomes_primary(p)]
        command = "primary"
    steps = [step for place, volumes in chosen
             for step in plan(command, place, volumes, inv.backend)]
    if inv.options["--dry-run"]:
        _print(step.line() for step in steps)
        return 0
    engine = engine or Engine()
    if command in STATUS_COMMANDS:
        return _status_commands(inv, chosen, engine)
    return _execute(inv, steps, engine)


def _stacked(inv: Invocation, chosen, view: LocalView) -> int:
    """-S: no configuration here has stacked resources (they are refused), so drbdadm's
    answers for a file without any are the whole story."""
    if inv.command == "sh-resources":
        return 0
    if not inv.targets or inv.targets == ["all"]:
        raise UsageError(f"WARN: nothing stacked for this host ({view.hostname}), "
                         "nothing to do in stacked mode!", EXIT_USAGE)
    name = chosen[0][0].resource.name
    raise UsageError(f"'{name}' is a normal resource, and not available in stacked mode.",
                     EXIT_USAGE)


def _from_config_alone(inv: Invocation, config: Config, view: LocalView) -> int:
    if inv.command == "sh-mod-parms":
        print(f"minor_count={shinfo.minor_count(config)}")
    elif inv.command == "dump":
        if not inv.targets or inv.targets == ["all"]:
            print(dump_config(config), end="")
        else:
            places = resolve(config, view, inv.targets, None)
            print(dump_config(config, [p.resource for p, _ in places]), end="")
    return 0


def main(argv: list[str] | None = None, view: LocalView | None = None,
         engine: Engine | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            # Bytes that are not UTF-8 in drbd.conf come back out unchanged.
            stream.reconfigure(errors="surrogateescape")
    try:
        return run(sys.argv[1:] if argv is None else argv, view, engine)
    except (ConfigMissing, ConfigError, AdmError) as err:
        if str(err):
            print(err, file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (drbdadm help | head -1): end quietly, with the status a
        # shell shows for the C drbdadm killed by SIGPIPE, and no flush error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
