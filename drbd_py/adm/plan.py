"""Turn a drbdadm command and the configuration into low-level steps.

Each Step is one request of the control protocol (docs/drbd-control.md) and
one line of `drbdadm -d`. The plan fills DRBD's defaults for everything the
file leaves unset, so the engine never guesses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config.build import volume_disk_options
from ..config.dump import esc
from ..config.hostmatch import Placement
from ..config.model import Address, Volume
from .errors import PlanError

# DRBD 8.4's built-in defaults (drbd_limits.h); 0.7 and 8.3 agreed on all that
# matter here except al-extents (127 then) and on-io-error (pass_on then).
DEFAULTS = {
    "protocol": "C",
    "resync_rate": 250 * 1024,
    "al_extents": 1237,
    "on_io_error": "detach",
    "timeout": 60,
    "connect_int": 10,
    "ping_int": 10,
    "ping_timeout": 5,
    "ko_count": 7,
    "after_sb_0pri": "disconnect",
    "after_sb_1pri": "disconnect",
    "after_sb_2pri": "disconnect",
    "rr_conflict": "disconnect",
    "wfc_timeout": 0,
    "degr_wfc_timeout": 0,
    "c_plan_ahead": 20,
}


META_COMMANDS = ("create-md", "dump-md", "wipe-md", "get-gi", "show-gi")
STATUS_COMMANDS = ("role", "state", "cstate", "dstate", "status")


@dataclass
class Step:
    op: str
    resource: str
    args: dict = field(default_factory=dict)

    def request(self) -> dict:
        return {"op": self.op, "v": 1, "resource": self.resource, **self.args}

    def line(self) -> str:
        """The `drbdadm -d` form: op, resource[/volume], then key=value."""
        target = self.resource
        if "volume" in self.args:
            target += f"/{self.args['volume']}"
        words = [self.op, target]
        for key, value in self.args.items():
            if key == "volume" or value is None:
                continue
            words.extend(_shown(key, value))
        return " ".join(words)


def _shown(key: str, value) -> list[str]:
    if isinstance(value, bool):
        return [f"{key}={'yes' if value else 'no'}"]
    if isinstance(value, dict):
        if {"family", "host", "port"} <= set(value):
            return [f"{key}={value['family']}:{value['host']}:{value['port']}"]
        return [f"{key}:{name}={esc(str(v))}" for name, v in value.items()]
    return [f"{key}={esc(str(value))}"]


def _pick(value, name: str):
    return DEFAULTS[name] if value is None else value


def _address(address: Address) -> dict:
    return {"family": address.family, "host": address.host, "port": address.port}


@dataclass
class Command:
    """What the command line asked for, beyond the resource names."""
    force: bool = False  # primary --force / --overwrite-data-of-peer / --do-what-I-say
    discard_my_data: bool = False
    size: int | None = None  # resize --size, in bytes


def new_resource(place: Placement) -> Step:
    settings = place.resource.settings
    options = {name.replace("_", "-"): value for name, value in settings.options.items()}
    return Step("new-resource", place.resource.name,
                {"handlers": dict(settings.handlers), "options": options})


def attach(place: Placement, volume: Volume) -> Step:
    disk = volume_disk_options(place.resource, volume)
    # DRBD 0.7 had no create-md: its first attach wrote the meta-data itself
    auto_md = {"auto_create_md": True} if place.resource.syntax == "0.7" else {}
    return Step("attach", place.resource.name, {
        "volume": volume.number,
        "minor": volume.minor,
        "device": volume.device_path,
        "disk": volume.disk,
        "meta_disk": volume.meta_disk,
        "meta_index": volume.meta_index,
        "al_extents": _pick(disk.al_extents, "al_extents"),
        "on_io_error": _pick(disk.on_io_error, "on_io_error"),
        "size": disk.size,
        **auto_md,
    })


def syncer(place: Placement) -> Step:
    disk = place.resource.settings.disk
    net = place.resource.settings.net
    return Step("syncer", place.resource.name, {
        "rate": _pick(disk.resync_rate, "resync_rate"),
        "al_extents": _pick(disk.al_extents, "al_extents"),
        "csums_alg": net.csums_alg,
        "verify_alg": net.verify_alg,
        "after": disk.resync_after,
        "group": disk.sync_group,
        "c_plan_ahead": _pick(disk.c_plan_ahead, "c_plan_ahead"),
    })


def connect(place: Placement, command: Command) -> Step:
    res = place.resource
    peer = place.peer
    if peer is None:
        if place.peers:
            raise PlanError(f"{res.where}: in resource {res.name}: There are multiple host "
                            "sections for the peer node.", 10)
        raise PlanError(f"resource {res.name}: cannot configure network without knowing my peer.",
                        10)
    net = res.settings.net
    startup = res.settings.startup
    return Step("connect", res.name, {
        "protocol": _pick(net.protocol, "protocol"),
        "local": _address(place.me.address),
        "peer": _address(peer.address),
        "peer_name": peer.name,
        "cram_hmac_alg": net.cram_hmac_alg,
        "shared_secret": net.shared_secret,
        "allow_two_primaries": bool(net.allow_two_primaries),
        "after_sb_0pri": _pick(net.after_sb_0pri, "after_sb_0pri"),
        "after_sb_1pri": _pick(net.after_sb_1pri, "after_sb_1pri"),
        "after_sb_2pri": _pick(net.after_sb_2pri, "after_sb_2pri"),
        "rr_conflict": _pick(net.rr_conflict, "rr_conflict"),
        "connect_int": _pick(net.connect_int, "connect_int"),
        "ping_int": _pick(net.ping_int, "ping_int"),
        "ping_timeout": _pick(net.ping_timeout, "ping_timeout"),
        "timeout": _pick(net.timeout, "timeout"),
        "ko_count": _pick(net.ko_count, "ko_count"),
        "discard_my_data": bool(command.discard_my_data or net.discard_my_data),
        "wfc_timeout": _pick(startup.wfc_timeout, "wfc_timeout"),
        "degr_wfc_timeout": _pick(startup.degr_wfc_timeout, "degr_wfc_timeout"),
    })


def wait_connect(place: Placement) -> Step:
    startup = place.resource.settings.startup
    return Step("wait-connect", place.resource.name, {
        "timeout": _pick(startup.wfc_timeout, "wfc_timeout"),
        "degr_timeout": _pick(startup.degr_wfc_timeout, "degr_wfc_timeout"),
    })


def _volume_steps(op: str, place: Placement, volumes: list[Volume], **extra) -> list[Step]:
    return [Step(op, place.resource.name, {"volume": v.number, **extra}) for v in volumes]


def plan(command_name: str, place: Placement, volumes: list[Volume],
         command: Command) -> list[Step]:
    """The steps for one resource (limited to `volumes` where the command is per volume)."""
    name = place.resource.name
    if command_name in ("up", "adjust"):
        return ([new_resource(place)] + [attach(place, v) for v in volumes]
                + [syncer(place), connect(place, command)])
    if command_name == "attach":
        return [new_resource(place)] + [attach(place, v) for v in volumes]
    if command_name == "syncer":
        return [syncer(place)]
    if command_name == "connect":
        return [connect(place, command)]
    if command_name in ("disconnect", "secondary", "down"):
        return [Step(command_name, name)]
    if command_name == "primary":
        return [Step("primary", name, {"force": command.force})]
    if command_name in ("detach", "invalidate", "invalidate-remote", "outdate", "pause-sync",
                        "resume-sync", "verify"):
        return _volume_steps(command_name, place, volumes)
    if command_name == "resize":
        return [Step("resize", name, {"volume": v.number, "size": command.size if command.size
                                      is not None else volume_disk_options(place.resource, v).size})
                for v in volumes]
    if command_name in ("wait-connect", "wait-con-int"):
        return [wait_connect(place)]
    if command_name in META_COMMANDS:
        # Run here, on the backing disk, through the engine's meta-data module.
        steps = []
        for v in volumes:
            args = {"volume": v.number, "disk": v.disk, "meta_disk": v.meta_disk,
                    "meta_index": v.meta_index}
            if command_name == "create-md":
                al_extents = volume_disk_options(place.resource, v).al_extents
                args.update(force=command.force, al_extents=_pick(al_extents, "al_extents"))
            elif command_name == "wipe-md":
                args["force"] = command.force
            steps.append(Step(command_name, name, args))
        return steps
    if command_name in STATUS_COMMANDS:
        return [Step("status", name)]
    raise PlanError(f"drbdadm: Unknown command '{command_name}'", 1)
