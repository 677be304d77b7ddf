"""The FHIR export over the API: a document Bundle as application/fhir+json, 409 before any
minutes, 404 for another facility, 400 when the case must be named."""

from __future__ import annotations

import orjson
from apitools import Api
from fhir.resources.R4B.bundle import Bundle


async def test_fhir_document_of_a_consultation(api: Api) -> None:
    patient = await api.patient()
    case = await api.case(patient["id"])
    consultation = await api.scheduled(case["id"])
    url = f"/api/v1/consultations/{consultation['id']}/fhir"

    (await api.get(url, user="doctor")).error(409, "conflict")
    minutes = f"/api/v1/consultations/{consultation['id']}/minutes/{case['id']}"
    await api.ok("PUT", minutes, user="specialist", json={"conclusion": "Đau thắt ngực"})

    reply = await api.get(url, user="doctor")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(reply.body)
    assert bundle.type == "document"
    data = orjson.loads(reply.body)
    composition = data["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition" and composition["status"] == "preliminary"
    documents = [
        e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "DocumentReference"
    ]
    for d in documents:
        assert d["content"][0]["attachment"]["url"].startswith("/api/v1/attachments/")

    by_case = await api.get(url, user="specialist", params={"case_id": case["id"]})
    assert by_case.status == 200
    (await api.get(url, user="doctor2")).error(404, "not-found")
    (await api.get(url, user="doctor", params={"case_id": patient["id"]})).error(404)
    (await api.get(url, user="doctor", params={"case_id": "not-a-uuid"})).error(400)
