"""The workflow API: notifications in the caller's language, the case thread with a file, and
the answer to an invitation."""

from __future__ import annotations

import aiohttp
from apitools import Api

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_notifications_thread_and_invitation(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"], urgency="emergency")
    consultation = await api.scheduled(case["id"])
    cid = consultation["id"]

    # The coordinator was told of the request; in English on request; marked read.
    told = await api.ok("GET", "/api/v1/notifications", user="coordinator")
    assert [n["kind"] for n in told["items"]] == ["request"] and told["items"][0]["emergency"]
    assert told["items"][0]["url"] == f"/consultations/{cid}"
    english = await api.ok(
        "GET", "/api/v1/notifications", user="coordinator", headers={"Cookie": "lang=en"}
    )
    assert english["items"][0]["text"].startswith("EMERGENCY: consultation request HC-")
    nid = told["items"][0]["id"]
    assert (await api.post(f"/api/v1/notifications/{nid}/read", user="doctor")).status == 404
    assert await api.ok("POST", f"/api/v1/notifications/{nid}/read", user="coordinator") == {
        "unread": 0
    }
    unread = await api.ok(
        "GET", "/api/v1/notifications", user="coordinator", params={"unread": "true"}
    )
    assert unread["items"] == []

    # The invited specialist writes an opinion with a file; the doctor reads it.
    form = aiohttp.FormData()
    form.add_field("text", "Ý kiến: nghĩ đến hội chứng vành cấp")
    form.add_field("kind", "opinion")
    form.add_field("file", PDF, filename="dien-tim.pdf", content_type="application/pdf")
    posted = await api.ok(
        "POST", f"/api/v1/cases/{case['id']}/thread", 201, user="specialist2", data=form
    )
    assert posted["kind"] == "opinion" and posted["attachment_id"] and posted["anchor"]
    thread = await api.ok("GET", f"/api/v1/cases/{case['id']}/thread", user="doctor")
    assert [e["id"] for e in thread["items"]] == [posted["id"]]
    download = await api.get(f"/api/v1/attachments/{posted['attachment_id']}", user="doctor")
    assert download.status == 200 and download.body == PDF
    # Another facility's doctor learns nothing; a blank message is refused.
    assert (await api.get(f"/api/v1/cases/{case['id']}/thread", user="doctor2")).status == 404
    blank = await api.post(f"/api/v1/cases/{case['id']}/thread", user="doctor", json={"text": " "})
    blank.error(400)

    # The invitation: a decline needs a reason; then the coordinator sees it.
    path = f"/api/v1/consultations/{cid}/invitation"
    (await api.post(path, user="specialist2", json={"accept": False})).error(400)
    answered = await api.ok(
        "POST", path, user="specialist2", json={"accept": False, "reason": "Đang trực"}
    )
    mine = next(p for p in answered["participants"] if p["user_id"] == api.world.id("specialist2"))
    assert mine["response"] == "declined" and mine["response_reason"] == "Đang trực"
    assert (await api.post(path, user="doctor2", json={"accept": True})).status == 404
    told = await api.ok(
        "GET", "/api/v1/notifications", user="coordinator", params={"unread": "true"}
    )
    assert [n["kind"] for n in told["items"]] == ["declined"]
