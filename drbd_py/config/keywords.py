"""Every option keyword of every drbd.conf era, and where it lands in the model.

A written section (`syncer`, `disk`, `net`, ...) maps each keyword it accepts to
an OptionSpec naming the model section and field it fills. Renamed options
(0.7/8.3 `syncer { rate }` is 8.4 `disk { resync-rate }`, `no-disk-flushes` is
`disk-flushes no`, 0.7 `on-io-error panic` ...) are plain aliases here, so the
parser never needs to know which era a file comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ValueKind(Enum):
    INT = "int"  # plain integer
    SIZE = "size"  # integer with K/M/G/s suffix, stored in bytes
    FLAG = "flag"  # `opt;`, `opt yes;` or `opt no;`
    NO_FLAG = "no-flag"  # 8.3 `no-disk-flushes;`: the flag, set to False
    ENUM = "enum"
    STRING = "string"
    WORDS = "words"  # one or more words (become-primary-on)
    IGNORED = "ignored"  # deprecated keyword with one value, accepted and dropped


@dataclass(frozen=True)
class OptionSpec:
    target: str  # model section: disk, net, startup, options, handlers, global
    name: str  # canonical (8.4) keyword
    kind: ValueKind
    unit: str = ""  # default unit of a SIZE: "" bytes, "k", "s"
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    # Older spellings of values, mapped to the canonical value.
    aliases: dict[str, str] = field(default_factory=dict)
    case_insensitive: bool = False

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


def _spec(target, name, kind, **kw):
    return OptionSpec(target, name, kind, **kw)


def _int(target, name, lo=None, hi=None):
    return _spec(target, name, ValueKind.INT, minimum=lo, maximum=hi)


def _size(target, name, unit, lo=None, hi=None):
    return _spec(target, name, ValueKind.SIZE, unit=unit, minimum=lo, maximum=hi)


def _flag(target, name):
    return _spec(target, name, ValueKind.FLAG)


def _no_flag(target, name):
    return _spec(target, name, ValueKind.NO_FLAG)


def _enum(target, name, choices, aliases=None):
    return _spec(target, name, ValueKind.ENUM, choices=tuple(choices), aliases=aliases or {})


def _str(target, name):
    return _spec(target, name, ValueKind.STRING)


K = 1024
AFTER_SB_0PRI = ("disconnect", "discard-younger-primary", "discard-older-primary",
                 "discard-zero-changes", "discard-least-changes", "discard-local",
                 "discard-remote")
AFTER_SB_1PRI = ("disconnect", "consensus", "violently-as0p", "discard-secondary",
                 "call-pri-lost-after-sb")
AFTER_SB_2PRI = ("disconnect", "violently-as0p", "call-pri-lost-after-sb")
# 8.0 called the pri-lost helper "panic-primary" before it was renamed.
_SB_ALIASES = {"panic-primary": "call-pri-lost-after-sb", "panic": "call-pri-lost-after-sb"}
PROTOCOLS = ("A", "B", "C")
READ_BALANCING = ("prefer-local", "prefer-remote", "round-robin", "least-pending",
                  "when-congested-remote", "32K-striping", "64K-striping",
                  "128K-striping", "256K-striping", "512K-striping", "1M-striping")

# disk options of 8.4, also reachable from 8.3's `syncer` and 0.7's `disk`/`syncer`.
DISK = {
    "size": _size("disk", "size", "s", 0, 2 << 40 << 9),
    "on-io-error": _enum("disk", "on-io-error", ("pass_on", "call-local-io-error", "detach"),
                         # 0.7 and early 8.0 spellings
                         {"panic": "call-local-io-error", "pass-on": "pass_on"}),
    "fencing": _enum("disk", "fencing", ("dont-care", "resource-only", "resource-and-stonith")),
    "max-bio-bvecs": _int("disk", "max-bio-bvecs", 0, 128),
    "disk-timeout": _int("disk", "disk-timeout", 0, 6000),
    "read-balancing": _enum("disk", "read-balancing", READ_BALANCING),
    "rs-discard-granularity": _int("disk", "rs-discard-granularity", 0, 1 << 20),
    "disable-write-same": _flag("disk", "disable-write-same"),
    "discard-zeroes-if-aligned": _flag("disk", "discard-zeroes-if-aligned"),
    "use-bmbv": _flag("disk", "use-bmbv"),
    "disk-barrier": _flag("disk", "disk-barrier"),
    "disk-flushes": _flag("disk", "disk-flushes"),
    "disk-drain": _flag("disk", "disk-drain"),
    "md-flushes": _flag("disk", "md-flushes"),
    "no-disk-barrier": _no_flag("disk", "disk-barrier"),
    "no-disk-flushes": _no_flag("disk", "disk-flushes"),
    "no-disk-drain": _no_flag("disk", "disk-drain"),
    "no-md-flushes": _no_flag("disk", "md-flushes"),
    "resync-rate": _size("disk", "resync-rate", "k", K, 4 << 30),
    "rate": _size("disk", "resync-rate", "k", K, 4 << 30),
    "resync-after": _str("disk", "resync-after"),
    "after": _str("disk", "resync-after"),
    # 0.7 allowed 7 extents; 8.4 raised the floor to 67. Old files must still load.
    "al-extents": _int("disk", "al-extents", 7, 0xFFFE),
    "al-updates": _flag("disk", "al-updates"),
    "c-plan-ahead": _int("disk", "c-plan-ahead", 0, 300),
    "c-delay-target": _int("disk", "c-delay-target", 1, 100),
    "c-fill-target": _size("disk", "c-fill-target", "s", 0, (1 << 20) * 512),
    "c-max-rate": _size("disk", "c-max-rate", "k", 250 * K, 4 << 30),
    "c-min-rate": _size("disk", "c-min-rate", "k", 0, 4 << 30),
}

NET = {
    "protocol": _spec("net", "protocol", ValueKind.ENUM, choices=PROTOCOLS, case_insensitive=True),
    "timeout": _int("net", "timeout", 1, 600),
    "connect-int": _int("net", "connect-int", 1, 120),
    "ping-int": _int("net", "ping-int", 1, 120),
    "ping-timeout": _int("net", "ping-timeout", 1, 300),
    "ko-count": _int("net", "ko-count", 0, 200),
    "max-buffers": _int("net", "max-buffers", 32, 131072),
    "max-epoch-size": _int("net", "max-epoch-size", 1, 20000),
    "unplug-watermark": _int("net", "unplug-watermark", 1, 131072),
    "sndbuf-size": _size("net", "sndbuf-size", "", 0, 10 << 20),
    "rcvbuf-size": _size("net", "rcvbuf-size", "", 0, 10 << 20),
    "cram-hmac-alg": _str("net", "cram-hmac-alg"),
    "shared-secret": _str("net", "shared-secret"),
    "allow-two-primaries": _flag("net", "allow-two-primaries"),
    "after-sb-0pri": _enum("net", "after-sb-0pri", AFTER_SB_0PRI),
    "after-sb-1pri": _enum("net", "after-sb-1pri", AFTER_SB_1PRI, _SB_ALIASES),
    "after-sb-2pri": _enum("net", "after-sb-2pri", AFTER_SB_2PRI, _SB_ALIASES),
    "always-asbp": _flag("net", "always-asbp"),
    "rr-conflict": _enum("net", "rr-conflict", ("disconnect", "violently", "call-pri-lost")),
    "data-integrity-alg": _str("net", "data-integrity-alg"),
    "tcp-cork": _flag("net", "tcp-cork"),
    "no-tcp-cork": _no_flag("net", "tcp-cork"),
    "on-congestion": _enum("net", "on-congestion", ("block", "pull-ahead", "disconnect")),
    "congestion-fill": _size("net", "congestion-fill", "s", 0, 10 << 30),
    "congestion-extents": _int("net", "congestion-extents", 67, 0xFFFE),
    "csums-alg": _str("net", "csums-alg"),
    "csums-after-crash-only": _flag("net", "csums-after-crash-only"),
    "verify-alg": _str("net", "verify-alg"),
    "use-rle": _flag("net", "use-rle"),
    "socket-check-timeout": _int("net", "socket-check-timeout", 0, 300),
    "discard-my-data": _flag("net", "discard-my-data"),
    "on-disconnect": _enum("net", "on-disconnect", ("reconnect", "stand_alone", "freeze_io")),
}

STARTUP = {
    "wfc-timeout": _int("startup", "wfc-timeout", 0, 300000),
    "degr-wfc-timeout": _int("startup", "degr-wfc-timeout", 0, 300000),
    "outdated-wfc-timeout": _int("startup", "outdated-wfc-timeout", 0, 300000),
    "wait-after-sb": _flag("startup", "wait-after-sb"),
    "become-primary-on": _spec("startup", "become-primary-on", ValueKind.WORDS),
    "stacked-timeouts": _flag("startup", "stacked-timeouts"),
}

RESOURCE_OPTIONS = {
    "cpu-mask": _str("options", "cpu-mask"),
    "on-no-data-accessible": _enum("options", "on-no-data-accessible", ("io-error", "suspend-io")),
}

HANDLER_NAMES = ("pri-on-incon-degr", "pri-lost-after-sb", "pri-lost", "initial-split-brain",
                 "split-brain", "fence-peer", "unfence-peer", "local-io-error",
                 "before-resync-target", "after-resync-target", "before-resync-source",
                 "out-of-sync")
HANDLERS = {name: _str("handlers", name) for name in HANDLER_NAMES}
HANDLERS["outdate-peer"] = _str("handlers", "fence-peer")  # 8.0-8.2 name

GLOBAL = {
    "usage-count": _enum("global", "usage-count", ("yes", "no", "ask")),
    "minor-count": _int("global", "minor-count", 1, 255),
    "minor_count": _int("global", "minor-count", 1, 255),  # 0.7 accepted both
    "dialog-refresh": _int("global", "dialog-refresh", 0, 600),
    "disable-ip-verification": _flag("global", "disable-ip-verification"),
    "disable-io-hints": _flag("global", "disable-io-hints"),
    "disable_io_hints": _flag("global", "disable-io-hints"),
    "udev-always-use-vnr": _flag("global", "udev-always-use-vnr"),
    "cmd-timeout-short": _int("global", "cmd-timeout-short", 0, 2 ** 31 - 1),
    "cmd-timeout-medium": _int("global", "cmd-timeout-medium", 0, 2 ** 31 - 1),
    "cmd-timeout-long": _int("global", "cmd-timeout-long", 0, 2 ** 31 - 1),
}

_DEPRECATED = {name: _spec("disk", name, ValueKind.IGNORED)
               for name in ("delay-probe-volume", "delay-probe-interval",
                            "throttle-threshold", "hold-off-threshold")}

# The 8.0-8.3 syncer section: its options went to disk, net and options in 8.4;
# `group` is 0.7's ancestor of `after`.
SYNCER = {
    **{k: DISK[k] for k in ("rate", "resync-rate", "after", "resync-after", "al-extents",
                            "c-plan-ahead", "c-delay-target", "c-fill-target",
                            "c-max-rate", "c-min-rate")},
    **{k: NET[k] for k in ("verify-alg", "csums-alg", "use-rle")},
    **RESOURCE_OPTIONS,
    **_DEPRECATED,
    "group": _int("disk", "sync-group", -(2 ** 31), 2 ** 31 - 1),
}

# Which keywords each written section accepts.
SECTIONS: dict[str, dict[str, OptionSpec]] = {
    "disk": {**DISK, **_DEPRECATED},
    "net": NET,
    "syncer": SYNCER,
    "startup": STARTUP,
    "options": RESOURCE_OPTIONS,
    "handlers": HANDLERS,
    "global": GLOBAL,
}

# What DRBD 0.7's drbd.conf knew, per place.  A resource (with its file's global and
# common sections) that uses nothing else was written for 0.7: drbdadm then keeps 0.7's
# behaviour where DRBD 8 changed it (meta-data created by the first attach).
V07_KEYWORDS: dict[str, frozenset[str]] = {
    "global": frozenset({"minor-count", "minor_count", "dialog-refresh",
                         "disable-ip-verification", "disable-io-hints", "disable_io_hints"}),
    "resource": frozenset({"protocol", "incon-degr-cmd", "on", "startup", "disk", "net",
                           "syncer", "skip"}),
    "host": frozenset({"device", "disk", "address", "meta-disk"}),
    "startup": frozenset({"wfc-timeout", "degr-wfc-timeout"}),
    "disk": frozenset({"on-io-error", "size"}),
    "net": frozenset({"sndbuf-size", "timeout", "connect-int", "ping-int", "max-buffers",
                      "unplug-watermark", "max-epoch-size", "ko-count", "on-disconnect"}),
    "syncer": frozenset({"rate", "group", "al-extents"}),
}
