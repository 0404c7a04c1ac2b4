"""Packets in and out: symmetric encoding, and every kind of bad input refused with
our own typed errors, never anything else."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_py.wire import (MAX_PACKET, AuthKey, BadAuth, FieldType, Garbled, Keyring,
                               Message, TooLarge, Truncated, WireError, WireFormat,
                               decode_packet, encode_packet)
from heartbeat_py.wire import classic, netstring

from .test_wire_pcap import KEYRING, classic_capture, netstring_packets

STATUS = Message.of(("t", "status"), ("st", "active"), ("src", "nodea"),
                    ("srcuuid", b"\x86_T\x03\x0b$O\x8a\x80g\x00\x00\xc5\xdd\x8d\x95"),
                    ("seq", "2a"), ("hg", "6b06821c"), ("ts", "6b06821d"), ("ttl", "3"))


# ------------------------------------------------------------------ Message
def test_message_keeps_order_and_set_replaces_in_place():
    m = Message.of(t="status", st="up", seq="1")
    m.set("st", "active").set("ttl", "3")
    assert m.names() == ["t", "st", "seq", "ttl"]
    assert m["st"] == "active" and m.type == "status" and "ttl" in m
    assert m.field("seq").type == FieldType.STRING
    m.add("blob", b"\x00\x01")
    assert m.field("blob").type == FieldType.BINARY
    assert m.without("blob").names() == ["t", "st", "seq", "ttl"]
    with pytest.raises(KeyError):
        m["nope"]


@pytest.mark.parametrize("name", ["", "a=b", "a\nb", "(1)x", "nul\0"])
def test_message_refuses_names_that_cannot_travel(name):
    with pytest.raises(ValueError):
        Message.of((name, "v"))


def test_message_refuses_nul_in_strings():
    with pytest.raises(ValueError):
        Message.of(("t", "a\0b"))


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("fmt,inner", [(WireFormat.NETSTRING, True),
                                       (WireFormat.NETSTRING, False),
                                       (WireFormat.CLASSIC, True)])
def test_encode_then_decode_gives_the_message_back(fmt, inner):
    pkt = encode_packet(STATUS, KEYRING, fmt, inner_auth=inner)
    got = decode_packet(pkt, KEYRING)
    assert got.without("auth") == STATUS
    assert ("auth" in got) == inner
    assert encode_packet(got, KEYRING, fmt, inner_auth=inner) == pkt


def test_classic_carries_binary_as_base64():
    pkt = encode_packet(STATUS, KEYRING, WireFormat.CLASSIC)
    assert b"\n(1)srcuuid=hl9UAwskT4qAZwAAxd2NlQ==\n" in pkt
    assert pkt.startswith(b">>>\nt=status\n") and pkt.endswith(b"\n<<<\n")


def test_netstring_without_inner_auth_is_what_msgfmt_netstring_sends():
    pkt = encode_packet(STATUS, KEYRING, WireFormat.NETSTRING, inner_auth=False)
    assert b"auth=" not in pkt and pkt.endswith(b",") and b"%%%\n34:3 " in pkt


@pytest.mark.parametrize("method,key", [("crc", b""), ("md5", b"k"), ("sha1", b"secret")])
def test_each_method_signs_and_checks(method, key):
    ring = Keyring.single(1, method, key)
    pkt = encode_packet(STATUS, ring)
    assert decode_packet(pkt, ring).without("auth") == STATUS
    with pytest.raises(BadAuth):
        decode_packet(pkt, Keyring.single(1, "sha1" if method != "sha1" else "md5", b"k"))


def test_any_key_in_authkeys_is_accepted_but_the_active_one_signs():
    old = Keyring.single(1, "sha1", b"old")
    both = Keyring(2, {1: AuthKey(1, "sha1", b"old"), 2: AuthKey(2, "md5", b"new")})
    assert decode_packet(encode_packet(STATUS, old), both)
    assert b"%%%\n34:2 " in encode_packet(STATUS, both)


# ------------------------------------------------------------------ refusals
def test_every_proper_prefix_of_a_real_packet_is_truncated():
    samples = netstring_packets()[:2] + [p for p, _ in classic_capture()
                                         if p.startswith(b">>>")][:1]
    for pkt in samples:
        for cut in range(len(pkt)):
            with pytest.raises(Truncated):
                decode_packet(pkt[:cut], KEYRING)


def test_oversized_packet_is_refused_before_parsing():
    with pytest.raises(TooLarge):
        decode_packet(b"###\n" + b"x" * MAX_PACKET, KEYRING)
    with pytest.raises(TooLarge):
        encode_packet(Message.of(t="x", big="y" * MAX_PACKET), KEYRING)


def test_trailing_nul_is_accepted_and_other_junk_is_not():
    pkt = netstring_packets()[0]
    assert decode_packet(pkt + b"\0", KEYRING)
    with pytest.raises(Garbled):
        decode_packet(pkt + b"x", KEYRING)
    cl = encode_packet(STATUS, KEYRING, WireFormat.CLASSIC)
    assert decode_packet(cl + b"\0", KEYRING)
    with pytest.raises(Garbled):
        decode_packet(cl + b"junk", KEYRING)


def test_classic_packet_without_auth_is_refused():
    with pytest.raises(BadAuth, match="without auth"):
        decode_packet(classic.encode(STATUS), KEYRING)


def test_tampered_inner_auth_is_refused_even_with_a_good_trailer():
    msg = STATUS.copy().add("auth", "3 00000000000000000000000000000000")
    body = netstring.encode_body(msg)
    token = KEYRING.sign(body).encode()
    with pytest.raises(BadAuth):
        decode_packet(body + b"%d:%s," % (len(token), token), KEYRING)


def test_changed_byte_in_a_signed_packet_fails_authentication():
    pkt = bytearray(netstring_packets()[0])
    pkt[pkt.index(b"st=init") + 3] = ord("I")
    with pytest.raises(BadAuth):
        decode_packet(bytes(pkt), KEYRING)


@pytest.mark.parametrize("data", [
    b"hello", b"###\n5:(9)a=b,%%%\n", b"###\n5:(0)ab,,%%%\n", b"###\nx:(0)a=b,%%%\n",
    b"###\n4:(0)a=b,%%%\n", b"###\n99999999999:(0)a=b,%%%\n", b">>>\nno equals\n<<<\n",
    b">>>\n(7)a=b\n<<<\n", b">>>\n(1)a=***\n<<<\n", b"###\n7:(0)a=b\0c,%%%\n1:x,",
])
def test_malformed_packets_are_garbled(data):
    with pytest.raises(Garbled):
        decode_packet(data, KEYRING)


def test_nesting_beyond_heartbeats_depth_is_garbled():
    shallow = _nest(5)
    token = KEYRING.sign(shallow).encode()
    msg = decode_packet(shallow + b"%d:%s," % (len(token), token), KEYRING)
    assert msg.field("n").type == FieldType.STRUCT
    with pytest.raises(Garbled, match="too deep"):
        decode_packet(_nest(20) + b"4:3 0,", KEYRING)


def _nest(levels):
    body = b"###\n6:(0)t=x,%%%\n"
    for _ in range(levels):
        item = b"(2)n=" + body
        body = b"###\n%d:%s,%%%%%%\n" % (len(item), item)
    return body


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_wire_errors(data):
    try:
        decode_packet(data, KEYRING)
    except WireError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 10 ** 6), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)),
                                         min_size=1, max_size=4))
def test_damaged_real_packets_raise_only_wire_errors(which, edits):
    pool = netstring_packets()
    pkt = bytearray(pool[which % len(pool)])
    for pos, byte in edits:
        pkt[pos % len(pkt)] = byte
    try:
        decode_packet(bytes(pkt), KEYRING)
    except WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"###\n", b">>>\n"]))
def test_garbage_after_a_valid_header_raises_only_wire_errors(tail, head):
    try:
        decode_packet(head + tail, KEYRING)
    except WireError:
        pass
