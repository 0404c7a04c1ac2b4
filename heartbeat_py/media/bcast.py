"""`bcast DEV...`: broadcast on `udpport` to DEV's broadcast address.

Linux hands a node its own broadcasts too: the daemon sees its own packets come
back, as 3.0.6 does.
"""
import socket

from .base import MediaError, UdpMedium, bind_to_device, interface_ipv4


class Bcast(UdpMedium):
    kind = "bcast"

    def _open(self):
        _, broadcast = interface_ipv4(self.interface)
        if not broadcast:
            raise MediaError(f"bcast: interface [{self.interface}] has no broadcast address")
        self.destination = (broadcast, self.port)

        self.wsock = w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        w.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        # not subject to routing: the packet leaves by the named interface or not at all
        w.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
        bind_to_device(w, self.interface)

        self.rsock = r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bind_to_device(r, self.interface)
        try:
            r.bind(("", self.port))
        except OSError as e:
            raise MediaError(f"bcast: Unable to bind socket. Giving up: {e.strerror}") from None
        self.log.info("glib: UDP Broadcast heartbeat started on port %d (%d) interface %s",
                      self.port, self.port, self.interface)
