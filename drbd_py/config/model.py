"""The one internal model of drbd.conf, whatever era the file was written in.

Option names are DRBD 8.4's, with `-` turned into `_`; values are typed and
normalized (sizes and rates in bytes, flags as bool). None means "not set in
the file": the drbdadm plan fills DRBD's defaults, so a dump shows only what
the admin wrote.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Where:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Address:
    family: str  # ipv4, ipv6, ssocks, sdp
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.family == "ipv6" else self.host
        return f"{self.family} {host}:{self.port}"

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if self.family == "ipv6" else self.host
        return f"{host}:{self.port}"


class _Section:
    """Shared behaviour of the option groups: overlay, and listing what is set."""

    def overlay(self, base):
        """A copy with our settings on top of `base`'s (resource over common)."""
        merged = type(self)()
        for f in fields(self):
            mine = getattr(self, f.name)
            setattr(merged, f.name, getattr(base, f.name) if mine is None else mine)
        return merged

    def items(self):
        """(name, value) of every option that is set, in declaration order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) is not None]

    def is_empty(self) -> bool:
        return not self.items()


@dataclass
class DiskOptions(_Section):
    size: int | None = None  # bytes
    on_io_error: str | None = None
    fencing: str | None = None
    max_bio_bvecs: int | None = None
    disk_timeout: int | None = None  # tenths of a second
    read_balancing: str | None = None
    rs_discard_granularity: int | None = None
    disable_write_same: bool | None = None
    discard_zeroes_if_aligned: bool | None = None
    use_bmbv: bool | None = None
    disk_barrier: bool | None = None
    disk_flushes: bool | None = None
    disk_drain: bool | None = None
    md_flushes: bool | None = None
    resync_rate: int | None = None  # bytes per second (0.7/8.3 syncer rate)
    resync_after: str | None = None  # resource name (8.3 syncer after)
    sync_group: int | None = None  # 0.7 syncer group: groups resync in ascending order
    al_extents: int | None = None
    al_updates: bool | None = None
    c_plan_ahead: int | None = None
    c_delay_target: int | None = None
    c_fill_target: int | None = None  # bytes
    c_max_rate: int | None = None  # bytes per second
    c_min_rate: int | None = None  # bytes per second


@dataclass
class NetOptions(_Section):
    protocol: str | None = None
    timeout: int | None = None  # tenths of a second
    connect_int: int | None = None  # seconds
    ping_int: int | None = None  # seconds
    ping_timeout: int | None = None  # tenths of a second
    ko_count: int | None = None
    max_buffers: int | None = None
    max_epoch_size: int | None = None
    unplug_watermark: int | None = None
    sndbuf_size: int | None = None  # bytes
    rcvbuf_size: int | None = None  # bytes
    cram_hmac_alg: str | None = None
    shared_secret: str | None = None
    allow_two_primaries: bool | None = None
    after_sb_0pri: str | None = None
    after_sb_1pri: str | None = None
    after_sb_2pri: str | None = None
    always_asbp: bool | None = None
    rr_conflict: str | None = None
    data_integrity_alg: str | None = None
    tcp_cork: bool | None = None
    on_congestion: str | None = None
    congestion_fill: int | None = None  # bytes
    congestion_extents: int | None = None
    csums_alg: str | None = None
    csums_after_crash_only: bool | None = None
    verify_alg: str | None = None
    use_rle: bool | None = None
    socket_check_timeout: int | None = None
    discard_my_data: bool | None = None
    on_disconnect: str | None = None  # 0.7: reconnect, stand_alone, freeze_io


@dataclass
class StartupOptions(_Section):
    wfc_timeout: int | None = None  # seconds
    degr_wfc_timeout: int | None = None
    outdated_wfc_timeout: int | None = None
    wait_after_sb: bool | None = None
    become_primary_on: tuple[str, ...] | None = None
    stacked_timeouts: bool | None = None


@dataclass
class ResourceOptions(_Section):
    cpu_mask: str | None = None
    on_no_data_accessible: str | None = None


@dataclass
class GlobalOptions(_Section):
    usage_count: str | None = None
    minor_count: int | None = None
    dialog_refresh: int | None = None
    disable_ip_verification: bool | None = None
    disable_io_hints: bool | None = None  # 0.7
    udev_always_use_vnr: bool | None = None
    cmd_timeout_short: int | None = None
    cmd_timeout_medium: int | None = None
    cmd_timeout_long: int | None = None


@dataclass
class Settings:
    """The option sections a resource (or `common`) carries."""
    disk: DiskOptions = field(default_factory=DiskOptions)
    net: NetOptions = field(default_factory=NetOptions)
    startup: StartupOptions = field(default_factory=StartupOptions)
    options: ResourceOptions = field(default_factory=ResourceOptions)
    handlers: dict[str, str] = field(default_factory=dict)

    def overlay(self, base: "Settings") -> "Settings":
        return Settings(
            disk=self.disk.overlay(base.disk),
            net=self.net.overlay(base.net),
            startup=self.startup.overlay(base.startup),
            options=self.options.overlay(base.options),
            handlers={**base.handlers, **self.handlers},
        )


@dataclass
class Volume:
    number: int
    device: str | None = None  # /dev/drbdN; None when only the minor is given
    minor: int | None = None
    disk: str | None = None  # backing device, or "none"
    meta_disk: str | None = None  # "internal" or a device
    meta_index: int | None = None  # None: internal, or external with flexible size
    disk_options: DiskOptions = field(default_factory=DiskOptions)  # 8.4 per volume
    where: Where | None = field(default=None, compare=False)

    @property
    def device_path(self) -> str:
        return self.device or f"/dev/drbd{self.minor}"

    @property
    def meta_device(self) -> str | None:
        """Where the meta-data lives: the backing disk itself when internal."""
        return self.disk if self.meta_disk == "internal" else self.meta_disk


@dataclass
class Host:
    names: tuple[str, ...]  # `on a b { }` may name several; floating: ()
    address: Address | None = None
    volumes: dict[int, Volume] = field(default_factory=dict)
    floating: bool = False
    where: Where | None = field(default=None, compare=False)
    address_where: Where | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The name drbdadm shows: the host name, or the address for `floating`."""
        if self.floating and self.address:
            return self.address.host
        return self.names[0]


@dataclass
class Resource:
    name: str
    hosts: list[Host] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)  # common already merged in
    where: Where | None = field(default=None, compare=False)
    # "0.7" when the resource, its file's global and common use only what DRBD 0.7 knew
    # (0.7's behaviour is kept where DRBD 8 changed it); "8" otherwise
    syntax: str = field(default="8", compare=False)

    def host_named(self, hostname: str) -> Host | None:
        for host in self.hosts:
            if hostname in host.names:
                return host
        return None


@dataclass
class Config:
    path: str = field(compare=False)
    global_options: GlobalOptions = field(default_factory=GlobalOptions)
    common: Settings = field(default_factory=Settings)
    resources: list[Resource] = field(default_factory=list)

    def resource(self, name: str) -> Resource | None:
        for res in self.resources:
            if res.name == name:
                return res
        return None
