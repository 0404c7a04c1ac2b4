"""What every UDP heartbeat medium shares: a send socket and a receive socket, both
made non-blocking and served from one asyncio event loop; counters the daemon can
turn into link status; and error reporting that never stops the loop.

Log lines keep heartbeat 3.0.6's wording (its plugins' messages reach the log with a
`glib: ` prefix), so that admins' log watchers keep matching.
"""
import asyncio
import errno
import logging
import socket
import time

RECV_BUFFER = 65536          # the largest UDP payload fits
RECV_BATCH = 64              # datagrams read per wake-up, so one busy link cannot starve others
DEFAULT_UDPPORT = 694


class MediaError(Exception):
    """A medium cannot be set up; the message is one line, as heartbeat would log it."""


def interface_ipv4(ifname):
    """(address, broadcast) of an interface's first IPv4 address; MediaError if the
    interface does not exist or has none."""
    import netifaces   # imported late: only media that need it pay for it
    try:
        entries = netifaces.ifaddresses(ifname).get(netifaces.AF_INET, [])
    except ValueError:
        raise MediaError(f"IP interface [{ifname}] does not exist") from None
    if not entries:
        raise MediaError(f"IP interface [{ifname}] has no IPv4 address")
    return entries[0]["addr"], entries[0].get("broadcast")


def bind_to_device(sock, ifname):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode() + b"\0")


class UdpMedium:
    """Base of ucast, bcast and mcast. Subclasses make the sockets in _open() and say
    where datagrams go in `destination`."""

    kind = "udp"

    def __init__(self, interface, port, on_datagram, log=None):
        self.interface = interface
        self.port = int(port)
        self.on_datagram = on_datagram     # called as on_datagram(data, (ip, port), medium)
        self.log = log or logging.getLogger("heartbeat")
        self.destination = None
        self.wsock = None
        self.rsock = None
        self._loop = None
        self.rx_packets = 0
        self.tx_packets = 0
        self.tx_errors = 0
        self.rx_errors = 0
        self.last_rx = None                # time.monotonic() of the last datagram
        self._send_failing = False

    @property
    def name(self):
        """The link name heartbeat reports (`Link nodeb:eth0 up`)."""
        return self.interface

    def __repr__(self):
        return f"<{self.kind} {self.interface} port {self.port} to {self.destination}>"

    # --- life cycle ---
    def start(self, loop=None):
        """Open the sockets (in the calling thread's network namespace) and start
        delivering datagrams from `loop` (default: the running loop)."""
        loop = loop or asyncio.get_running_loop()
        try:
            self._open()
        except OSError as e:
            self.close()
            raise MediaError(f"{self.kind}: cannot open on {self.interface}: {e.strerror or e}") \
                from None
        except MediaError:
            self.close()
            raise
        for s in (self.wsock, self.rsock):
            s.setblocking(False)
        self._loop = loop
        loop.add_reader(self.rsock.fileno(), self._readable)
        return self

    def close(self):
        if self._loop is not None and self.rsock is not None:
            try:
                self._loop.remove_reader(self.rsock.fileno())
            except (ValueError, RuntimeError):
                pass   # the loop is already closed: nothing is watching
        self._loop = None
        for s in (self.wsock, self.rsock):
            if s is not None:
                s.close()
        self.wsock = self.rsock = None

    def _open(self):
        raise NotImplementedError

    # --- traffic ---
    def send(self, data):
        """Send one packet; False (counted, logged once per failure spell) if the
        kernel refuses it."""
        try:
            sent = self.wsock.sendto(data, self.destination)
        except OSError as e:
            self._send_failed(len(data), e)
            return False
        if sent != len(data):
            self._send_failed(len(data), OSError(errno.EMSGSIZE, "short write"))
            return False
        self.tx_packets += 1
        self._send_failing = False
        return True

    def _send_failed(self, length, err):
        self.tx_errors += 1
        if not self._send_failing:
            self._send_failing = True
            self.log.critical("glib: %s_write: Unable to send HBcomm packet %s %s:%d len=%d [-1]: %s",
                              self.kind, self.interface, self.destination[0], self.destination[1],
                              length, err.strerror or err)

    def _readable(self):
        for _ in range(RECV_BATCH):
            try:
                data, source = self.rsock.recvfrom(RECV_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.rx_errors += 1
                self.log.critical("glib: %s: error receiving from socket: %s", self.kind,
                                  e.strerror or e)
                return
            if not data:
                continue
            self.rx_packets += 1
            self.last_rx = time.monotonic()
            try:
                self.on_datagram(data, source, self)
            except Exception:   # a handler bug must not stop heartbeats on this link
                self.log.exception("%s %s: datagram handler failed", self.kind, self.interface)
