"""`mcast DEV GROUP PORT TTL LOOP`: IPv4 multicast to GROUP:PORT via DEV."""
import ipaddress
import socket
import struct

from .base import MediaError, UdpMedium, bind_to_device, interface_ipv4


def _number(text, what, dev, low, high):
    try:
        value = int(text, 10)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        raise MediaError(f"mcast [{dev}] bad {what} [{text}]")
    return value


class Mcast(UdpMedium):
    kind = "mcast"

    def __init__(self, interface, group, port, ttl, loop, on_datagram, log=None):
        try:
            addr = ipaddress.IPv4Address(group)
        except ValueError:
            addr = None
        if addr is None or not addr.is_multicast:
            raise MediaError(f"mcast [{interface}] bad addr [{group}]")
        super().__init__(interface, _number(str(port), "port", interface, 1, 65535),
                         on_datagram, log)
        self.group = str(addr)
        self.ttl = _number(str(ttl), "ttl", interface, 0, 4)
        self.loop_back = _number(str(loop), "loop", interface, 0, 1)
        self.destination = (self.group, self.port)

    def _open(self):
        local, _ = interface_ipv4(self.interface)
        iface = socket.inet_aton(local)

        self.wsock = w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, self.loop_back)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)

        self.rsock = r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # heartbeat relies on the membership's interface alone; binding the device
        # also keeps the same group arriving on another interface out of this link
        bind_to_device(r, self.interface)
        try:
            r.bind((self.group, self.port))
        except OSError as e:
            raise MediaError(f"mcast: Unable to bind socket. Giving up: {e.strerror}") from None
        try:
            r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                         struct.pack("4s4s", socket.inet_aton(self.group), iface))
        except OSError:
            raise MediaError(f"Can't join multicast group {self.group} on interface "
                             f"{self.interface}") from None
        self.log.info("glib: UDP multicast heartbeat started for group %s port %d interface %s "
                      "(ttl=%d loop=%d)", self.group, self.port, self.interface, self.ttl,
                      self.loop_back)
