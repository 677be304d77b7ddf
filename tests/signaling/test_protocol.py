"""The protocol end to end over real sockets: join, relay, state, chat, lobby, moderation,
resume, replace, limits and authorization."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sighelpers import FAST, Harness, identity, running

from signaling import (
    ChatPosted,
    CloseCode,
    PeerJoined,
    PeerLeft,
    RoomEnded,
    SignalingConfig,
    StateChanged,
)


async def test_two_peers_meet_and_relay(app: Harness) -> None:
    a = await app.connect("r1", identity("a", moderator=True))
    assert a.welcome["peers"] == [] and a.welcome["role"] == "moderator"
    assert a.welcome["recording"] is False and a.welcome["resume_token"]
    b = await app.connect("r1", identity("b", title="TS.BS"))
    assert b.welcome["role"] == "participant"
    [seen] = b.welcome["peers"]
    assert seen["peer_id"] == a.peer_id and seen["name"] == "BS. a"
    assert seen["facility"] and seen["audio"] is True and seen["hand"] is False
    joined = await a.expect("peer-joined")
    assert joined["peer"]["peer_id"] == b.peer_id and joined["peer"]["title"] == "TS.BS"

    await b.send(type="offer", to=a.peer_id, sdp="v=0 offer", id=1)
    assert await a.expect("offer") == {"type": "offer", "from": b.peer_id, "sdp": "v=0 offer"}
    await a.send(type="answer", to=b.peer_id, sdp="v=0 answer")
    assert (await b.expect("answer"))["from"] == a.peer_id
    cand = {"candidate": "candidate:1 1 UDP 1 192.0.2.2 5000 typ host", "sdpMid": "0",
            "sdpMLineIndex": 0}
    await b.send(type="candidate", to=a.peer_id, candidate=cand)
    assert (await a.expect("candidate"))["candidate"] == cand
    await b.send(type="candidate", to=a.peer_id, candidate=None)
    assert (await a.expect("candidate"))["candidate"] is None

    await b.send(type="offer", to="nobody", sdp="v=0", id=9)
    error = await b.expect("error")
    assert error["code"] == "peer-not-found" and error["id"] == 9

    await b.send(type="ping", id="x")
    assert await b.expect("pong") == {"type": "pong", "id": "x"}

    await b.send(type="leave")
    assert await b.closed() == CloseCode.NORMAL
    left = await a.expect("peer-left")
    assert left == {"type": "peer-left", "peer_id": b.peer_id, "reason": "left"}
    left_events = await app.sink.wait_for(PeerLeft)
    assert left_events[0].peer_id == b.peer_id and left_events[0].time.tzinfo is not None
    assert len(await app.sink.wait_for(PeerJoined, 2)) == 2


async def test_state_and_chat(app: Harness) -> None:
    a = await app.connect("r1", identity("a"))
    b = await app.connect("r1", identity("b"))
    await b.send(type="state", audio=False, hand=True)
    state = await a.expect("state")
    assert state == {"type": "state", "peer_id": b.peer_id, "audio": False, "video": True,
                     "hand": True, "screen": False}
    [event] = await app.sink.wait_for(StateChanged)
    assert event.audio is False and event.hand is True
    await a.send(type="chat", text="Xin chào, mời BS trình bày ca bệnh")
    for client in (a, b):
        chat = await client.expect("chat")
        assert chat["from"] == a.peer_id and chat["name"] == "BS. a" and chat["time"]
        assert chat["text"].startswith("Xin chào")
    [posted] = await app.sink.wait_for(ChatPosted)
    assert posted.text.startswith("Xin chào") and posted.user_id == "a"
    await a.send(type="chat", text="x" * 2001, id=3)
    assert (await a.expect("error"))["code"] == "bad-message"
    c = await app.connect("r1", identity("c"))
    [pa, pb] = sorted(c.welcome["peers"], key=lambda p: p["user_id"])
    assert pb["audio"] is False and pb["hand"] is True


@pytest.mark.parametrize(
    ("room", "token_room", "close"),
    [("r1", "r2", CloseCode.FORBIDDEN), ("zz", None, CloseCode.UNKNOWN_ROOM)],
)
async def test_wrong_room_is_refused(app: Harness, room: str, token_room: str | None,
                                     close: int) -> None:
    app.auth.rooms.add("r1")
    token = app.auth.issue(token_room, identity("a")) if token_room else None
    client = await app.raw(room, token)
    assert await client.closed() == close
    assert client.frames == []


async def test_bad_tokens_and_origin(app: Harness) -> None:
    token = app.auth.issue("r1", identity("a"))
    first = await app.raw("r1", token)
    await first.send(type="join")
    await first.expect("welcome")
    reused = await app.raw("r1", token)
    assert await reused.closed() == CloseCode.UNAUTHENTICATED and reused.frames == []
    expired = await app.raw("r1", app.auth.issue("r1", identity("b"), ttl=-1))
    assert await expired.closed() == CloseCode.UNAUTHENTICATED
    none = await app.raw("r1")
    assert await none.closed() == CloseCode.UNAUTHENTICATED
    evil = await app.raw("r1", app.auth.issue("r1", identity("c")),
                         origin="https://evil.example")
    assert await evil.closed() == CloseCode.FORBIDDEN and evil.frames == []
    same = await app.raw("r1", app.auth.issue("r1", identity("d")),
                         origin=f"http://{app.server.host}:{app.server.port}")
    await same.send(type="join")
    await same.expect("welcome")


async def test_session_cookie(app: Harness) -> None:
    cookie = app.auth.login(identity("a"), {"r1"})
    client = await app.raw("r1", headers={"Cookie": f"telemed_session={cookie}"})
    await client.send(type="join")
    assert (await client.expect("welcome"))["self"]["user_id"] == "a"


async def test_allowed_origins() -> None:
    config = dataclasses.replace(FAST, allowed_origins=("https://telemed.example",))
    async with running(config) as app:
        ok = await app.raw("r1", app.auth.issue("r1", identity("a")),
                           origin="https://telemed.example")
        await ok.send(type="join")
        await ok.expect("welcome")
        bad = await app.raw("r1", app.auth.issue("r1", identity("b")),
                            origin=f"http://{app.server.host}:{app.server.port}")
        assert await bad.closed() == CloseCode.FORBIDDEN


async def test_welcome_hands_out_the_credentials_already_minted() -> None:
    config = dataclasses.replace(FAST, turn_urls=("turn:turn.example:3478",), turn_secret="s")
    async with running(config) as app:
        # What the join API gave this user a moment before the socket opened.
        given = app.registry.ice.for_user("a")
        a = await app.connect("r1", identity("a"))
        assert a.welcome["ice_servers"] == given and given[0]["credential"]
        b = await app.connect("r1", identity("b"))
        assert b.welcome["ice_servers"][0]["username"].endswith(":b")
        token = a.welcome["resume_token"]
        await a.ws.close()
        again = await app.connect("r1", identity("a"), resume_token=token)
        assert again.welcome["resumed"] is True and again.welcome["ice_servers"] == given


async def test_room_full() -> None:
    async with running(dataclasses.replace(FAST, max_peers=2)) as app:
        await app.connect("r1", identity("a"))
        await app.connect("r1", identity("b"))
        c = await app.connect("r1", identity("c"), join=False)
        await c.send(type="join", id=1)
        error = await c.expect("error")
        assert error["code"] == "room-full" and error["id"] == 1
        assert await c.closed() == CloseCode.ROOM_FULL
        assert len(app.registry.snapshot("r1")) == 2


async def test_lobby_admit_and_deny(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    guest = await app.connect("r1", identity("guest", needs_admission=True))
    lobby = await guest.expect("lobby")
    update = await chair.expect("lobby-update")
    assert [w["peer_id"] for w in update["waiting"]] == [lobby["peer_id"]]
    assert update["waiting"][0]["name"] == "BS. guest"
    await guest.send(type="chat", text="hello", id=2)
    assert (await guest.expect("error"))["code"] == "in-lobby"
    await chair.send(type="admit", peer_id=lobby["peer_id"])
    welcome = await guest.expect("welcome")
    assert welcome["peer_id"] == lobby["peer_id"]
    assert [p["peer_id"] for p in welcome["peers"]] == [chair.peer_id]
    assert (await chair.expect("peer-joined"))["peer"]["peer_id"] == lobby["peer_id"]
    assert (await chair.expect("lobby-update"))["waiting"] == []

    other = await app.connect("r1", identity("other", needs_admission=True))
    waiting = await other.expect("lobby")
    await chair.expect("lobby-update", lambda f: len(f["waiting"]) == 1)
    await guest.send(type="deny", peer_id=waiting["peer_id"], id=5)
    assert (await guest.expect("error"))["code"] == "forbidden"
    await chair.send(type="deny", peer_id=waiting["peer_id"])
    assert (await other.expect("error"))["code"] == "denied"
    assert await other.closed() == CloseCode.FORBIDDEN
    assert "peer-joined" not in [f["type"] for f in guest.frames if
                                 f.get("peer", {}).get("peer_id") == waiting["peer_id"]]


async def test_lobby_waits_for_a_moderator_joining_later(app: Harness) -> None:
    guest = await app.connect("r1", identity("guest", needs_admission=True))
    await guest.expect("lobby")
    chair = await app.connect("r1", identity("chair", moderator=True))
    assert chair.welcome["peers"] == []
    update = await chair.expect("lobby-update")
    assert update["waiting"][0]["user_id"] == "guest"


async def test_mute_kick_and_no_rejoin(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    c = await app.connect("r1", identity("c"))
    await chair.send(type="mute", peer_id=b.peer_id, kind="video")
    assert await b.expect("mute") == {"type": "mute", "kind": "video", "by": chair.peer_id}
    await b.send(type="kick", peer_id=c.peer_id, id=1)
    assert (await b.expect("error"))["code"] == "forbidden"
    await chair.send(type="kick", peer_id=b.peer_id)
    assert (await b.expect("kicked"))["by"] == chair.peer_id
    assert await b.closed() == CloseCode.FORBIDDEN
    for client in (chair, c):
        left = await client.expect("peer-left")
        assert left["peer_id"] == b.peer_id and left["reason"] == "kicked"
    again = await app.raw("r1", app.auth.issue("r1", identity("b")))
    assert await again.closed() == CloseCode.FORBIDDEN and again.frames == []


async def test_end_for_everyone_and_from_the_app(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    await b.send(type="end", id=4)
    assert (await b.expect("error"))["code"] == "forbidden"
    await chair.send(type="end")
    for client in (chair, b):
        assert (await client.expect("ended"))["by"] == chair.peer_id
        assert await client.closed() == CloseCode.ENDED
    [ended] = await app.sink.wait_for(RoomEnded)
    assert ended.user_id == "chair"
    late = await app.raw("r1", app.auth.issue("r1", identity("late")))
    assert await late.closed() == CloseCode.ENDED
    assert app.registry.rooms == {}

    d = await app.connect("r2", identity("d"))
    await app.registry.end_room("r2")
    assert (await d.expect("ended"))["by"] is None
    assert await d.closed() == CloseCode.ENDED


async def test_resume_within_grace_keeps_peer_id(app: Harness) -> None:
    a = await app.connect("r1", identity("a"))
    b = await app.connect("r1", identity("b"))
    await a.expect("peer-joined")
    token = b.welcome["resume_token"]
    await b.ws.close()
    await asyncio.sleep(0.1)
    await a.send(type="offer", to=b.peer_id, sdp="v=0 while away")
    b2 = await app.connect("r1", identity("b"), resume_token=token)
    assert b2.welcome["peer_id"] == b.peer_id and b2.welcome["resumed"] is True
    assert (await b2.expect("offer"))["sdp"] == "v=0 while away"
    await asyncio.sleep(FAST.grace_seconds * 1.5)
    assert "peer-left" not in a.types() and "peer-joined" == a.types()[-1]
    assert len(app.registry.snapshot("r1")) == 2


async def test_grace_expiry_sends_timeout(app: Harness) -> None:
    a = await app.connect("r1", identity("a"))
    b = await app.connect("r1", identity("b"))
    token = b.welcome["resume_token"]
    await b.ws.close()
    left = await a.expect("peer-left")
    assert left == {"type": "peer-left", "peer_id": b.peer_id, "reason": "timeout"}
    assert [p["peer_id"] for p in app.registry.snapshot("r1")] == [a.peer_id]
    again = await app.connect("r1", identity("b"), resume_token=token)
    assert again.welcome["resumed"] is False and again.peer_id != b.peer_id


async def test_second_connection_replaces_first(app: Harness) -> None:
    a = await app.connect("r1", identity("a"))
    b1 = await app.connect("r1", identity("b"))
    b2 = await app.connect("r1", identity("b"))
    assert await b1.closed() == CloseCode.REPLACED
    left = await a.expect("peer-left")
    assert left["peer_id"] == b1.peer_id and left["reason"] == "replaced"
    await a.expect("peer-joined", lambda f: f["peer"]["peer_id"] == b2.peer_id)
    await asyncio.sleep(FAST.grace_seconds * 1.5)
    assert {p["peer_id"] for p in app.registry.snapshot("r1")} == {a.peer_id, b2.peer_id}
    await b2.send(type="ping")
    await b2.expect("pong")

    # Resume on a second socket while the first is still open: same peer, old socket replaced.
    b3 = await app.connect("r1", identity("b"), resume_token=b2.welcome["resume_token"])
    assert b3.peer_id == b2.peer_id
    assert await b2.closed() == CloseCode.REPLACED
    await asyncio.sleep(FAST.grace_seconds * 1.5)
    assert {p["peer_id"] for p in app.registry.snapshot("r1")} == {a.peer_id, b2.peer_id}
    assert a.types().count("peer-left") == 1


async def test_moderator_keeps_role_on_reconnect(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    await app.connect("r1", identity("b"))
    await chair.send(type="leave")
    await chair.closed()
    again = await app.connect("r1", identity("chair", moderator=False))
    assert again.welcome["role"] == "moderator"


async def test_record_broadcasts_state(app: Harness) -> None:
    chair = await app.connect("r1", identity("chair", moderator=True))
    b = await app.connect("r1", identity("b"))
    await chair.send(type="record", on=True)
    for client in (chair, b):
        assert (await client.expect("recording"))["on"] is True
    c = await app.connect("r1", identity("c"))
    assert c.welcome["recording"] is True


async def test_recorder_hook_can_refuse() -> None:
    class Recorder:
        started: list[str] = []

        async def start(self, room_id: str) -> None:
            self.started.append(room_id)

        async def stop(self, room_id: str) -> None:
            raise RuntimeError("disk full")

    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from doubles import MemoryAuthorizer, MemoryEventSink
    from sighelpers import Harness as H

    from signaling import setup_signaling

    web_app = web.Application()
    recorder, auth = Recorder(), MemoryAuthorizer()
    setup_signaling(web_app, config=SignalingConfig(), authorizer=auth,
                    sink=MemoryEventSink(), recorder=recorder)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    harness = H(server, auth, MemoryEventSink(), SignalingConfig())
    try:
        chair = await harness.connect("r1", identity("chair", moderator=True))
        await chair.send(type="record", on=True)
        await chair.expect("recording")
        assert recorder.started == ["r1"]
        await chair.send(type="record", on=False, id=8)
        error = await chair.expect("error")
        assert error["code"] == "recorder-failed" and error["id"] == 8
    finally:
        await harness.close()
        await server.close()
