"""Outcomes over the API: reported by the requesting doctor after the final minutes, read by
the consultants, refused with a clear 4xx otherwise."""

from __future__ import annotations

from apitools import SIGN, Api, signers
from sqlalchemy.ext.asyncio import AsyncEngine

from records.localtime import to_local
from records.models.base import utcnow


async def test_outcome_reported_and_read_back(api: Api, engine: AsyncEngine) -> None:
    await signers(api, engine, "specialist")
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    minutes = f"/api/v1/consultations/{consultation['id']}/minutes/{case['id']}"
    url = f"/api/v1/consultations/{consultation['id']}/outcomes/{case['id']}"
    today = to_local(utcnow()).date().isoformat()
    body = {"kind": "transferred", "outcome_date": today, "note": "Chuyển Bệnh viện Chợ Rẫy"}

    draft = await api.ok("GET", minutes, user="specialist")
    answered = [{**q, "answer": "Có"} for q in draft["conclusions"]]
    await api.ok(
        "PUT",
        minutes,
        user="specialist",
        json={"conclusion": "Đau thắt ngực", "conclusions": answered},
    )
    # Before the minutes are final there is nothing to report on.
    (await api.post(url, user="doctor", json=body)).error(409, "conflict")
    await api.ok("POST", f"{minutes}/finalize", user="specialist", json=SIGN)

    for bad, field in (
        ({**body, "kind": "vanished"}, "kind"),
        ({**body, "outcome_date": "07/12/2026"}, "outcome_date"),
        ({**body, "outcome_date": "2999-01-01"}, "outcome_date"),
        ({**body, "note": ""}, "note"),
        ({**body, "note": "x" * 2001}, "note"),
        ({"kind": "died"}, "outcome_date"),
    ):
        err = (await api.post(url, user="doctor", json=bad)).error(400, "invalid")
        assert field in err["fields"], (bad, err)
    (await api.post(url, user="specialist", json=body)).error(403, "forbidden")
    (await api.post(url, user="doctor2", json=body)).error(404, "not-found")

    made = await api.ok("POST", url, 201, user="doctor", json=body)
    assert made["kind"] == "transferred" and made["recorded_by"] == api.world.id("doctor")

    seen = await api.ok(
        "GET", f"/api/v1/consultations/{consultation['id']}/outcomes", user="specialist2"
    )
    [item] = seen["items"]
    assert item["conclusion"] == "Đau thắt ngực" and item["case_id"] == case["id"]
    assert [o["id"] for o in item["outcomes"]] == [made["id"]]
    on_case = await api.ok("GET", f"/api/v1/cases/{case['id']}/outcomes", user="doctor")
    assert on_case["items"][0]["outcomes"][0]["note"] == "Chuyển Bệnh viện Chợ Rẫy"
    (await api.get(f"/api/v1/cases/{case['id']}/outcomes", user="doctor2")).error(404)
    (await api.get(f"/api/v1/consultations/{consultation['id']}/outcomes", user="doctor2")).error(
        404
    )
