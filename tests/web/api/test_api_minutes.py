"""Minutes over the API: the chair's pre-filled draft, saving, finalising, and immutability."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from apitools import Api
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from records.models import Minutes
from telemed.app import create_app
from telemed.settings import Settings


async def test_draft_save_finalize_then_immutable(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    base = f"/api/v1/consultations/{consultation['id']}/minutes"
    url = f"{base}/{case['id']}"

    # Nobody has written anything yet: only the chair gets a draft.
    (await api.get(url, user="specialist2")).error(404, "not-found")
    draft = await api.ok("GET", url, user="specialist")
    assert draft["status"] == "draft" and draft["case_id"] == case["id"]
    assert "Nguyễn Văn An" in draft["summary"] and draft["conclusion"] == case["diagnosis"]
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
        },
    )
    assert saved["findings"].startswith("Điện tim") and saved["summary"] == draft["summary"]
    (await api.put(url, user="specialist2", json={"findings": "x"})).error(403, "forbidden")
    for body, field in (
        ({"findings": 3}, "findings"),
        ({"attendees": "all"}, "attendees"),
        ({"signature": "x"}, "signature"),
        ({"conclusion": "x" * 5001}, "conclusion"),
    ):
        err = (await api.put(url, user="specialist", json=body)).error(400, "invalid")
        assert field in err["fields"], err
    listed = await api.ok("GET", base, user="specialist2")
    assert [m["id"] for m in listed["items"]] == [saved["id"]]

    final = await api.ok("POST", f"{url}/finalize", user="specialist")
    assert final["status"] == "final" and final["finalized_by"] == api.world.id("specialist")
    (await api.put(url, user="specialist", json={"conclusion": "Khác"})).error(409, "conflict")
    (await api.post(f"{url}/finalize", user="specialist")).error(409, "conflict")
    assert await api.ok("GET", url, user="specialist") == final


async def test_wrong_case_or_consultation(api: Api) -> None:
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
    err = (await api.post(f"{base}/{case['id']}/finalize", user="specialist")).error(400)
    assert "conclusion" in err["fields"]
    assert (await api.ok("GET", f"{base}/{case['id']}", user="specialist"))["status"] == "draft"


async def test_the_configured_followup_window_decides(
    api: Api, settings: Settings, engine: AsyncEngine
) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    base = f"/api/v1/consultations/{consultation['id']}/minutes"
    url = f"{base}/{case['id']}"
    await api.ok("PUT", url, user="specialist", json={"conclusion": "Viêm phổi"})
    final = await api.ok("POST", f"{url}/finalize", user="specialist")
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
