"""Minutes over the API: the chair's pre-filled draft, saving, finalising, and immutability."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from apitools import SIGN, Api, signers
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from records.models import Minutes
from telemed.app import create_app
from telemed.settings import Settings


async def test_draft_save_finalize_then_immutable(api: Api, engine: AsyncEngine) -> None:
    await signers(api, engine, "specialist", "specialist2")
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    base = f"/api/v1/consultations/{consultation['id']}/minutes"
    url = f"{base}/{case['id']}"

    # Nobody has written anything yet: only the chair gets a draft.
    (await api.get(url, user="specialist2")).error(404, "not-found")
    draft = await api.ok("GET", url, user="specialist")
    assert draft["status"] == "draft" and draft["case_id"] == case["id"]
    assert draft["patient_block"]["full_name"] == "Nguyễn Văn An"
    assert draft["conclusion"] == case["diagnosis"] and draft["icd10_codes"] == ["I20.0"]
    assert draft["conclusions"] == [{"question": "Có chỉ định chụp mạch vành không?", "answer": ""}]
    assert {a["user_id"] for a in draft["attendees"]} >= {api.world.id("specialist")}
    # Reading stored nothing: the draft exists once the chair saves it.
    assert (await api.ok("GET", base, user="specialist"))["items"] == []

    saved = await api.ok(
        "PUT",
        url,
        user="specialist",
        json={
            "findings": "Điện tim: ST chênh xuống V4–V6.",
            "conclusion": "Đau thắt ngực không ổn định",
            "treatment_plan": "Chuyển tuyến tỉnh chụp mạch vành.",
            "conclusions": [{"question": "Có chỉ định chụp mạch vành không?", "answer": "Có"}],
        },
    )
    assert saved["findings"].startswith("Điện tim") and saved["summary"] == draft["summary"]
    (await api.put(url, user="specialist2", json={"findings": "x"})).error(403, "forbidden")
    for body, field in (
        ({"findings": 3}, "findings"),
        ({"attendees": "all"}, "attendees"),
        ({"signature": "x"}, "signature"),
        ({"conclusion": "x" * 5001}, "conclusion"),
        ({"icd10_codes": ["I20.0", "ABC"]}, "icd10_codes"),
        ({"conclusions": [{"answer": "không có câu hỏi"}]}, "conclusions.0.question"),
        (
            {"attendees": [{"user_id": str(uuid.uuid4()), "name": "Người bịa"}]},
            "attendees.0.user_id",
        ),
        ({"attendees": [{"user_id": api.world.id("specialist")}] * 61}, "attendees"),
    ):
        err = (await api.put(url, user="specialist", json=body)).error(400, "invalid")
        assert field in err["fields"], err
    listed = await api.ok("GET", base, user="specialist2")
    assert [m["id"] for m in listed["items"]] == [saved["id"]]

    (await api.post(f"{url}/finalize", user="specialist", json={})).error(400, "invalid")
    err = (await api.post(f"{url}/finalize", user="specialist", json={"password": "sai"})).error(
        400, "invalid"
    )
    assert err["fields"]["password"] == "Mật khẩu không đúng"
    (await api.post(f"{url}/finalize", user="specialist2", json=SIGN)).error(403, "forbidden")
    final = await api.ok("POST", f"{url}/finalize", user="specialist", json=SIGN)
    assert final["status"] == "final" and final["finalized_by"] == api.world.id("specialist")
    assert final["number"] == "1/BB-HC" and final["chair_confirmed_at"] is not None
    (await api.put(url, user="specialist", json={"conclusion": "Khác"})).error(409, "conflict")
    (await api.post(f"{url}/finalize", user="specialist", json=SIGN)).error(409, "conflict")
    assert await api.ok("GET", url, user="specialist") == final
    # An amendment is a new version linked to the signed one, which stays as it was.
    (await api.post(f"{url}/amend", user="specialist2")).error(403, "forbidden")
    amended = await api.ok("POST", f"{url}/amend", 201, user="specialist")
    assert (amended["version"], amended["supersedes_id"]) == (2, final["id"])
    assert amended["status"] == "draft" and amended["number"] is None
    (await api.post(f"{url}/amend", user="specialist")).error(409, "conflict")


async def test_wrong_case_or_consultation(api: Api, engine: AsyncEngine) -> None:
    await signers(api, engine, "specialist")
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    other_case = await api.case(patient["id"], title="Ca không thuộc phiên")
    base = f"/api/v1/consultations/{consultation['id']}/minutes"
    (await api.get(f"{base}/{other_case['id']}", user="specialist")).error(404)
    (await api.get(f"{base}/{uuid.uuid4()}", user="specialist")).error(404)
    (await api.get(f"{base}/nope", user="specialist")).error(404)
    (await api.get(f"/api/v1/consultations/{uuid.uuid4()}/minutes")).error(404)
    (await api.get(base, user=None)).error(401)
    # A conclusion is needed before the minutes become final.
    await api.ok("PUT", f"{base}/{case['id']}", user="specialist", json={"conclusion": ""})
    err = (await api.post(f"{base}/{case['id']}/finalize", user="specialist", json=SIGN)).error(400)
    assert "conclusion" in err["fields"]
    assert (await api.ok("GET", f"{base}/{case['id']}", user="specialist"))["status"] == "draft"


async def test_the_configured_followup_window_decides(
    api: Api, settings: Settings, engine: AsyncEngine
) -> None:
    await signers(api, engine, "specialist")
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    base = f"/api/v1/consultations/{consultation['id']}/minutes"
    url = f"{base}/{case['id']}"
    await api.ok("PUT", url, user="specialist", json={"conclusion": "Viêm phổi", "conclusions": []})
    final = await api.ok("POST", f"{url}/finalize", user="specialist", json=SIGN)
    async with session_maker(engine)() as session:
        minutes = await session.get(Minutes, uuid.UUID(final["id"]))
        assert minutes is not None
        minutes.finalized_at = datetime.now(UTC) - timedelta(days=10)
        session.add(minutes)
        await session.commit()

    # The invited specialist of another facility still reads them, ten days on...
    assert (await api.ok("GET", url, user="specialist2"))["id"] == final["id"]
    # ...but not on a server whose follow-up window is five days.
    short = TestClient(TestServer(create_app(replace(settings, followup_days=5))))
    await short.start_server()
    try:
        narrow = Api(short, api.world)
        (await narrow.get(url, user="specialist2")).error(404, "not-found")
        assert (await narrow.ok("GET", base, user="specialist2"))["items"] == []
        # The referring doctor's own case stays readable whatever the window.
        assert (await narrow.ok("GET", url, user="doctor"))["id"] == final["id"]
    finally:
        await short.close()
