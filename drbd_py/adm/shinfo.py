"""The `sh-*` commands: facts of the configuration, one per line, for shell scripts."""
from __future__ import annotations

from ..config.hostmatch import Placement
from ..config.model import Volume


def _meta_index(volume: Volume) -> str:
    if volume.meta_disk == "internal":
        return "internal"
    return "flexible" if volume.meta_index is None else str(volume.meta_index)


PER_VOLUME = {
    "sh-dev": lambda v: v.device_path,
    "sh-minor": lambda v: str(v.minor),
    "sh-ll-dev": lambda v: v.disk,
    "sh-md-dev": lambda v: v.meta_device,
    "sh-md-idx": _meta_index,
}
COMMANDS = tuple(PER_VOLUME) + ("sh-ip", "sh-resources")


def lines(command: str, place: Placement, volumes: list[Volume]) -> list[str]:
    if command == "sh-ip":
        return [place.me.address.host] if place.me.address else []
    return [PER_VOLUME[command](v) for v in volumes]
