"""Every packet two real heartbeat 3.0.6 daemons exchanged (and the hand-made classic
ones fed to one) decodes, authenticates, re-encodes to the same bytes, and maps onto
our message kinds field for field."""
import functools
import os
import struct

import pytest

from heartbeat_py.wire import (BadAuth, Keyring, WireFormat, decode_packet, detect_format,
                               encode_packet, parse, read_envelope, stamp)
from heartbeat_py.wire import classic, netstring
from heartbeat_py.wire.auth import digest

REF = os.environ.get("HB_REFERENCE_DIR", "/work/shared/reference/heartbeat-3.0.6")
KEYRING = Keyring.single(3, "md5", b"Hello!")


def read_pcap(path):
    """UDP payloads of an Ethernet pcap, as (timestamp, src, payload)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    _, _, _, _, _, _, linktype = struct.unpack(endian + "IHHiIII", data[:24])
    assert linktype == 1, "only Ethernet captures"
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17:   # IPv4, UDP
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        src = ".".join(map(str, ip[12:16]))
        udp_len, = struct.unpack(">H", ip[ihl + 4:ihl + 6])
        out.append((sec + usec / 1e6, src, ip[ihl + 8:ihl + udp_len]))
    return out


@functools.cache
def packets(name):
    path = os.path.join(REF, name)
    if not os.path.exists(path):
        pytest.skip(f"reference capture {path} not present")
    return read_pcap(path)


def netstring_packets():
    return [p for _, _, p in packets("hb_netstring.pcap")]


def test_captures_hold_what_the_readme_says():
    ns = netstring_packets()
    cl = [p for _, _, p in packets("hb_classic.pcap")]
    assert len(ns) > 200 and all(detect_format(p) == WireFormat.NETSTRING for p in ns)
    assert sum(detect_format(p) == WireFormat.CLASSIC for p in cl) == 16


def test_every_netstring_packet_decodes_and_reencodes_identically():
    for pkt in netstring_packets():
        msg = decode_packet(pkt, KEYRING)
        assert encode_packet(msg, KEYRING, WireFormat.NETSTRING) == pkt


def test_both_authentications_of_every_netstring_packet_verify():
    for pkt in netstring_packets():
        body_end = pkt.index(b"%%%\n") + 4
        body, trailer = pkt[:body_end], pkt[body_end:]
        hexdigest = digest("md5", b"Hello!", body)
        assert trailer == b"%d:3 %s," % (len(hexdigest) + 2, hexdigest.encode())
        msg, _ = netstring.decode_body(body)
        inner = digest("md5", b"Hello!", classic.render_fields(msg, skip_auth=True))
        assert msg["auth"] == "3 " + inner


def classic_capture():
    """(packet, time) pairs; the log says nodeA refused 8 packets as `failed
    authentication` at 06:40:36..43 UTC: those were signed with another key."""
    return [(p, t) for t, _, p in packets("hb_classic.pcap")]


def test_classic_capture_decodes_except_the_wrong_key_packets():
    refused = []
    for pkt, t in classic_capture():
        try:
            msg = decode_packet(pkt, KEYRING)
        except BadAuth:
            refused.append(t)
            continue
        assert encode_packet(msg, KEYRING, detect_format(pkt)) == pkt
    day = 86400
    assert [int(t) % day for t in refused] == [
        6 * 3600 + 40 * 60 + s for s in range(36, 44)]


def test_classic_packets_reencode_as_classic_and_carry_no_uuid():
    good = [p for p, _ in classic_capture() if p.startswith(b">>>")]
    ok = 0
    for pkt in good:
        try:
            msg = decode_packet(pkt, KEYRING)
        except BadAuth:
            continue
        assert "srcuuid" not in msg
        assert encode_packet(msg, KEYRING, WireFormat.CLASSIC) == pkt
        ok += 1
    assert ok == 8


def test_wrong_key_refuses_every_packet():
    wrong = Keyring.single(3, "md5", b"Hello?")
    for pkt in netstring_packets()[:40]:
        with pytest.raises(BadAuth):
            decode_packet(pkt, wrong)


def test_unknown_key_index_is_refused():
    other = Keyring.single(1, "md5", b"Hello!")
    with pytest.raises(BadAuth, match="index 3"):
        decode_packet(netstring_packets()[0], other)


def test_every_captured_message_is_rebuilt_by_its_kind_and_envelope():
    """Kinds + stamp give the exact field order 3.0.6 sends."""
    seen = set()
    for pkt in netstring_packets() + [p for p, _ in classic_capture()]:
        try:
            msg = decode_packet(pkt, KEYRING)
        except BadAuth:
            continue
        kind = parse(msg)
        assert kind is not None, msg.type
        seen.add(msg.type)
        rebuilt = stamp(kind.to_message(), read_envelope(msg), dest_uuid=msg.get("destuuid"))
        assert rebuilt == msg.without("auth"), msg.type
        assert encode_packet(rebuilt, KEYRING, detect_format(pkt)) == pkt
    assert seen == {"status", "reqnodes", "repnodes", "NS_ackmsg", "starting", "resource",
                    "ip-request-resp", "stonith", "ask_resources", "hb_takeover",
                    "shutdone"}
