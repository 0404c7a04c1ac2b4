"""`heartbeat`: the command line of heartbeat 3.0.6, plus `--check`.

Each action is one function taking the parsed Options and returning the exit code;
starting, stopping (-k), reloading (-r, -R) and status (-s) are handed to the functions
`start`, `kill`, `reload` and `status` of heartbeat_py.daemon.actions once it exists.
"""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from docopt import DocoptExit, docopt

from heartbeat_py import PY_VERSION, VERSION
from heartbeat_py.config import ConfigError, ConfigErrors, ConfigWarning, HAConfig, config_dir, load
from heartbeat_py.config.directives import DIRECTIVES
from heartbeat_py.config.errors import where
from heartbeat_py.config.loader import AUTHKEYS, HACF, HARESOURCES
from heartbeat_py.config.text import ascii_lower, quoted
from heartbeat_py.daemon.identity import local_node_name
from heartbeat_py.media import MEDIA_DIRECTIVES

PROGRAM = "heartbeat"

USAGE = """\
Usage: heartbeat [-dDkMrRsvWlVf]... [-C <Current-resource-state>]
       heartbeat --check
       heartbeat --help

Options:
  -C <Current-resource-state>  resources this node holds (only valid with -R)
  -d        raise the debug level (repeat for more)
  -D        print the default value of each ha.cf directive (-W: as a wiki table)
  -k        stop the running heartbeat
  -M        do not manage resources (haresources is not read)
  -r        make the running heartbeat reread its configuration
  -R        heartbeat restarting itself (used by -r)
  -s        report whether heartbeat is running
  -v        verbose
  -W        with -D: print a wiki table
  -l        no realtime scheduling
  -V        print the version
  -f        stay in the foreground
  --check   check ha.cf, haresources and authkeys and say what they contain
  --help    print this help
"""

# What heartbeat 3.0.6 prints, on stderr, for a bad command line.
LEGACY_USAGE = """
Usage: {program} [-dDkMrRsvWlVf] [-C Current-resource-state]
\t-C only valid with -R
\t-r is mutually exclusive with -R
"""

# LSB exit codes, as heartbeat uses them
EXIT_OK = 0
EXIT_GENERIC = 1
EXIT_EINVAL = 2
EXIT_NOTCONFIGED = 6
CHECK_FAILED = 1

_FLAGS = "dDkMrRsvWlVf"
_LONG = ("--check", "--help")


@dataclass(frozen=True)
class Options:
    debug: int = 0
    defaults: bool = False          # -D
    kill: bool = False              # -k
    manage_resources: bool = True   # not -M
    reload: bool = False            # -r
    restarting: bool = False        # -R
    status: bool = False            # -s
    verbose: bool = False           # -v
    wiki: bool = False              # -W
    realtime: bool = True           # not -l
    version: bool = False           # -V
    foreground: bool = False        # -f
    current_state: str | None = None  # -C
    check: bool = False
    help: bool = False


class UsageError(Exception):
    """A command line heartbeat would refuse; the message lines are getopt's."""


def parse_args(argv: list[str]) -> Options:
    try:
        args = docopt(USAGE, argv, default_help=False)
    except DocoptExit:
        raise UsageError("\n".join(_getopt_complaints(argv))) from None
    options = Options(
        debug=args["-d"], defaults=bool(args["-D"]), kill=bool(args["-k"]),
        manage_resources=not args["-M"], reload=bool(args["-r"]), restarting=bool(args["-R"]),
        status=bool(args["-s"]), verbose=bool(args["-v"]), wiki=bool(args["-W"]),
        realtime=not args["-l"], version=bool(args["-V"]), foreground=bool(args["-f"]),
        current_state=args["-C"], check=bool(args["--check"]), help=bool(args["--help"]))
    if options.current_state is not None and not options.restarting:
        raise UsageError("")
    return options


def _getopt_complaints(argv: list[str]) -> list[str]:
    """The lines getopt(3) would print before heartbeat's usage text."""
    lines = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--"):
            if not any(name.startswith(arg.split("=")[0]) for name in _LONG):
                lines.append(f"{PROGRAM}: unrecognized option '{arg}'")
        elif arg.startswith("-") and len(arg) > 1:
            for j, letter in enumerate(arg[1:]):
                if letter == "C":
                    if j == len(arg) - 2 and i == len(argv) - 1:
                        lines.append(f"{PROGRAM}: option requires an argument -- 'C'")
                    break
                if letter not in _FLAGS:
                    lines.append(f"{PROGRAM}: invalid option -- '{letter}'")
    return lines


# -- actions --------------------------------------------------------------------------


def run_version(options: Options, env: Mapping[str, str]) -> int:
    print(f"{VERSION} (heartbeat_py {PY_VERSION})")
    return EXIT_OK


def run_defaults(options: Options, env: Mapping[str, str]) -> int:
    rows = [(d.name, d.default, d.description) for d in DIRECTIVES if d.default is not None]
    if options.wiki:
        print("||''Directive''||''Default''||''Description''||")
        for name, default, description in rows:
            print(f"||{name}||{default}||{description}||")
        return EXIT_OK
    header = ("Directive", "Default", "Description")
    name_width = max(len(r[0]) for r in rows + [header])
    default_width = max(len(r[1]) for r in rows + [header])
    desc_width = max(len(r[2]) for r in rows + [header])
    print(f"{header[0]:<{name_width}}  {header[1]:<{default_width}}  {header[2]}")
    print("-" * (name_width + default_width + desc_width + 4))
    for name, default, description in rows:
        print(f"{name:<{name_width}}  {default:<{default_width}}  {description}")
    return EXIT_OK


