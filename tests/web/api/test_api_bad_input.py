"""Input that once made the server fail: each is a 400 with a message, and nothing changes."""

from __future__ import annotations

from apitools import Api

PATIENTS = "/api/v1/patients"
CASES = "/api/v1/cases"


async def test_nul_in_a_search_is_refused(api: Api) -> None:
    await api.patient()
    for path in (PATIENTS, CASES, "/api/v1/consultations"):
        err = (await api.get(path, params={"q": "Nguyễn\x00"})).error(400, "invalid")
        assert "q" in err["fields"], (path, err)
    assert (await api.ok("GET", PATIENTS, params={"q": "nguyen"}))["total"] == 1


async def test_null_for_a_text_field_is_a_field_error(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    for field in ("history", "title", "examination", "diagnosis", "question"):
        err = (await api.patch(f"{CASES}/{case['id']}", json={field: None})).error(400, "invalid")
        assert field in err["fields"], (field, err)
    err = (await api.patch(f"{PATIENTS}/{patient['id']}", json={"full_name": None})).error(
        400, "invalid"
    )
    assert "full_name" in err["fields"], err
    read = await api.ok("GET", f"{CASES}/{case['id']}")
    assert read["history"] == case["history"]


async def test_birth_dates_before_1900_are_refused(api: Api) -> None:
    for birth in ("1899-12-31", "0001-01-01", "1000-05-05"):
        err = (
            await api.post(
                PATIENTS,
                json={"mrn": "BN-9", "full_name": "Cụ Già", "sex": "male", "birth_date": birth},
            )
        ).error(400, "invalid")
        assert "birth_date" in err["fields"], err
    patient = await api.patient()
    err = (await api.patch(f"{PATIENTS}/{patient['id']}", json={"birth_date": "1899-01-01"})).error(
        400, "invalid"
    )
    assert "birth_date" in err["fields"], err
    assert (await api.ok("GET", PATIENTS))["total"] == 1


async def test_multipart_without_a_boundary(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    for user in ("doctor", "doctor2"):
        (
            await api.post(
                f"{CASES}/{case['id']}/attachments",
                user=user,
                data=b"--x\r\n\r\n--x--\r\n",
                headers={"Content-Type": "multipart/form-data"},
            )
        ).error(400, "invalid")
    assert (await api.ok("GET", f"{CASES}/{case['id']}/attachments"))["total"] == 0


async def test_nul_bytes_in_a_multipart_header(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="kind"\r\n\r\nlab\r\n'
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a\x00b.txt"\r\n'
        b"Content-Type: text/plain\x00\r\n\r\n"
        b"Glucose 5.6\r\n"
        b"--b--\r\n"
    )
    (
        await api.post(
            f"{CASES}/{case['id']}/attachments",
            data=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    ).error(400, "invalid")
    assert (await api.ok("GET", f"{CASES}/{case['id']}/attachments"))["total"] == 0


async def test_nul_anywhere_in_text_is_refused(api: Api) -> None:
    """Siblings of the search: a NUL in a JSON field, a multipart field or a thread post."""
    err = (
        await api.post(
            PATIENTS,
            json={"mrn": "BN-1", "full_name": "Nguyễn\x00 An", "sex": "male", "birth_year": 1960},
        )
    ).error(400, "invalid")
    assert "full_name" in err["fields"], err
    patient = await api.patient()
    case = await api.case(patient["id"])
    err = (await api.patch(f"{CASES}/{case['id']}", json={"history": "a\x00b"})).error(400)
    assert "history" in err["fields"], err
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="kind"\r\n\r\nlab\r\n'
        b"--b\r\n"
        b'Content-Disposition: form-data; name="description"\r\n\r\nx\x00y\r\n'
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="kq.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"Glucose 5.6\r\n"
        b"--b--\r\n"
    )
    (
        await api.post(
            f"{CASES}/{case['id']}/attachments",
            data=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    ).error(400, "invalid")
    assert (await api.ok("GET", f"{CASES}/{case['id']}/attachments"))["total"] == 0
    (
        await api.post(
            f"{CASES}/{case['id']}/thread",
            data=body.replace(b'name="description"', b'name="text"'),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    ).error(400, "invalid")
    assert (await api.ok("GET", f"{CASES}/{case['id']}"))["history"] == case["history"]
