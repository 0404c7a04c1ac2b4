"""Media on the loopback interface, and refusal of media lines we cannot serve."""
import asyncio
import logging
import os
import re
import socket

import pytest

from heartbeat_py.media import MediaError, Mcast, Ucast, media_from_directive

REF_LOG = os.path.join(os.environ.get("HB_REFERENCE_DIR", "/work/shared/reference/heartbeat-3.0.6"),
                       "ha-log.nodeA.txt")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="SO_BINDTODEVICE needs root")


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def make_logger():
    log = logging.getLogger(f"test-media-{id(object())}")
    log.propagate = False
    handler = Lines()
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    return log, handler.lines


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(loop, predicate, timeout=3.0):
    async def poll():
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.005)
    loop.run_until_complete(poll())


@pytest.fixture
def loop():
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@needs_root
def test_ucast_on_loopback_delivers_with_source_and_logs_like_306(loop):
    log, lines = make_logger()
    got = []
    port = free_udp_port()
    medium = Ucast("lo", "127.0.0.1", port, lambda d, src, m: got.append((d, src, m)), log)
    medium.start(loop)
    try:
        assert medium.send(b"###\nhello")
        wait_for(loop, lambda: got)
        data, (ip, sport), who = got[0]
        assert (data, ip, who) == (b"###\nhello", "127.0.0.1", medium)
        assert sport == medium.wsock.getsockname()[1] and sport != port
        assert (medium.rx_packets, medium.tx_packets, medium.name) == (1, 1, "lo")
        assert medium.last_rx is not None
        for s in (medium.wsock, medium.rsock):
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0") == b"lo"
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert medium.rsock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
        assert medium.wsock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 0x10
    finally:
        medium.close()
    if os.path.exists(REF_LOG):
        with open(REF_LOG) as f:
            ref = [re.sub(r".*info: ", "", line.rstrip("\n")) for line in f
                   if "glib: ucast" in line][:7]
        ref = [r.replace("eth0", "lo").replace("10.99.0.2", "127.0.0.1")
               .replace("port 694", f"port {port}") for r in ref]
        assert lines == ref


@needs_root
def test_a_failing_handler_does_not_stop_the_link(loop):
    got = []

    def handler(data, src, medium):
        got.append(data)
        if data == b"bad":
            raise RuntimeError("bug in the daemon")
    log, lines = make_logger()
    medium = Ucast("lo", "127.0.0.1", free_udp_port(), handler, log).start(loop)
    try:
        medium.send(b"bad")
        medium.send(b"good")
        wait_for(loop, lambda: b"good" in got)
        assert any("handler failed" in line for line in lines)
    finally:
        medium.close()


@needs_root
def test_unknown_interface_is_a_clear_error(loop):
    medium = Ucast("nosuchif0", "127.0.0.1", free_udp_port(), lambda *a: None)
    with pytest.raises(MediaError, match=r"SO_BINDTODEVICE\(w\) on nosuchif0: No such device"):
        medium.start(loop)
    assert medium.wsock is None and medium.rsock is None


@needs_root
def test_send_failure_is_counted_and_logged_once(loop):
    log, lines = make_logger()
    medium = Ucast("lo", "127.0.0.1", free_udp_port(), lambda *a: None, log).start(loop)
    try:
        # more than any UDP datagram can hold: the kernel refuses it on the spot
        results = [medium.send(b"x" * 70000) for _ in range(3)]
        assert results == [False] * 3 and medium.tx_errors == 3
        failures = [line for line in lines if "Unable to send HBcomm packet lo 127.0.0.1" in line]
        assert len(failures) == 1 and "len=70000 [-1]: Message too long" in failures[0]
        assert medium.send(b"small") and medium.tx_packets == 1
        medium.send(b"x" * 70000)
        assert len([line for line in lines if "Unable to send" in line]) == 2
    finally:
        medium.close()


def test_media_lines_build_the_right_media():
    cb = lambda *a: None   # noqa: E731
    u, = media_from_directive("ucast", ["eth0", "10.0.0.2"], cb, udpport=695)
    assert (u.kind, u.interface, u.destination) == ("ucast", "eth0", ("10.0.0.2", 695))
    b = media_from_directive("bcast", ["eth0", "eth1"], cb)
    assert [(m.kind, m.name, m.port) for m in b] == [("bcast", "eth0", 694), ("bcast", "eth1", 694)]
    m, = media_from_directive("mcast", ["eth1", "225.0.0.1", "6940", "1", "0"], cb)
    assert (m.destination, m.ttl, m.loop_back) == (("225.0.0.1", 6940), 1, 0)


@pytest.mark.parametrize("kind,args,message", [
    ("serial", ["/dev/ttyS0"], "serial: serial links are not supported by this heartbeat; "
                               "use ucast, bcast or mcast"),
    ("ping", ["10.0.0.1"], "ping: this medium is not supported"),
    ("ucast", ["eth0"], r"ucast: \[eth0\] missing target IP address/hostname"),
    ("ucast", ["eth0", "no.such.host.invalid"], "ucast: cannot resolve hostname"),
    ("mcast", ["eth0", "10.0.0.1", "694", "1", "0"], r"mcast \[eth0\] bad addr \[10.0.0.1\]"),
    ("mcast", ["eth0", "225.0.0.1", "694", "5", "0"], r"mcast \[eth0\] bad ttl \[5\]"),
    ("mcast", ["eth0", "225.0.0.1", "694", "1", "2"], r"mcast \[eth0\] bad loop \[2\]"),
    ("mcast", ["eth0", "225.0.0.1", "x", "1", "0"], r"mcast \[eth0\] bad port \[x\]"),
    ("mcast", ["eth0", "225.0.0.1", "694"], r"mcast \[eth0\] missing ttl"),
    ("bcast", [], "bcast: missing interface"),
    ("carrier-pigeon", [], "carrier-pigeon: unknown medium"),
])
def test_bad_or_unsupported_media_lines_are_refused(kind, args, message):
    with pytest.raises(MediaError, match=message):
        media_from_directive(kind, args, lambda *a: None)


def test_mcast_needs_an_ipv4_interface(loop):
    medium = Mcast("nosuchif0", "239.1.1.1", 694, 1, 0, lambda *a: None)
    with pytest.raises(MediaError, match=r"IP interface \[nosuchif0\] does not exist"):
        medium.start(loop)


def test_media_from_parsed_config():
    from heartbeat_py.config.media import Medium
    cb = lambda *a: None   # noqa: E731
    from heartbeat_py.media import medium_from_config
    u = medium_from_config(Medium("ucast", 3, interface="eth0", peer="10.0.0.2", port=694), cb)
    assert (u.kind, u.destination) == ("ucast", ("10.0.0.2", 694))
    m = medium_from_config(Medium("mcast", 4, interface="eth0", group="239.0.0.9", port=700,
                                  ttl=1, loop=0), cb)
    assert (m.kind, m.destination, m.ttl) == ("mcast", ("239.0.0.9", 700), 1)
    assert medium_from_config(Medium("bcast", 5, interface="eth1", port=694), cb).name == "eth1"
    with pytest.raises(MediaError, match="serial links are not supported"):
        medium_from_config(Medium("serial", 6, device="/dev/ttyS0", baud=19200), cb)
