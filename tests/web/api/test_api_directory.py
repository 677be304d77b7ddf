"""Facilities, users and the audit log over the API."""

from __future__ import annotations

import uuid

from apitools import Api

PASSWORD = "Mật khẩu đủ dài 2024!"


async def test_facilities(api: Api) -> None:
    listed = await api.ok("GET", "/api/v1/facilities")
    assert [f["code"] for f in listed["items"]] == ["CHORAY", "BVT", "TTYT-CT", "TTYT-PL"]
    districts = await api.ok("GET", "/api/v1/facilities", params={"level": "district"})
    assert districts["total"] == 2
    found = await api.ok("GET", "/api/v1/facilities", params={"q": "phuoc long"})
    assert [f["code"] for f in found["items"]] == ["TTYT-PL"]
    page = await api.ok("GET", "/api/v1/facilities", params={"limit": "1", "offset": "1"})
    assert [f["code"] for f in page["items"]] == ["BVT"] and page["total"] == 4

    body = {
        "code": "TYT-MT",
        "name": "Trạm Y tế xã Minh Thành",
        "level": "commune",
        "parent_id": str(api.world.district.id),
    }
    (await api.post("/api/v1/facilities", user="coordinator", json=body)).error(403, "forbidden")
    created = await api.ok("POST", "/api/v1/facilities", 201, user="admin", json=body)
    assert created["parent_id"] == str(api.world.district.id)
    assert await api.ok("GET", f"/api/v1/facilities/{created['id']}") == created
    (await api.post("/api/v1/facilities", user="admin", json=body)).error(409, "conflict")
    for change, field in (
        ({"level": "village"}, "level"),
        ({"code": "X"}, "code"),
        ({"parent_id": str(uuid.uuid4()), "code": "N1"}, "parent_id"),
        ({"level": "central", "code": "N2"}, "parent_id"),
        ({"beds": 30, "code": "N3"}, "beds"),
    ):
        err = (await api.post("/api/v1/facilities", user="admin", json={**body, **change})).error(
            400, "invalid"
        )
        assert field in err["fields"], (change, err)
    renamed = await api.ok(
        "PATCH",
        f"/api/v1/facilities/{created['id']}",
        user="admin",
        json={"name": "Trạm Y tế xã Minh Thành (mới)"},
    )
    assert renamed["name"].endswith("(mới)")
    (
        await api.patch(
            f"/api/v1/facilities/{created['id']}", user="admin", json={"level": "central"}
        )
    ).error(400, "invalid")
    (
        await api.patch(f"/api/v1/facilities/{created['id']}", user="doctor", json={"name": "Khác"})
    ).error(403)
    (await api.get(f"/api/v1/facilities/{uuid.uuid4()}")).error(404)
    (await api.get("/api/v1/facilities", params={"level": "x"})).error(400)
    (await api.get("/api/v1/facilities", user=None)).error(401)


async def test_users(api: Api) -> None:
    found = await api.ok("GET", "/api/v1/users", user="coordinator", params={"q": "tran minh"})
    assert [u["username"] for u in found["items"]] == ["t.specialist"]
    assert "password_hash" not in found["items"][0]
    cardio = await api.ok("GET", "/api/v1/users", user="doctor", params={"specialty": "tim"})
    assert [u["username"] for u in cardio["items"]] == ["t.specialist"]
    by_role = await api.ok(
        "GET",
        "/api/v1/users",
        user="admin",
        params={"role": "doctor", "facility_id": str(api.world.district2.id)},
    )
    assert [u["username"] for u in by_role["items"]] == ["t.doctor2"]
    (await api.get("/api/v1/users", user="specialist")).error(403)
    (await api.get("/api/v1/users", user="admin", params={"role": "nurse"})).error(400)

    body = {
        "username": "bs.moi",
        "full_name": "Hoàng Thị Mới",
        "title": "BS.",
        "role": "doctor",
        "facility_id": str(api.world.district.id),
        "password": PASSWORD,
    }
    (await api.post("/api/v1/users", user="coordinator", json=body)).error(403)
    created = await api.ok("POST", "/api/v1/users", 201, user="admin", json=body)
    assert created["display_name"] == "BS. Hoàng Thị Mới" and "password" not in created
    (await api.post("/api/v1/users", user="admin", json=body)).error(409, "conflict")
    for change, field in (
        ({"username": "bs.yeu", "password": "123"}, "password"),
        ({"username": "bs.khac", "role": "nurse"}, "role"),
        ({"username": "bs.khac2", "facility_id": str(uuid.uuid4())}, "facility_id"),
        ({"username": "bs.khac3", "active": False}, "active"),
    ):
        err = (await api.post("/api/v1/users", user="admin", json={**body, **change})).error(400)
        assert field in err["fields"], (change, err)
    url = f"/api/v1/users/{created['id']}"
    assert (await api.ok("GET", url, user="doctor"))["username"] == "bs.moi"
    changed = await api.ok("PATCH", url, user="admin", json={"specialty": "Nhi"})
    assert changed["specialty"] == "Nhi"
    disabled = await api.ok("PATCH", url, user="admin", json={"active": False})
    assert disabled["active"] is False
    (await api.get(url, user="doctor")).error(404)
    (await api.patch(url, user="admin", json={"active": "no way"})).error(400)
    (
        await api.patch(
            f"/api/v1/users/{api.world.id('admin')}", user="admin", json={"active": False}
        )
    ).error(409)
    (await api.get(f"/api/v1/users/{uuid.uuid4()}", user="admin")).error(404)


async def test_audit(api: Api) -> None:
    patient = await api.patient()
    await api.ok("GET", f"/api/v1/patients/{patient['id']}")
    events = await api.ok(
        "GET", "/api/v1/audit", user="admin", params={"patient_id": patient["id"], "limit": "10"}
    )
    assert {e["action"] for e in events["items"]} == {"create", "view"}
    views = await api.ok(
        "GET", "/api/v1/audit", user="admin", params={"action": "view", "since": "2020-01-01"}
    )
    assert views["total"] >= 1
    reply = await api.get("/api/v1/audit.csv", user="admin", params={"patient_id": patient["id"]})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert len(reply.body.decode().strip().splitlines()) == 3
    (await api.get("/api/v1/audit", user="doctor")).error(403)
    (await api.get("/api/v1/audit", user="admin", params={"since": "yesterday"})).error(400)
    (await api.get("/api/v1/audit", user="admin", params={"user_id": "me"})).error(400)
