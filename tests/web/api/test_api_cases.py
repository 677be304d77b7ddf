"""Case files over the API: create, read, filter, edit, status machine and history."""

from __future__ import annotations

import uuid

from apitools import Api

CASES = "/api/v1/cases"


async def test_create_read_list_edit(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    assert case["status"] == "draft" and case["facility_id"] == str(api.world.district.id)
    assert case["author_id"] == api.world.id("doctor") and case["icd10"] == "I20.0"
    assert await api.ok("GET", f"{CASES}/{case['id']}") == case

    other = await api.case(patient["id"], title="Yếu nửa người trái", urgency="emergency")
    listed = await api.ok("GET", CASES)
    assert {c["id"] for c in listed["items"]} == {case["id"], other["id"]}
    emergency = await api.ok("GET", CASES, params={"urgency": "emergency"})
    assert [c["id"] for c in emergency["items"]] == [other["id"]]
    by_title = await api.ok("GET", CASES, params={"q": "nửa người"})
    assert [c["id"] for c in by_title["items"]] == [other["id"]]
    by_patient = await api.ok("GET", CASES, params={"patient_id": patient["id"]})
    assert by_patient["total"] == 2
    none = await api.ok("GET", CASES, params={"patient_id": str(uuid.uuid4())})
    assert none["total"] == 0

    edited = await api.ok(
        "PATCH", f"{CASES}/{case['id']}", json={"examination": "Tim đều, phổi không ran."}
    )
    assert edited["examination"] == "Tim đều, phổi không ran."
    assert edited["updated_at"] is not None and edited["title"] == case["title"]

    history = await api.ok("GET", f"{CASES}/{case['id']}/history")
    assert [e["action"] for e in history["items"]] == ["created", "updated"]


async def test_status_machine_and_illegal_transitions(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    url = f"{CASES}/{case['id']}"
    submitted = await api.ok("POST", f"{url}/status", json={"status": "submitted"})
    assert submitted["status"] == "submitted"

    before = await api.ok("GET", url)
    history_before = await api.ok("GET", f"{url}/history")
    for target in ("discussed", "submitted"):
        err = (await api.post(f"{url}/status", json={"status": target})).error(409, "conflict")
        assert "Đã gửi" in err["message"]
    assert await api.ok("GET", url) == before
    assert await api.ok("GET", f"{url}/history") == history_before

    closed = await api.ok("POST", f"{url}/status", json={"status": "closed"})
    assert closed["status"] == "closed"
    (await api.post(f"{url}/status", json={"status": "draft"})).error(409, "conflict")
    (await api.patch(url, json={"title": "Sửa sau khi đóng"})).error(409, "conflict")
    assert (await api.ok("GET", url))["title"] == case["title"]


async def test_bad_input(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    url = f"{CASES}/{case['id']}"
    for body, field in (
        ({"status": "finished"}, "status"),
        ({"status": 3}, "status"),
        ({}, "status"),
        ({"status": "submitted", "note": "x"}, "note"),
    ):
        err = (await api.post(f"{url}/status", json=body)).error(400, "invalid")
        assert field in err["fields"], err
    for body, field in (
        ({"title": "Đau ngực", "specialty": "Tim mạch"}, "patient_id"),
        ({"patient_id": "123", "title": "Đau ngực", "specialty": "Tim mạch"}, "patient_id"),
        ({"patient_id": patient["id"], "title": "Đa", "specialty": "Tim mạch"}, "title"),
        (
            {
                "patient_id": patient["id"],
                "title": "Đau ngực",
                "specialty": "Tim",
                "urgency": "asap",
            },
            "urgency",
        ),
        (
            {
                "patient_id": patient["id"],
                "title": "Đau ngực",
                "specialty": "Tim",
                "status": "closed",
            },
            "status",
        ),
        ({"patient_id": patient["id"], "title": ["Đau ngực"], "specialty": "Tim mạch"}, "title"),
    ):
        err = (await api.post(CASES, json=body)).error(400, "invalid")
        assert field in err["fields"], (body, err)
    (await api.patch(url, json={"title": None})).error(400, "invalid")
    (await api.patch(url, json={"status": "closed"})).error(400, "invalid")
    for params, field in (
        ({"status": "open"}, "status"),
        ({"urgency": "soon"}, "urgency"),
        ({"patient_id": "abc"}, "patient_id"),
    ):
        err = (await api.get(CASES, params=params)).error(400, "invalid")
        assert field in err["fields"]
    assert await api.ok("GET", url) == case
    assert (await api.ok("GET", CASES))["total"] == 1


async def test_access(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    url = f"{CASES}/{case['id']}"
    (await api.get(url, user="doctor2")).error(404, "not-found")
    (await api.get(f"{url}/history", user="specialist")).error(404, "not-found")
    (await api.post(f"{url}/status", user="doctor2", json={"status": "submitted"})).error(
        404, "not-found"
    )
    (
        await api.post(
            CASES,
            user="doctor2",
            json={"patient_id": patient["id"], "title": "Đau ngực", "specialty": "Tim mạch"},
        )
    ).error(404, "not-found")
    (await api.get(url, user=None)).error(401, "unauthenticated")
    assert (await api.ok("GET", url))["status"] == "draft"


async def test_the_list_pages_by_key(api: Api) -> None:
    patient = await api.patient()
    made = [await api.case(patient["id"], title=f"Ca số {i}") for i in range(5)]
    first = await api.ok("GET", "/api/v1/cases?limit=2")
    assert first["total"] == 5 and first["total_exact"] is True and first["next"]
    seen = [c["id"] for c in first["items"]]
    after = first["next"]
    while after:
        page = await api.ok("GET", f"/api/v1/cases?limit=2&after={after}")
        seen += [c["id"] for c in page["items"]]
        after = page["next"]
    assert sorted(seen) == sorted(c["id"] for c in made) and len(seen) == 5
    assert seen == [c["id"] for c in (await api.ok("GET", "/api/v1/cases"))["items"]]
    err = (await api.get("/api/v1/cases?after=xyz")).error(400, "invalid")
    assert "after" in err["fields"]
