"""`ucast DEV PEER`: unicast to one peer on `udpport`, both sockets bound to DEV."""
import socket

from .base import MediaError, UdpMedium, bind_to_device

IPTOS_LOWDELAY = 0x10


def _bind_device(sock, ifname, which):
    try:
        bind_to_device(sock, ifname)
    except OSError as e:
        raise MediaError(f"ucast: error setting option SO_BINDTODEVICE({which}) on "
                         f"{ifname}: {e.strerror}") from None


class Ucast(UdpMedium):
    kind = "ucast"

    def __init__(self, interface, peer, port, on_datagram, log=None):
        super().__init__(interface, port, on_datagram, log)
        try:
            address = socket.gethostbyname(peer)
        except (OSError, UnicodeError):
            raise MediaError("ucast: cannot resolve hostname") from None
        self.peer = peer
        self.destination = (address, self.port)

    def _open(self):
        say = self.log.info
        self.wsock = w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        w.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_LOWDELAY)
        say("glib: ucast: write socket priority set to IPTOS_LOWDELAY on %s", self.interface)
        _bind_device(w, self.interface, "w")
        say("glib: ucast: bound send socket to device: %s", self.interface)
        w.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        say("glib: ucast: set SO_REUSEPORT(w)")

        self.rsock = r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        say("glib: ucast: set SO_REUSEADDR")
        _bind_device(r, self.interface, "r")
        say("glib: ucast: bound receive socket to device: %s", self.interface)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        say("glib: ucast: set SO_REUSEPORT")
        try:
            r.bind(("", self.port))
        except OSError as e:
            raise MediaError(f"ucast: unable to bind socket. Giving up: {e.strerror}") from None
        say("glib: ucast: started on port %d interface %s to %s", self.port, self.interface,
            self.destination[0])
