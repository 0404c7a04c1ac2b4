"""`hb_takeover [all|foreign|local|failback]`: take resources from the other node.

heartbeat 3.0.6's hb_takeover script sends `hb_takeover rsc_hold=SET`; the peer then
runs hb_standby for the mirror set. Ours asks the running daemon, whose resource
layer sends the same message. Checks, messages and exit codes are the script's.
"""
from __future__ import annotations

import sys

from .hb_standby import run_tool

USAGE = "Usage: hb_takeover [all|foreign|local|failback]"


def main(argv: list[str] | None = None) -> int:
    return run_tool("takeover", USAGE, argv, {})


if __name__ == "__main__":
    sys.exit(main())
