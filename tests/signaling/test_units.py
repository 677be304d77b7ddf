"""Pure parts: ICE credentials, message parsing and the bus operations."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from signaling import SignalingConfig, ops
from signaling.errors import BadMessage, UnknownType
from signaling.ice import IceServers, ice_servers
from signaling.messages import Candidate, Join, State, parse


def test_turn_rest_credentials() -> None:
    config = SignalingConfig(stun_urls=("stun:stun.example:3478",),
                             turn_urls=("turn:turn.example:3478?transport=udp",),
                             turn_secret="s3cret", turn_ttl_seconds=600)
    stun, turn = ice_servers(config, "u1", now=1_000_000)
    assert stun == {"urls": ["stun:stun.example:3478"]}
    assert turn["username"] == "1000600:u1"
    expected = hmac.new(b"s3cret", b"1000600:u1", hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert ice_servers(SignalingConfig(), "u1") == []


def test_turn_credentials_are_minted_once_for_half_their_lifetime() -> None:
    config = SignalingConfig(turn_urls=("turn:turn.example:3478",), turn_secret="s3cret",
                             turn_ttl_seconds=600)
    now = [1_000_000.0]
    ice = IceServers(config, clock=lambda: now[0])
    first = ice.for_user("u1")
    assert first[0]["username"] == "1000600:u1"
    now[0] += 299
    assert ice.for_user("u1") == first
    assert ice.for_user("u2")[0]["username"] == "1000899:u2"
    now[0] += 1
    assert ice.for_user("u1")[0]["username"] == "1000900:u1"
    static = IceServers(SignalingConfig(turn_urls=("turn:t",), turn_username="a",
                                        turn_credential="b"))
    assert static.for_user("u1") == [{"urls": ["turn:t"], "username": "a", "credential": "b"}]


def test_bus_operations_keep_their_wire_form() -> None:
    frame = {"type": "chat", "text": "x"}
    relay = ops.encode(ops.Relay(to="p1", frame=frame), room_id="r", node="n1")
    assert relay == {"op": "relay", "room": "r", "node": "n1", "to": "p1", "frame": frame}
    switched = ops.encode(ops.RecordingSwitched(on=False, frame=frame), room_id="r", node="n1")
    assert switched == {"op": "recording", "room": "r", "node": "n1", "on": False,
                        "frame": frame}
    samples: list[ops.Op] = [
        ops.PeerSeen(peer={"peer_id": "p1"}), ops.PeerGone(peer_id="p1", reason="kicked"),
        ops.Relay(to="p1", frame=frame), ops.Broadcast(frame=frame),
        ops.RecordingSwitched(on=True, frame=frame, request=frame), ops.Hello(),
        ops.Ended(by=None), ops.Kick(user_id="u1", by="p2"), ops.Admit(to="p1", by="p2"),
        ops.Deny(to="p1", by="p2"), ops.Replace(to="p1"),
        ops.Ended(by=None, reason="cancelled"), ops.Kick(user_id="u1", reason="uninvited"),
        ops.ToLobby(user_id="u1", by="p2"), ops.Disconnect(user_id="u1", reason="disabled"),
        ops.Spotlight(peer_id="p1", kind="screen", by="p2"), ops.Spotlight(by="p2"),
    ]
    assert {type(op) for op in samples} == set(ops.OPS.values())
    for op in samples:
        assert ops.decode(ops.encode(op, room_id="r", node="n1")) == op
    assert ops.decode({"op": "unknown", "room": "r"}) is None


def test_parse_valid_and_invalid() -> None:
    assert parse('{"type": "join", "resume_token": null}') == Join()
    assert parse('{"type": "state", "hand": true, "id": 3}') == State(hand=True, id=3)
    assert parse('{"type": "candidate", "to": "p1", "candidate": null}') == Candidate("p1", None)
    with pytest.raises(UnknownType) as unknown:
        parse('{"type": "x", "id": "a"}')
    assert unknown.value.msg_id == "a"
    with pytest.raises(BadMessage):
        parse('{"type": "offer", "to": "p1", "sdp": "' + "x" * 60_001 + '"}')
