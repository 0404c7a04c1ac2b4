"""`hb_standby [all|foreign|local|failback]`: give resources to the other node.

heartbeat 3.0.6's hb_standby is a shell script that sends `ask_resources
rsc_hold=SET info=me` into the cluster; ours asks the running daemon over the
control socket, and the resource layer runs the same standby protocol. Argument
checks, messages and exit codes are the script's; `failback` means `foreign`.
hb_takeover (heartbeat_py.tools.hb_takeover) shares this code.
"""
from __future__ import annotations

import os
import sys
import time

from docopt import DocoptExit, docopt

from heartbeat_py.daemon.control import ControlTimeout, ControlUnavailable, request
from heartbeat_py.daemon.paths import Paths

SETS = ("all", "foreign", "local", "failback")
USAGE = "Usage: hb_standby [all|foreign|local|failback]"
ANSWER_TIMEOUT = 60.0       # the daemon answers once the request is under way


def legacy_usage(program: str) -> int:
    print("usage:")
    print(f"{program} [all|foreign|local|failback]", file=sys.stderr)
    return 1


def parse(argv: list[str], program: str, usage: str) -> str | None:
    """The resource set asked for, or None after printing the script's complaint."""
    if len(argv) >= 2:
        print(f"{program}: too many arguments")
        legacy_usage(program)
        return None
    which = argv[0] if argv else "all"
    if which == "--help":
        legacy_usage(program)
        return None
    if which not in SETS:
        print(f"{program}: wrong resources({which}).")
        legacy_usage(program)
        return None
    try:
        docopt(usage, argv, default_help=False)
    except DocoptExit:
        legacy_usage(program)
        return None
    return which


def ask_daemon(cmd: str, which: str, program: str) -> int:
    try:
        answer = request(Paths.from_env().control_socket, cmd, timeout=ANSWER_TIMEOUT, which=which)
    except ControlUnavailable:
        print(f"{program}: heartbeat is not running", file=sys.stderr)
        return 1
    except ControlTimeout:
        print(f"{program}: heartbeat did not answer", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"{program}: {answer.get('error', 'refused')}", file=sys.stderr)
        return 1
    if answer.get("text"):
        print(answer["text"])
    return int(answer.get("rc", 0))


def going_standby(which: str) -> str:
    """The line 3.0.6's hb_standby logs (ha_log) before asking: with no log file in an
    admin's environment it lands on stderr, dated unless stdin is a terminal."""
    line = f"Going standby [{which}]."
    if sys.stdin is not None and sys.stdin.isatty():
        return line
    return time.strftime(os.environ.get("HA_DATEFMT") or "%b %d %T ") + line


def run_tool(cmd: str, usage: str, argv: list[str] | None, aliases: dict[str, str],
             announce: bool = False) -> int:
    """Check the argument as the legacy script does, then ask the daemon."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else f"hb_{cmd}"
    argv = sys.argv[1:] if argv is None else argv
    which = parse(argv, program, usage)
    if which is None:
        return 1
    which = aliases.get(which, which)
    if announce:
        print(going_standby(which), file=sys.stderr)
    return ask_daemon(cmd, which, os.path.basename(program))


def main(argv: list[str] | None = None) -> int:
    return run_tool("standby", USAGE, argv, {"failback": "foreign"}, announce=True)


if __name__ == "__main__":
    sys.exit(main())
