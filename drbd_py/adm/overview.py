"""drbd-overview: one line per DRBD device, from the engine's /proc/drbd-format status.

Usage:
  drbd-overview [-c FILE]
  drbd-overview (-h | --help)

Options:
  -c FILE, --config-file=FILE  Where resource names come from [default: /etc/drbd.conf].
  -h, --help                   Show this text.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from docopt import DocoptExit, docopt

from ..config.errors import ConfigError, ConfigMissing
from ..config.hostmatch import LocalView
from ..config.loader import load_config

DEFAULT_RUNDIR = "/run/drbd-py"
_DEVICE = re.compile(r"^\s*(\d+):\s+cs:(\S+)(?:\s+(?:ro|st):(\S+))?(?:\s+(?:ds|ld):(\S+))?"
                     r"(?:\s+([ABC]))?(?:\s+(\S+))?")


@dataclass
class DeviceLine:
    minor: int
    cstate: str
    roles: str = ""
    dstates: str = ""
    protocol: str = ""
    flags: str = ""
    progress: list[str] = field(default_factory=list)


def status_path() -> str:
    return os.path.join(os.environ.get("DRBD_PY_RUNDIR", DEFAULT_RUNDIR), "proc-drbd")


def parse_status(text: str) -> list[DeviceLine]:
    """The device lines of /proc/drbd text (0.7 `st:`/`ld:` or 8.x `ro:`/`ds:`)."""
    devices: list[DeviceLine] = []
    for line in text.splitlines():
        match = _DEVICE.match(line)
        if match:
            minor, cs, ro, ds, proto, flags = match.groups()
            devices.append(DeviceLine(int(minor), cs, ro or "", ds or "", proto or "",
                                      flags or ""))
        elif devices and ("sync'ed" in line or "finish:" in line or line.lstrip().startswith("[")):
            devices[-1].progress.append(line.strip())
    return devices


def _names(config_path: str) -> dict[int, str]:
    """minor -> resource name, for this host's resources; empty when unreadable."""
    try:
        config = load_config(config_path)
    except (ConfigError, ConfigMissing):
        return {}
    names = {}
    for place in LocalView().mine(config):
        several = len(place.me.volumes) > 1
        for volume in place.me.volumes.values():
            names[volume.minor] = (f"{place.resource.name}/{volume.number}" if several
                                   else place.resource.name)
    return names


def _mount(minor: int) -> str:
    """Mount point, type and usage of /dev/drbdN when it is mounted."""
    device = f"/dev/drbd{minor}"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for entry in mounts:
                parts = entry.split()
                if len(parts) >= 3 and parts[0] == device:
                    stat = os.statvfs(parts[1])
                    size = stat.f_blocks * stat.f_frsize
                    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
                    avail = stat.f_bavail * stat.f_frsize
                    pct = round(100 * used / size) if size else 0
                    return (f" {parts[1]} {parts[2]} {_human(size)} {_human(used)} "
                            f"{_human(avail)} {pct}%")
    except OSError:
        pass
    return ""


def _human(value: int) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{value:.1f}{unit}" if unit and value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return str(value)


def render(devices: list[DeviceLine], names: dict[int, str]) -> list[str]:
    width = max([len(names.get(d.minor, "??")) for d in devices] + [2])
    out = []
    for dev in devices:
        name = names.get(dev.minor, "??")
        fields = [dev.cstate, dev.roles, dev.dstates, dev.protocol, dev.flags]
        line = f"{dev.minor:>3}:{name:<{width}}  " + " ".join(f for f in fields if f)
        out.append(line + _mount(dev.minor))
        out.extend(f"\t{p}" for p in dev.progress)
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        args = docopt(__doc__, argv=sys.argv[1:] if argv is None else argv, default_help=False)
    except DocoptExit:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 1
    if args["--help"]:
        print(__doc__.strip())
        return 0
    path = status_path()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        print(f"drbd-overview: no DRBD status in {path} (is the engine running?)",
              file=sys.stderr)
        return 1
    for line in render(parse_status(text), _names(args["--config-file"])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
