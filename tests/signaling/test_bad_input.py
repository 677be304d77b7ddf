"""Bad frames get an `error` and the socket stays open; repeated abuse closes it; a fuzzer
cannot disturb a working pair."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sighelpers import FAST, Harness, identity, running

from signaling import CloseCode, SignalingConfig

MATRIX: list[tuple[str, str, Any]] = [
    ("{not json", "bad-message", None),
    ("[1, 2]", "bad-message", None),
    ('"text"', "bad-message", None),
    ('{"id": 1}', "bad-message", 1),
    ('{"type": 5, "id": 2}', "bad-message", 2),
    ('{"type": "dance", "id": 3}', "unknown-type", 3),
    ('{"type": "offer", "sdp": "v=0", "id": 4}', "bad-message", 4),
    ('{"type": "offer", "to": 7, "sdp": "v=0", "id": 5}', "bad-message", 5),
    ('{"type": "state", "audio": "yes", "id": 6}', "bad-message", 6),
    ('{"type": "chat", "text": "", "id": 7}', "bad-message", 7),
    ('{"type": "chat", "text": "   ", "id": 8}', "bad-message", 8),
    ('{"type": "candidate", "to": "x", "candidate": 1, "id": 9}', "bad-message", 9),
    ('{"type": "mute", "peer_id": "x", "kind": "smell", "id": 10}', "bad-message", 10),
    ('{"type": "record", "on": 1, "id": 11}', "bad-message", 11),
    ('{"type": "join", "resume_token": 5, "id": 12}', "bad-message", 12),
    ('{"type": "join", "id": 13}', "already-joined", 13),
    ('{"type": "kick", "peer_id": "x", "id": "k"}', "forbidden", "k"),
    ('{"type": "offer", "to": "ghost", "sdp": "v=0", "id": 14}', "peer-not-found", 14),
]


@pytest.mark.parametrize(("raw", "code", "msg_id"), MATRIX)
async def test_bad_frame_gets_error_and_socket_stays(app: Harness, raw: str, code: str,
                                                     msg_id: Any) -> None:
    client = await app.connect("r1", identity("a"))
    await client.send_raw(raw)
    error = await client.expect("error")
    assert error["code"] == code and error.get("id") == msg_id and error["message"]
    await client.send(type="ping", id="alive")
    await client.expect("pong")


async def test_messages_before_join(app: Harness) -> None:
    client = await app.connect("r1", identity("a"), join=False)
    await client.send(type="chat", text="hi", id=1)
    assert await client.expect("error") == {"type": "error", "code": "not-joined",
                                            "message": "send join first", "id": 1}
    await client.send(type="ping")
    await client.expect("pong")
    await client.send(type="join")
    await client.expect("welcome")


async def test_big_and_binary_frames(app: Harness) -> None:
    client = await app.connect("r1", identity("a"))
    await client.send(type="chat", text="x" * (70 * 1024), id=1)
    assert (await client.expect("error"))["code"] == "frame-too-large"
    await client.ws.send_bytes(b"\x00\x01")
    assert (await client.expect("error"))["code"] == "bad-message"
    await client.send(type="ping")
    await client.expect("pong")


async def test_flood_is_rate_limited_then_closed() -> None:
    config = dataclasses.replace(FAST, rate_per_second=5, rate_burst=5, abuse_limit=20)
    async with running(config) as app:
        client = await app.connect("r1", identity("a"))
        for _ in range(100):
            if client.close_code is not None:
                break
            await client.send(type="ping")
        assert await client.closed() == CloseCode.ABUSE
        assert "rate-limited" in [f.get("code") for f in client.frames]


async def test_repeated_abuse_closes() -> None:
    async with running(dataclasses.replace(FAST, abuse_limit=10)) as app:
        client = await app.connect("r1", identity("a"))
        for _ in range(11):
            await client.send_raw("{oops")
        assert await client.closed() == CloseCode.ABUSE
        assert [f["code"] for f in client.frames if f["type"] == "error"] == ["bad-message"] * 11


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=10,
)
TYPES = ["join", "offer", "answer", "candidate", "state", "chat", "ping", "leave", "admit",
         "deny", "mute", "kick", "end", "record", "bogus"]
frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    json_values.map(lambda v: orjson.dumps(v).decode()),
    st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES)},
        optional={k: json_values for k in ("to", "sdp", "candidate", "text", "audio",
                                           "peer_id", "on", "kind", "id", "resume_token")},
    ).filter(lambda d: d["type"] not in ("leave", "end"))
    .map(lambda d: orjson.dumps(d).decode()),
)


@pytest.mark.slow
async def test_fuzz_while_a_pair_keeps_working() -> None:
    config = SignalingConfig(rate_per_second=1e6, rate_burst=10**6, abuse_limit=10**6)
    async with running(config) as app:
        a = await app.connect("r1", identity("a"))
        b = await app.connect("r1", identity("b"))
        fuzzer = await app.connect("r1", identity("f"))
        sent = 0

        @settings(max_examples=2000, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(frame=frames)
        def collect(frame: str) -> None:
            batch.append(frame)

        batch: list[str] = []
        collect()
        for frame in batch:
            await fuzzer.send_raw(frame)
            sent += 1
            if sent % 500 == 0:
                sdp, text = f"v=0 {sent}", f"still here {sent}"
                await a.send(type="offer", to=b.peer_id, sdp=sdp)
                await b.expect("offer", lambda f, sdp=sdp: f["sdp"] == sdp)
                await b.send(type="chat", text=text)
                await a.expect("chat", lambda f, text=text: f["text"] == text)
        assert sent >= 1000
        await fuzzer.send(type="ping", id="end")
        await fuzzer.expect("pong", lambda f: f.get("id") == "end", timeout=60)
        assert fuzzer.close_code is None
        assert {p["peer_id"] for p in app.registry.snapshot("r1")} >= {a.peer_id, b.peer_id}
