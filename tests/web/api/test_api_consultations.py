"""Consultations over the API: request, schedule, invite, conflicts, cancel, join the room, chat."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from apitools import Api
from sqlalchemy import event

from signaling.keys import signaling_key
from telemed.app import create_app
from telemed.keys import engine_key
from telemed.settings import Settings

CONSULTATIONS = "/api/v1/consultations"


async def _consultation(api: Api, **schedule: Any) -> dict[str, Any]:
    patient = await api.patient(mrn=f"BN-{uuid.uuid4().hex[:8]}")
    case = await api.case(patient["id"])
    return await api.scheduled(case["id"], **schedule)


async def test_request_schedule_invite_list(api: Api) -> None:
    w = api.world
    patient = await api.patient()
    case = await api.case(patient["id"])
    requested = await api.requested(case["id"])
    assert requested["status"] == "requested" and requested["case_ids"] == [case["id"]]
    assert requested["host_facility_id"] == str(w.province.id)
    assert [(p["user_id"], p["role"]) for p in requested["participants"]] == [
        (w.id("doctor"), "presenter")
    ]
    assert (await api.ok("GET", f"/api/v1/cases/{case['id']}"))["status"] == "submitted"
    # The host's coordinator sees the request; another district does not.
    assert (await api.ok("GET", CONSULTATIONS, user="coordinator"))["total"] == 1
    assert (await api.ok("GET", CONSULTATIONS, user="doctor2"))["total"] == 0

    url = f"{CONSULTATIONS}/{requested['id']}"
    scheduled = await api.ok(
        "POST",
        f"{url}/schedule",
        user="coordinator",
        json={
            "scheduled_start": "2030-01-10T08:00:00+07:00",
            "scheduled_end": "2030-01-10T09:30:00+07:00",
            "chair_id": w.id("specialist"),
            "invitees": [w.id("specialist2")],
            "requires_admission": False,
        },
    )
    assert scheduled["status"] == "scheduled" and scheduled["chair_id"] == w.id("specialist")
    assert scheduled["scheduled_start"].startswith("2030-01-10T01:00:00")
    roles = {p["user_id"]: p["role"] for p in scheduled["participants"]}
    assert roles == {
        w.id("doctor"): "presenter",
        w.id("specialist"): "chair",
        w.id("specialist2"): "specialist",
    }
    assert (await api.ok("GET", f"/api/v1/cases/{case['id']}"))["status"] == "scheduled"

    invited = await api.ok(
        "POST",
        f"{url}/participants",
        201,
        user="coordinator",
        json={"user_id": w.id("doctor2"), "role": "observer"},
    )
    assert {p["user_id"]: p["role"] for p in invited["participants"]}[w.id("doctor2")] == "observer"
    assert (await api.ok("GET", url, user="doctor2"))["id"] == requested["id"]
    withdrawn = await api.ok("DELETE", f"{url}/participants/{w.id('doctor2')}", user="coordinator")
    assert w.id("doctor2") not in {p["user_id"] for p in withdrawn["participants"]}
    (await api.delete(f"{url}/participants/{w.id('doctor2')}", user="coordinator")).error(404)
    (await api.delete(f"{url}/participants/{w.id('specialist')}", user="coordinator")).error(409)

    mine = await api.ok("GET", CONSULTATIONS, user="specialist2", params={"mine": "true"})
    assert [c["id"] for c in mine["items"]] == [requested["id"]]
    window = {"from": "2030-01-10", "to": "2030-01-11", "status": "scheduled"}
    assert (await api.ok("GET", CONSULTATIONS, user="coordinator", params=window))["total"] == 1
    later = {"from": "2030-01-11T00:00:00+07:00"}
    assert (await api.ok("GET", CONSULTATIONS, user="coordinator", params=later))["total"] == 0


async def test_conflicts(api: Api) -> None:
    first = await _consultation(api)
    second = await _consultation(
        api,
        scheduled_start="2030-01-10T08:30:00+07:00",
        scheduled_end="2030-01-10T10:00:00+07:00",
        chair_id=api.world.id("specialist2"),
        invitees=[api.world.id("specialist")],
    )
    # Scheduling warns about the overlap but does not refuse it: everyone of the first session
    # (the same presenting doctor, its chair, its invitee) is also in the second.
    assert {(c["user_id"], c["consultation_id"]) for c in second["conflicts"]} == {
        (api.world.id(name), first["id"]) for name in ("doctor", "specialist", "specialist2")
    }
    assert first["conflicts"] == []
    found = await api.ok(
        "POST",
        f"{CONSULTATIONS}/{second['id']}/conflicts",
        user="coordinator",
        json={
            "user_ids": [api.world.id("specialist"), api.world.id("coordinator")],
            "start": "2030-01-10T08:30:00+07:00",
            "end": "2030-01-10T10:00:00+07:00",
        },
    )
    assert [(c["user_id"], c["consultation_id"]) for c in found["items"]] == [
        (api.world.id("specialist"), first["id"])
    ]
    for body, field in (
        (
            {"user_ids": [], "start": "2030-01-10T08:30:00Z", "end": "2030-01-10T10:00:00Z"},
            "user_ids",
        ),
        (
            {"user_ids": ["x"], "start": "2030-01-10T08:30:00Z", "end": "2030-01-10T10:00:00Z"},
            "user_ids.0",
        ),
        ({"user_ids": [api.world.id("specialist")], "start": "soon", "end": "2030-01-10"}, "start"),
    ):
        err = (
            await api.post(
                f"{CONSULTATIONS}/{second['id']}/conflicts", user="coordinator", json=body
            )
        ).error(400, "invalid")
        assert field in err["fields"], err
    (
        await api.post(
            f"{CONSULTATIONS}/{second['id']}/conflicts",
            user="doctor",
            json={
                "user_ids": [api.world.id("specialist")],
                "start": "2030-01-10T08:30:00Z",
                "end": "2030-01-10T10:00:00Z",
            },
        )
    ).error(403)


async def test_schedule_validation_and_transitions(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    requested = await api.requested(case["id"])
    url = f"{CONSULTATIONS}/{requested['id']}"
    good = {
        "scheduled_start": "2030-01-10T08:00:00+07:00",
        "scheduled_end": "2030-01-10T09:00:00+07:00",
        "chair_id": api.world.id("specialist"),
    }
    for change, field in (
        ({"scheduled_end": "2030-01-10T07:00:00+07:00"}, "_"),
        ({"scheduled_start": "2030-01-10T08:00:00"}, "_"),
        ({"scheduled_end": "2030-01-11T08:00:00+07:00"}, "_"),
        ({"chair_id": "nobody"}, "chair_id"),
        ({"chair_id": str(uuid.uuid4())}, "chair_id"),
        ({"invitees": "everyone"}, "invitees"),
        ({"requires_admission": "maybe"}, "requires_admission"),
        ({"room": "A1"}, "room"),
    ):
        err = (
            await api.post(f"{url}/schedule", user="coordinator", json={**good, **change})
        ).error(400, "invalid")
        assert field in err["fields"], (change, err)
    (await api.post(f"{url}/schedule", user="doctor", json=good)).error(403)
    assert (await api.ok("GET", url))["status"] == "requested"
    # Requesting the same case twice is refused while the first request is open.
    (
        await api.post(
            CONSULTATIONS,
            json={
                "title": "Lần hai",
                "case_ids": [case["id"]],
                "host_facility_id": str(api.world.province.id),
            },
        )
    ).error(409, "conflict")
    # A request must go up the referral line.
    other = await api.case(patient["id"], title="Ca bệnh thứ hai")
    err = (
        await api.post(
            CONSULTATIONS,
            json={
                "title": "Sai tuyến",
                "case_ids": [other["id"]],
                "host_facility_id": str(api.world.district2.id),
            },
        )
    ).error(400, "invalid")
    assert "host_facility_id" in err["fields"]

    cancelled = await api.ok("POST", f"{url}/cancel", user="coordinator")
    assert cancelled["status"] == "cancelled"
    for attempt in (
        api.post(f"{url}/cancel", user="coordinator"),
        api.post(f"{url}/schedule", user="coordinator", json=good),
        api.post(
            f"{url}/participants", user="coordinator", json={"user_id": api.world.id("doctor2")}
        ),
        api.post(f"{url}/join", user="coordinator"),
    ):
        (await attempt).error(409, "conflict")
    after = await api.ok("GET", url)
    assert after["status"] == "cancelled" and after["scheduled_start"] is None
    assert (await api.ok("GET", f"/api/v1/cases/{case['id']}"))["status"] == "submitted"


async def test_query_errors(api: Api) -> None:
    for params, field in (
        ({"status": "done"}, "status"),
        ({"from": "tomorrow"}, "from"),
        ({"to": "2030-13-01"}, "to"),
        ({"mine": "perhaps"}, "mine"),
        ({"limit": "1000"}, "limit"),
    ):
        err = (await api.get(CONSULTATIONS, params=params)).error(400, "invalid")
        assert field in err["fields"], (params, err)
    (await api.get(f"{CONSULTATIONS}/{uuid.uuid4()}")).error(404, "not-found")
    (await api.post(f"{CONSULTATIONS}/{uuid.uuid4()}/join")).error(404, "not-found")
    (await api.get(f"{CONSULTATIONS}/x/chat")).error(404, "not-found")


async def _socket(api: Api, room_id: str, token: str) -> aiohttp.ClientWebSocketResponse:
    return await api.client.ws_connect(f"/ws/rooms/{room_id}", params={"token": token})


async def test_join_token_opens_the_room_once(api: Api) -> None:
    consultation = await _consultation(api)
    url = f"{CONSULTATIONS}/{consultation['id']}"
    info = await api.ok("POST", f"{url}/join", user="specialist")
    assert {"room_id", "token", "ws_url", "ice_servers"} <= set(info)
    assert info["role"] == "moderator" and isinstance(info["ice_servers"], list)
    assert info["ws_url"].endswith(f"/ws/rooms/{info['room_id']}")
    assert info["ws_url"].startswith("ws://")

    ws = await _socket(api, info["room_id"], info["token"])
    try:
        await ws.send_json({"type": "join", "resume_token": None})
        welcome = await ws.receive_json(timeout=10)
        assert welcome["type"] == "welcome" and welcome["role"] == "moderator"
        await ws.send_json({"type": "chat", "text": "Mời bác sĩ tuyến huyện trình bày"})
        lines: list[dict[str, Any]] = []
        for _ in range(200):
            lines = (await api.ok("GET", f"{url}/chat", user="coordinator"))["items"]
            if lines:
                break
            await asyncio.sleep(0.05)
        assert [(c["text"], c["user_id"]) for c in lines] == [
            ("Mời bác sĩ tuyến huyện trình bày", api.world.id("specialist"))
        ]
        assert lines[0]["name"].endswith("Trần Minh Tâm")
    finally:
        await ws.close()

    again = await _socket(api, info["room_id"], info["token"])
    msg = await again.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and again.close_code == 4401
    await again.close()
    # A token is bound to its room.
    fresh = await api.ok("POST", f"{url}/join", user="specialist")
    other = await _consultation(api)
    other_info = await api.ok("POST", f"{CONSULTATIONS}/{other['id']}/join", user="specialist")
    wrong = await _socket(api, other_info["room_id"], fresh["token"])
    msg = await wrong.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and wrong.close_code == 4401
    await wrong.close()


async def test_who_may_join(api: Api) -> None:
    consultation = await _consultation(api)
    url = f"{CONSULTATIONS}/{consultation['id']}/join"
    assert (await api.ok("POST", url, user="specialist2"))["role"] == "participant"
    assert (await api.ok("POST", url, user="doctor"))["role"] == "participant"
    assert (await api.ok("POST", url, user="coordinator"))["role"] == "moderator"
    (await api.post(url, user="doctor2")).error(404, "not-found")
    (await api.post(url, user=None)).error(401, "unauthenticated")
    (await api.get(f"{CONSULTATIONS}/{consultation['id']}/chat", user="doctor2")).error(404)
    patient = await api.patient(mrn="BN-REQ")
    case = await api.case(patient["id"])
    requested = await api.requested(case["id"])
    (await api.post(f"{CONSULTATIONS}/{requested['id']}/join", user="doctor")).error(409)


async def test_join_names_the_public_origin(api: Api, settings: Settings) -> None:
    consultation = await _consultation(api)
    public = settings.replace(allowed_origins=("https://telemed.example.vn",))
    client = TestClient(TestServer(create_app(public)))
    await client.start_server()
    try:
        behind_proxy = Api(client, api.world)
        info = await behind_proxy.ok(
            "POST", f"{CONSULTATIONS}/{consultation['id']}/join", user="specialist"
        )
    finally:
        await client.close()
    assert info["ws_url"] == f"wss://telemed.example.vn/ws/rooms/{info['room_id']}"


# The statements of one complete join: the HTTP join request and the socket's authorization.
JOIN_STATEMENTS = 5


async def test_one_join_costs_few_statements(api: Api) -> None:
    consultation = await _consultation(api)
    app = api.client.app
    authorizer = app[signaling_key].authorizer
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app[engine_key].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        # The chair, an invited specialist, the requesting doctor (a presenter), the host's
        # coordinator: every way into the room.
        for user, role in (
            ("specialist", "moderator"),
            ("specialist2", "participant"),
            ("doctor", "participant"),
            ("coordinator", "moderator"),
        ):
            statements.clear()
            info = await api.ok("POST", f"{CONSULTATIONS}/{consultation['id']}/join", user=user)
            identity = await authorizer.authorize(
                room_id=info["room_id"], token=info["token"], session_cookie=None
            )
            assert info["role"] == role
            assert identity.user_id == api.world.id(user)
            assert identity.moderator == (role == "moderator")
            assert identity.facility and identity.name
            assert len(statements) <= JOIN_STATEMENTS, (user, statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_socket_decides_the_role_on_current_rows(api: Api) -> None:
    consultation = await _consultation(api)
    url = f"{CONSULTATIONS}/{consultation['id']}"
    info = await api.ok("POST", f"{url}/join", user="specialist2")
    assert info["role"] == "participant"
    # Uninvited after the token was issued: the fresh token no longer opens the room.
    await api.ok("DELETE", f"{url}/participants/{api.world.id('specialist2')}", user="coordinator")
    refused = await _socket(api, info["room_id"], info["token"])
    msg = await refused.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and refused.close_code == 4403
    await refused.close()
    # The refusal spent the token and is in the audit trail.
    again = await _socket(api, info["room_id"], info["token"])
    msg = await again.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and again.close_code == 4401
    await again.close()
    events = await api.ok("GET", "/api/v1/audit", user="admin", params={"action": "denied"})
    assert any(
        e["actor_id"] == api.world.id("specialist2")
        and e["object_id"] == consultation["id"]
        and e["detail"] == {"need": "join"}
        for e in events["items"]
    ), events
    # A token for an unknown room, and a missing token, are told apart from a used one.
    unknown = await _socket(api, "r" + uuid.uuid4().hex, info["token"])
    msg = await unknown.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and unknown.close_code == 4404
    await unknown.close()
    anonymous = await api.client.ws_connect(f"/ws/rooms/{info['room_id']}")
    msg = await anonymous.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and anonymous.close_code == 4401
    await anonymous.close()
