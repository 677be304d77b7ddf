"""Patients over the API: create, read, search without accents, edit, and bad input."""

from __future__ import annotations

import uuid

from apitools import Api
from sqlalchemy.ext.asyncio import AsyncEngine
from webtools import PASSWORD, password_hash

from records.db import session_maker
from records.models import User

PATIENTS = "/api/v1/patients"


async def test_create_read_update_and_search(api: Api) -> None:
    created = await api.patient(
        full_name="  Nguyễn   Văn An ", insurance_number="dn 4797912345678", address="Chơn Thành"
    )
    assert created["full_name"] == "Nguyễn Văn An"
    assert created["insurance_number"] == "DN4797912345678"
    assert created["facility_id"] == str(api.world.district.id)
    await api.patient(mrn="BN-0002", full_name="Trần Thị Bích", sex="female", birth_year=1980)

    read = await api.ok("GET", f"{PATIENTS}/{created['id']}")
    assert read == created

    found = await api.ok("GET", PATIENTS, params={"q": "nguyen van a"})
    assert [p["id"] for p in found["items"]] == [created["id"]]
    assert found["total"] == 1 and found["limit"] == 50 and found["offset"] == 0
    by_mrn = await api.ok("GET", PATIENTS, params={"q": "BN-0002"})
    assert [p["mrn"] for p in by_mrn["items"]] == ["BN-0002"]

    changed = await api.ok(
        "PATCH", f"{PATIENTS}/{created['id']}", json={"address": "Bình Phước", "phone": "0912"}
    )
    assert changed["address"] == "Bình Phước" and changed["full_name"] == "Nguyễn Văn An"


async def test_pagination(api: Api) -> None:
    for i in range(5):
        await api.patient(mrn=f"BN-{i:04d}", full_name=f"Lê Văn {chr(65 + i)}")
    first = await api.ok("GET", PATIENTS, params={"limit": "2"})
    second = await api.ok("GET", PATIENTS, params={"limit": "2", "offset": "2"})
    last = await api.ok("GET", PATIENTS, params={"limit": "2", "offset": "4"})
    assert first["total"] == second["total"] == last["total"] == 5
    names = [p["full_name"] for p in first["items"] + second["items"] + last["items"]]
    assert names == [f"Lê Văn {c}" for c in "ABCDE"]
    assert (await api.ok("GET", PATIENTS, params={"limit": "200"}))["limit"] == 200
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-3"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"q": "a" * 201}, "q"),
    ):
        err = (await api.get(PATIENTS, params=params)).error(400, "invalid")
        assert field in err["fields"], (params, err)


async def test_validation_errors_name_the_fields(api: Api) -> None:
    cases: list[tuple[object, str]] = [
        ({"full_name": "Nguyễn Văn An", "sex": "male", "birth_year": 1961}, "mrn"),
        ({"mrn": 42, "full_name": "Nguyễn Văn An", "sex": "male", "birth_year": 1961}, "mrn"),
        ({"mrn": "BN1", "full_name": "Nguyễn Văn An", "sex": "nam", "birth_year": 1961}, "sex"),
        ({"mrn": "BN1", "full_name": "A", "sex": "male", "birth_year": 1961}, "full_name"),
        (
            {"mrn": "BN1", "full_name": "Nguyễn Văn An", "sex": "male", "birth_year": "xx"},
            "birth_year",
        ),
        (
            {"mrn": "BN1", "full_name": "Nguyễn Văn An", "sex": "male", "birth_year": 1800},
            "birth_year",
        ),
        (
            {"mrn": "BN1", "full_name": "Nguyễn Văn An", "sex": "male", "birth_date": "31/12/1960"},
            "birth_date",
        ),
        (
            {
                "mrn": "BN1",
                "full_name": "Nguyễn Văn An",
                "sex": "male",
                "birth_year": 1961,
                "ward": 3,
            },
            "ward",
        ),
        (
            {
                "mrn": "BN1",
                "full_name": "Nguyễn Văn An",
                "sex": "male",
                "birth_year": 1961,
                "facility_id": str(uuid.uuid4()),
            },
            "facility_id",
        ),
    ]
    for body, field in cases:
        err = (await api.post(PATIENTS, json=body)).error(400, "invalid")
        assert field in err["fields"], (body, err)
        assert err["message"].startswith("Dữ liệu")
    # Neither date nor year of birth: a rule of the whole object.
    err = (
        await api.post(PATIENTS, json={"mrn": "BN1", "full_name": "Nguyễn Văn An", "sex": "male"})
    ).error(400, "invalid")
    assert "Cần nhập ngày sinh hoặc năm sinh" in err["fields"].values()
    assert (await api.ok("GET", PATIENTS))["total"] == 0


async def test_bodies_that_are_not_json_objects(api: Api) -> None:
    (
        await api.post(PATIENTS, data=b"{not json", headers={"Content-Type": "application/json"})
    ).error(400, "invalid")
    (await api.post(PATIENTS, json=["a", "b"])).error(400, "invalid")
    (await api.post(PATIENTS, json="text")).error(400, "invalid")
    (
        await api.post(PATIENTS, data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    ).error(400, "invalid")
    (await api.post(PATIENTS, data=b"mrn=1", headers={"Content-Type": "text/plain"})).error(
        415, "unsupported-media-type"
    )
    big = b'{"mrn": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    (await api.post(PATIENTS, data=big, headers={"Content-Type": "application/json"})).error(
        413, "too-large"
    )
    assert (await api.ok("GET", PATIENTS))["total"] == 0


