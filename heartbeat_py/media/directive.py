"""From an ha.cf media line (`ucast eth0 10.0.0.2`, `bcast eth0 eth1`,
`mcast eth0 225.0.0.1 694 1 0`, `serial /dev/ttyS0`) to medium objects."""
from .base import DEFAULT_UDPPORT, MediaError
from .bcast import Bcast
from .mcast import Mcast
from .ucast import Ucast

MEDIA_DIRECTIVES = ("ucast", "bcast", "mcast")
# ha.cf words that name a heartbeat 3.0.6 medium plugin we do not provide
UNSUPPORTED = ("serial", "ucast6", "mcast6", "ping", "ping6", "ping_group", "hbaping",
               "tipc", "rds", "openais")


def medium_from_config(spec, on_datagram, log=None):
    """From one of heartbeat_py.config's parsed media (anything with `.kind`,
    `.interface`, `.peer`, `.group`, `.port`, `.ttl`, `.loop`)."""
    if spec.kind == "ucast":
        return Ucast(spec.interface, spec.peer, spec.port, on_datagram, log)
    if spec.kind == "bcast":
        return Bcast(spec.interface, spec.port, on_datagram, log)
    if spec.kind == "mcast":
        return Mcast(spec.interface, spec.group, spec.port, spec.ttl, spec.loop, on_datagram, log)
    return media_from_directive(spec.kind, [], on_datagram)   # raises the refusal


def media_from_directive(kind, args, on_datagram, udpport=DEFAULT_UDPPORT, log=None):
    """The media one directive configures (bcast may name several interfaces).
    MediaError for a malformed or unsupported line; sockets open only on start()."""
    if kind == "ucast":
        if not args:
            raise MediaError("ucast: missing interface")
        if len(args) < 2:
            raise MediaError(f"ucast: [{args[0]}] missing target IP address/hostname")
        return [Ucast(args[0], args[1], udpport, on_datagram, log)]
    if kind == "bcast":
        if not args:
            raise MediaError("bcast: missing interface")
        return [Bcast(dev, udpport, on_datagram, log) for dev in args]
    if kind == "mcast":
        if not args:
            raise MediaError("mcast: missing interface")
        for what, n in (("mcast address", 2), ("port", 3), ("ttl", 4), ("loop", 5)):
            if len(args) < n:
                raise MediaError(f"mcast [{args[0]}] missing {what}")
        return [Mcast(args[0], args[1], args[2], args[3], args[4], on_datagram, log)]
    if kind == "serial":
        raise MediaError("serial: serial links are not supported by this heartbeat; "
                         "use ucast, bcast or mcast")
    if kind in UNSUPPORTED:
        raise MediaError(f"{kind}: this medium is not supported by this heartbeat; "
                         "use ucast, bcast or mcast")
    raise MediaError(f"{kind}: unknown medium")
