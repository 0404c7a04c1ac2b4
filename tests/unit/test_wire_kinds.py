"""Message kinds, control fields and sender screening."""
import pytest

from heartbeat_py.wire import (Ack, AskResources, Envelope, Garbled, IpRequest, IpRequestResp,
                               Message, NakRexmit, RepNodes, ReqNodes, Replay, Resources,
                               RexmitRequest, ShutDone, Starting, Status, Stonith, Takeover,
                               UnknownNode, kinds, parse, read_envelope, screen, stamp)

ENV = Envelope(src="nodea", hg=0x6B06821C, ts=0x6B06821D, ttl=3, seq=0x2A,
               ld="0.10 0.20 0.30 1/100 42", srcuuid=b"U" * 16)

ALL = [
    Status("up", 0x1B58), Status("active", 5000, None), Ack("nodeb", 0x12),
    RexmitRequest("nodeb", 84, 85), NakRexmit(0x54, "nodeb", "seqno too low"),
    ReqNodes("nodeb"), RepNodes("nodeb", ("nodea", "nodeb")), Starting(),
    Resources.held("local", True), Resources("foreign", info="mach_down"),
    AskResources("all", "me"), IpRequest("10.0.0.1"),
    IpRequestResp("nodea", "10.0.0.1/24/eth0", True), Takeover("all"), ShutDone(),
    Stonith("nodeb", "unneeded"), kinds.QueryClientStatus("ipfail", "12343", "nodeb"),
    kinds.ClientStatus("nodea", "ipfail", "12343", "offline"),
]


@pytest.mark.parametrize("kind", ALL, ids=lambda k: type(k).__name__)
def test_each_kind_survives_a_round_trip(kind):
    assert parse(kind.to_message()) == kind


def test_wire_renderings_match_heartbeat():
    assert Status("init", 7000).to_message() == Message.of(
        ("t", "status"), ("st", "init"), ("dt", "1b58"), ("protocol", "1"))
    assert RexmitRequest("nodeb", 84, 86).to_message()["firstseq"] == "84"   # decimal
    assert Ack("nodeb", 84).to_message()["ackseq"] == "54"                   # hex
    assert RepNodes("nodeb", ("nodea", "nodeb")).to_message() == Message.of(
        ("dest", "nodeb"), ("t", "repnodes"), ("nodelist", "nodea nodeb "),
        ("delnodelist", " "))
    assert Resources.held("none", False).to_message().names() == [
        "t", "rsc_hold", "rtype", "isstable"]
    assert IpRequestResp("a", "ip", False).to_message()["weown"] == "no"
    # as a 3.0.6 node answers `cl_status clientstatus` (captured between two of them)
    assert kinds.ClientStatus("alpha", "ipfail", "12343", "offline").to_message() == Message.of(
        ("t", "respond-cstatus"), ("dest", "alpha"), ("result", "OK"), ("cn", "ipfail"),
        ("to_id", "12343"), ("cs", "offline"))


def test_unknown_types_parse_to_none_and_broken_known_ones_are_garbled():
    assert parse(Message.of(t="hbapi-clstat")) is None
    with pytest.raises(Garbled, match="without st"):
        parse(Message.of(t="status"))
    with pytest.raises(Garbled, match="bad ackseq"):
        parse(Message.of(t="NS_ackmsg", dest="a", ackseq="zz"))
    with pytest.raises(Garbled):
        Ack.from_message(Message.of(t="status"))


def test_stamp_appends_control_fields_in_heartbeats_order():
    msg = stamp(Status("up", 5000).to_message(), ENV)
    assert msg.names() == ["t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts",
                           "ld", "ttl"]
    assert (msg["seq"], msg["hg"], msg["ttl"]) == ("2a", "6b06821c", "3")
    assert read_envelope(msg) == ENV


def test_stamp_gives_ns_types_no_seq_or_ld_and_adds_dest_uuid():
    msg = stamp(Ack("nodeb", 8).to_message(), ENV, dest_uuid=b"B" * 16)
    assert msg.names() == ["t", "dest", "ackseq", "destuuid", "src", "srcuuid", "hg", "ts",
                           "ttl"]
    env = read_envelope(msg)
    assert env.seq is None and env.ld is None
    assert "destuuid" not in stamp(Starting().to_message(), ENV, dest_uuid=b"B" * 16)


def test_stamp_replaces_fields_a_script_already_set():
    msg = Message.of(("t", "resource"), ("src", "someone"), ("rsc_hold", "foreign"))
    stamp(msg, ENV)
    assert msg.names()[:3] == ["t", "src", "rsc_hold"] and msg["src"] == "nodea"


def test_read_envelope_refuses_unusable_control_fields():
    good = stamp(Starting().to_message(), ENV)
    for name, value in [("seq", "xyz"), ("seq", "0"), ("ts", "later"), ("ttl", "x")]:
        with pytest.raises(Garbled):
            read_envelope(good.copy().set(name, value))
    with pytest.raises(Garbled):
        read_envelope(good.without("src"))
    with pytest.raises(Garbled, match="without seq"):
        read_envelope(good.without("seq"))
    assert read_envelope(good.without("hg")).hg == 0


def test_screen_refuses_strangers_unless_autojoin():
    env = read_envelope(stamp(Starting().to_message(), ENV))
    screen(env, "starting", ["nodeA", "nodeB"])
    with pytest.raises(UnknownNode, match=r"bad node \[nodea\]"):
        screen(env, "starting", ["nodeb"])
    screen(env, "starting", ["nodeb"], autojoin=True)


def test_screen_refuses_lower_generation_except_for_ns_types():
    env = read_envelope(stamp(Starting().to_message(), ENV))
    screen(env, "starting", ["nodea"], last_generation=ENV.hg)
    with pytest.raises(Replay, match=r"\[gen = 1795588636, curgen = 1795588637\]"):
        screen(env, "starting", ["nodea"], last_generation=ENV.hg + 1)
    screen(env, "NS_ackmsg", ["nodea"], last_generation=ENV.hg + 1)


def test_keyring_from_parsed_authkeys():
    from heartbeat_py.config.authkeys import parse_authkeys
    from heartbeat_py.wire import Keyring, decode_packet, encode_packet
    parsed = parse_authkeys("auth 2\n1 crc\n2 sha1 s3cret\n", mode=0o600)
    ring = Keyring.from_authkeys(parsed)
    assert ring.active == 2 and set(ring.keys) == {1, 2}
    pkt = encode_packet(Message.of(t="x"), ring)
    assert b"%%%\n42:2 " in pkt          # index 2, 40 hex digits of sha1
    assert decode_packet(pkt, ring)["t"] == "x"
