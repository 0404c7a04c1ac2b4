"""Who this machine is in the cluster: heartbeat 3.0.6 takes the first line of
$HA_DIR/nodeinfo when that file exists, else `uname -n`, lower-cased either way."""
from __future__ import annotations

import os
from pathlib import Path

from heartbeat_py.config.text import ascii_lower

NODEINFO = "nodeinfo"


def local_node_name(confdir: str | os.PathLike) -> str:
    try:
        with open(Path(confdir) / NODEINFO, encoding="utf-8", errors="surrogateescape") as f:
            first = f.readline()
    except OSError:
        first = ""
    if first.endswith("\n") and first.strip():
        return ascii_lower(first.rstrip("\n"))
    return ascii_lower(os.uname().nodename)
