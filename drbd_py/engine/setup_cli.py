"""drbdsetup-py: send one step to the DRBD engine, as drbdsetup carried one to the kernel.

Usage:
  drbdsetup-py [--rundir=DIR] status [<resource>]
  drbdsetup-py [--rundir=DIR] show-status
  drbdsetup-py [--rundir=DIR] shutdown
  drbdsetup-py [--rundir=DIR] <resource> <step> [<key=value>...]
  drbdsetup-py (-h | --help)

Steps and their arguments are those of docs/drbd-control.md, e.g.
  drbdsetup-py r0 primary force=true
  drbdsetup-py r0 attach minor=1 disk=/dev/sdb1 meta_disk=internal
  drbdsetup-py r0 connect protocol=C 'local={"host":"10.0.0.1","port":7788}' ...
A value is read as JSON when it parses (numbers, true/false, null, objects), else as text.
`status` prints the engine's state as JSON; `show-status` the /proc/drbd-style text.
Exit codes are drbdsetup's (10 failure, 11 state change refused, 17 no UpToDate data,
20 engine not running).

Options:
  --rundir=DIR  The engine's run directory [default: $DRBD_PY_RUNDIR or /run/drbd-py].
  -h, --help    Show this text.
"""
from __future__ import annotations

import json
import sys

from docopt import docopt

from . import client, paths

PROG = "drbdsetup-py"


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _args(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        out[key.replace("-", "_")] = _value(value)
    return out


def main(argv=None) -> int:
    args = docopt(__doc__, argv=argv)
    rundir = args["--rundir"]
    if not rundir or rundir.startswith("$"):
        rundir = paths.rundir()
    try:
        if args["show-status"]:
            with open(paths.status_path(rundir)) as f:
                sys.stdout.write(f.read())
            return 0
        if args["status"]:
            message = {"op": "status"}
            if args["<resource>"]:
                message["resource"] = args["<resource>"]
        elif args["shutdown"]:
            message = {"op": "shutdown"}
        else:
            message = {"op": args["<step>"], "resource": args["<resource>"],
                       **_args(args["<key=value>"])}
        reply = client.request(message, rundir=rundir)
    except ValueError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"{PROG}: no DRBD engine is running ({e.strerror or e})\n")
        return 20
    if not reply.get("ok"):
        if reply.get("error"):
            sys.stderr.write(f"{reply['error']}\n")
        return int(reply.get("code", 10))
    if message["op"] == "status":
        sys.stdout.write(json.dumps(reply.get("resources", []), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
