"""Pure parts: ICE credentials and message parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from signaling import SignalingConfig
from signaling.errors import BadMessage, UnknownType
from signaling.ice import ice_servers
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


def test_parse_valid_and_invalid() -> None:
    assert parse('{"type": "join", "resume_token": null}') == Join()
    assert parse('{"type": "state", "hand": true, "id": 3}') == State(hand=True, id=3)
    assert parse('{"type": "candidate", "to": "p1", "candidate": null}') == Candidate("p1", None)
    with pytest.raises(UnknownType) as unknown:
        parse('{"type": "x", "id": "a"}')
    assert unknown.value.msg_id == "a"
    with pytest.raises(BadMessage):
        parse('{"type": "offer", "to": "p1", "sdp": "' + "x" * 60_001 + '"}')