def run_check(options: Options, env: Mapping[str, str]) -> int:
    """Parse all three files; print warnings and a one-line summary, or every error."""
    confdir = config_dir(env)
    try:
        cfg = load(confdir, env=env, manage_resources=options.manage_resources)
    except ConfigErrors as e:
        _report(confdir, e.errors, e.warnings, [])
        return CHECK_FAILED
    except ConfigError as e:
        _report(confdir, [e], [], [])
        return CHECK_FAILED
    notes = list(cfg.warnings)
    local = _local_node_warning(cfg, os.uname().nodename)
    if local:
        notes.append(local)
    refused = _media_refused(cfg)
    if refused:
        lines = {(e.path, e.line) for e in refused}
        _report(confdir, refused, notes, [u for u in cfg.unhandled if (u.path, u.line) not in lines])
        return CHECK_FAILED
    _report(confdir, [], notes, cfg.unhandled)
    print(f"{PROGRAM}: configuration OK: {cfg.summary()}")
    return EXIT_OK


def _media_refused(cfg: HAConfig) -> list[ConfigError]:
    """Links ha.cf may name but our daemon does not provide: it would not start."""
    return [ConfigError(cfg.hacf.path, m.line, f"{m.kind}: links of this kind are not supported by"
                        " this heartbeat, which would not start; use ucast, bcast or mcast")
            for m in cfg.hacf.media if m.kind not in MEDIA_DIRECTIVES]


def _local_node_warning(cfg: HAConfig, nodename: str) -> ConfigWarning | None:
    if cfg.hacf.is_node(nodename):
        return None
    return ConfigWarning(cfg.hacf.path, None, f"this machine, {quoted(ascii_lower(nodename))}"
                         " (uname -n), is not declared by a node directive: heartbeat will not"
                         " start here")


def _report(confdir, errors: list[ConfigError], warnings: list[ConfigWarning],
            unhandled: list[ConfigWarning]) -> None:
    """Everything found, file by file and line by line, one line each, on stderr."""
    order = {str(confdir / name): i for i, name in enumerate((HACF, HARESOURCES, AUTHKEYS))}
    entries = [(e.path, e.line, "", e.message) for e in errors]
    entries += [(w.path, w.line, "warning: ", w.message) for w in warnings]
    entries += [(u.path, u.line, "info: ", u.message) for u in unhandled]
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[0], e[1] or 0))
    for path, line, tag, message in entries:
        print(f"{PROGRAM}: {where(path, line)}: {tag}{message}", file=sys.stderr)


def run_start(options: Options, env: Mapping[str, str]) -> int:
    """Check the configuration as heartbeat does before it starts, then start the daemon."""
    try:
        cfg = load(config_dir(env), env=env, nodename=local_node_name(config_dir(env)),
                   manage_resources=options.manage_resources)
    except ConfigErrors as e:
        _report(config_dir(env), e.errors, e.warnings, [])
        print(f"{PROGRAM}: configuration error, heartbeat not started", file=sys.stderr)
        return EXIT_NOTCONFIGED
    return _daemon_action("start")(options, cfg)


def run_kill(options: Options, env: Mapping[str, str]) -> int:
    return _daemon_action("kill")(options, None)


def run_status(options: Options, env: Mapping[str, str]) -> int:
    return _daemon_action("status")(options, None)


def run_reload(options: Options, env: Mapping[str, str]) -> int:
    return _daemon_action("reload")(options, None)


DAEMON_MODULE = "heartbeat_py.daemon.actions"


def _daemon_action(name: str) -> Callable[[Options, HAConfig | None], int]:
    """The daemon package's `start`, `kill`, `status` or `reload` (options, config) -> exit code."""
    try:
        module = importlib.import_module(DAEMON_MODULE)
    except ModuleNotFoundError as e:
        if e.name != DAEMON_MODULE:
            raise
        module = None
    action = getattr(module, name, None)
    if action is not None:
        return action

    def unavailable(options: Options, cfg: HAConfig | None) -> int:
        print(f"{PROGRAM}: {name}: the daemon is not part of this build yet", file=sys.stderr)
        return EXIT_GENERIC
    return unavailable


def choose_action(options: Options) -> Callable[[Options, Mapping[str, str]], int]:
    """heartbeat's own precedence: -V, -D, -k, -s, then -r/-R, then start."""
    if options.version:
        return run_version
    if options.check:
        return run_check
    if options.defaults:
        return run_defaults
    if options.kill:
        return run_kill
    if options.status:
        return run_status
    if options.reload or options.restarting:
        return run_reload
    return run_start


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    try:
        options = parse_args(argv)
    except UsageError as e:
        if str(e):
            print(e, file=sys.stderr)
        print(LEGACY_USAGE.format(program=PROGRAM), end="", file=sys.stderr)
        return EXIT_EINVAL
    if options.help:
        print(USAGE, end="")
        return EXIT_OK
    return choose_action(options)(options, env)


if __name__ == "__main__":
    sys.exit(main())
