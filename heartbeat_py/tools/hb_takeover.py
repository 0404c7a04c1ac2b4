"""`hb_takeover [all|foreign|local|failback]`: take resources from the other node.

heartbeat 3.0.6's hb_takeover script sends `hb_takeover rsc_hold=SET`; the peer then
runs hb_standby for the mirror set. Ours asks the running daemon, whose resource
layer sends the same message. Checks, messages and exit codes are the script's.
"""
from __future__ import annotations

import os
import sys

from .hb_standby import ask_daemon, parse

USAGE = "Usage: hb_takeover [all|foreign|local|failback]"


def main(argv: list[str] | None = None) -> int:
    program = sys.argv[0] if sys.argv and sys.argv[0] else "hb_takeover"
    argv = sys.argv[1:] if argv is None else argv
    which = parse(argv, program, USAGE)
    if which is None:
        return 1
    return ask_daemon("takeover", which, os.path.basename(program))


if __name__ == "__main__":
    sys.exit(main())
