"""The environment resource scripts get, as heartbeat 3.0.6 gave it to them.

3.0.6 exported HA_DIR, HA_FUNCS, HA_DATEFMT, OCF_ROOT, HA_CURHOST, HA_LOGFILE,
HA_DEBUGLOG, HA_LOGFACILITY, HA_debug, HA_cluster_type and every ha.cf `env NAME=value`
as HA_NAME to all its children, and HA_NICEFAILBACK / HA_LOGD to the resource ones.
The rest of what scripts read (HA_RSCTMP, HA_RCDIR, HA_RESOURCEDIR, HA_VARRUN, ...)
came from sourcing shellfuncs; we set them too, so that a script which does not
source it (ours) finds the same values.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..config.loader import HAConfig

DATEFMT = "%Y/%m/%d_%T\t"           # what 3.0.6 exports (HA_DATEFMT)
OCF_ROOT = "/usr/lib/ocf"
RSCTMP = "/run/resource-agents"     # resource-agents' HA_RSCTMP, emptied at boot
VARRUN = "/var/run"
VARLIB = "/var/lib/heartbeat"


def script_environment(config: HAConfig, local_node: str, *, nice_failback: bool,
                       base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for resource scripts run by this daemon."""
    env = dict(os.environ if base is None else base)
    cf = config.hacf
    confdir = str(config.confdir)
    env.update({
        "HA_DIR": confdir,
        "HA_FUNCS": str(Path(confdir) / "shellfuncs"),
        "HA_DATEFMT": DATEFMT,
        "OCF_ROOT": OCF_ROOT,
        "HA_CURHOST": local_node,
        "HA_cluster_type": "heartbeat",
        "HA_LOGD": "no",
        "HA_RSCTMP": env.get("HA_RSCTMP") or RSCTMP,
        "HA_RCDIR": str(Path(confdir) / "rc.d"),
        "HA_RESOURCEDIR": str(Path(confdir) / "resource.d"),
        "HA_VARRUN": env.get("HA_VARRUN") or VARRUN,
        "HA_VARLIB": env.get("HA_VARLIB") or VARLIB,
    })
    for name, value in (("HA_LOGFILE", cf.logfile), ("HA_DEBUGLOG", cf.debugfile),
                        ("HA_LOGFACILITY", cf.logfacility)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)     # an admin's shell must not redirect the scripts' logs
    if cf.debug > 0:
        env["HA_debug"] = str(cf.debug)
    if nice_failback:
        env["HA_NICEFAILBACK"] = "yes"
    else:
        env.pop("HA_NICEFAILBACK", None)
    env.update(cf.env)
    return env


def prepare_rsctmp(env: Mapping[str, str]) -> None:
    """resource-agents keep their state files in HA_RSCTMP; make sure it exists."""
    try:
        os.makedirs(env["HA_RSCTMP"], mode=0o755, exist_ok=True)
    except OSError:
        pass    # a script that needs it says so in its own log line
