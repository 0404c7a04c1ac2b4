"""The `sh-*` commands: facts of the configuration, one per line, for shell scripts."""
from __future__ import annotations

from ..config.hostmatch import Placement
from ..config.model import Config, Volume

DEFAULT_MINOR_COUNT = 32  # DRBD 8's module default


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
COMMANDS = tuple(PER_VOLUME) + ("sh-ip", "sh-resources", "sh-nop", "sh-mod-parms", "sh-b-pri")


def lines(command: str, place: Placement, volumes: list[Volume]) -> list[str]:
    if command == "sh-ip":
        return [place.me.address.host] if place.me.address else []
    return [PER_VOLUME[command](v) for v in volumes]


def resource_lines(command: str, chosen: list[tuple[Placement, list[Volume]]]) -> list[str]:
    """Output of a per-resource sh-* command over the chosen resources."""
    if command == "sh-resources":
        return [" ".join(place.resource.name for place, _ in chosen)] if chosen else []
    return [line for place, volumes in chosen for line in lines(command, place, volumes)]


def minor_count(config: Config) -> int:
    """What `sh-mod-parms` reports: the global minor-count, else room for every minor."""
    if config.global_options.minor_count is not None:
        return config.global_options.minor_count
    minors = [v.minor for res in config.resources for host in res.hosts
              for v in host.volumes.values()]
    return max([DEFAULT_MINOR_COUNT] + [m + 1 for m in minors])


def becomes_primary(place: Placement) -> bool:
    names = place.resource.settings.startup.become_primary_on or ()
    return "both" in names or any(name in names for name in place.me.names)