async def test_duplicate_record_number_is_a_conflict(api: Api) -> None:
    await api.patient(mrn="BN-7")
    err = (
        await api.post(
            PATIENTS,
            json={"mrn": "BN-7", "full_name": "Lê Thị C", "sex": "female", "birth_year": 1990},
        )
    ).error(409, "conflict")
    assert "mrn" in err["fields"]
    assert (await api.ok("GET", PATIENTS))["total"] == 1


async def test_other_facilities_and_anonymous_callers(api: Api) -> None:
    patient = await api.patient()
    url = f"{PATIENTS}/{patient['id']}"
    (await api.get(url, user="doctor2")).error(404, "not-found")
    (await api.patch(url, user="doctor2", json={"address": "x"})).error(404, "not-found")
    assert (await api.ok("GET", PATIENTS, user="doctor2"))["total"] == 0
    (await api.get(url, user=None)).error(401, "unauthenticated")
    (await api.get(PATIENTS, user=None)).error(401, "unauthenticated")
    (await api.post(PATIENTS, user=None, json={})).error(401, "unauthenticated")
    (await api.get(url, user=None, headers={"Authorization": "Bearer " + "x" * 40})).error(
        401, "unauthenticated"
    )
    (
        await api.post(
            PATIENTS,
            user="specialist",
            json={"mrn": "X1", "full_name": "Lê Văn D", "sex": "male", "birth_year": 1950},
        )
    ).error(403, "forbidden")


async def test_bad_ids_and_bad_updates(api: Api) -> None:
    patient = await api.patient()
    url = f"{PATIENTS}/{patient['id']}"
    (await api.get(f"{PATIENTS}/not-a-uuid")).error(404, "not-found")
    (await api.get(f"{PATIENTS}/{uuid.uuid4()}")).error(404, "not-found")
    (await api.patch(url, json={"full_name": None})).error(400, "invalid")
    (await api.patch(url, json={"sex": "x"})).error(400, "invalid")
    (await api.patch(url, json={"mrn": "BN-9"})).error(400, "invalid")
    (await api.patch(url, json={"birth_year": 1970, "birth_date": "1961-02-03"})).error(
        400, "invalid"
    )
    assert await api.ok("GET", url) == patient


async def test_browser_session_needs_the_csrf_token(api: Api, engine: AsyncEngine) -> None:
    async with session_maker(engine)() as session:
        doctor = await session.get(User, api.world.users["doctor"].id)
        assert doctor is not None
        doctor.password_hash = password_hash()
        session.add(doctor)
        await session.commit()
    origin = str(api.client.make_url("/")).rstrip("/")
    login = await api.post(
        "/api/v1/session",
        user=None,
        json={"username": doctor.username, "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert login.status == 200, login.body
    csrf = login.json["csrf_token"]
    body = {"mrn": "BN-C1", "full_name": "Lê Văn Cookie", "sex": "male", "birth_year": 1977}
    (await api.post(PATIENTS, user=None, json=body)).error(403, "forbidden")
    (await api.post(PATIENTS, user=None, json=body, headers={"X-CSRF-Token": "x" * 43})).error(
        403, "forbidden"
    )
    assert (await api.ok("GET", PATIENTS, user=None))["total"] == 0
    await api.ok("POST", PATIENTS, 201, user=None, json=body, headers={"X-CSRF-Token": csrf})
    assert (await api.ok("GET", PATIENTS, user=None))["total"] == 1


async def test_identity_as_the_forms_ask(api: Api) -> None:
    made = await api.patient(
        sex="female",
        birth_year=1968,
        ethnicity="03",
        occupation="Làm ruộng",
        citizen_id="070 168 001 234",
    )
    assert (made["ethnicity"], made["occupation"], made["citizen_id"]) == (
        "03",
        "Làm ruộng",
        "070168001234",
    )
    case = await api.case(made["id"], department="Khoa Nội tổng hợp", bed="12")
    assert (case["department"], case["bed"]) == ("Khoa Nội tổng hợp", "12")
    path = f"{PATIENTS}/{made['id']}"
    for body, field, text in (
        ({"ethnicity": "55"}, "ethnicity", "Dân tộc không có trong danh mục 54 dân tộc"),
        ({"citizen_id": "07016800123"}, "citizen_id", "Số CCCD gồm đúng 12 chữ số"),
        ({"citizen_id": "003168001234"}, "citizen_id", "Số CCCD có mã tỉnh"),
        ({"citizen_id": "070068001234"}, "citizen_id", "Số CCCD không khớp với giới tính"),
        ({"birth_year": 1970}, "citizen_id", "Số CCCD không khớp với năm sinh"),
    ):
        err = (await api.patch(path, json=body)).error(400, "invalid")
        assert err["fields"][field].startswith(text), (body, err)
    assert await api.ok("GET", path) == made
