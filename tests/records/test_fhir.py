"""The FHIR export of the demo's finished consultation: a document Bundle that fhir.resources
validates whole, on SQLite and PostgreSQL, whose references all resolve inside it; access as
for the minutes; the export is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.errors import NotFound
from records.fhir import consultation_bundle
from records.models import (
    Attachment,
    AuditEvent,
    Consultation,
    ConsultationStatus,
    OutcomeCreate,
    OutcomeKind,
    User,
)
from records.passwords import hash_password
from records.services import outcomes
from telemed.demo import seed_demo

# The demo's session discussed three days ago, with the minutes written through the services.
STROKE = "Hội chẩn khẩn thần kinh"


def _url(a: Attachment) -> str:
    return f"/api/v1/attachments/{a.id}"


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["reference"]] if isinstance(node.get("reference"), str) else []
        for value in node.values():
            out += _references(value)
        return out
    if isinstance(node, list):
        return [x for item in node for x in _references(item)]
    return []


async def _user(session: AsyncSession, username: str) -> User:
    return (await session.execute(select(User).where(User.username == username))).scalar_one()


@pytest.fixture
async def demo(engine: AsyncEngine, tmp_path: Path) -> AsyncSession:
    await seed_demo(
        session_maker=session_maker(engine),
        blobs=BlobStore(tmp_path / "blobs"),
        password="Hoichan-demo-2025",
        hash_password=hash_password,
    )
    return session_maker(engine)()


async def test_the_demo_consultation_exports_as_a_valid_document(demo: AsyncSession) -> None:
    async with demo as session:
        ended = (
            await session.execute(
                select(Consultation).where(
                    Consultation.status == ConsultationStatus.ended,
                    col(Consultation.title).startswith(STROKE),
                )
            )
        ).scalar_one()
        doctor = Actor.of(await _user(session, "bs.phuoclong"))
        [case_id] = [
            f.minutes.case_id
            for f in (
                await outcomes.for_consultation(
                    session=session, consultation_id=ended.id, actor=doctor
                )
            ).values()
        ]
        await outcomes.record_outcome(
            session=session,
            consultation_id=ended.id,
            case_id=case_id,
            data=OutcomeCreate(
                kind=OutcomeKind.transferred,
                outcome_date=ended.scheduled_start.date(),  # type: ignore[union-attr]
                note="Chuyển Bệnh viện Chợ Rẫy",
            ),
            actor=doctor,
        )
        bundle = await consultation_bundle(
            session=session, consultation_id=ended.id, actor=doctor, attachment_url=_url
        )
        data = orjson.loads(bundle.model_dump_json())
        # The whole document validates again from its JSON, as a receiving system reads it.
        again = Bundle.model_validate_json(orjson.dumps(data))
        assert again.type == "document" and again.identifier and again.timestamp
        kinds = [e["resource"]["resourceType"] for e in data["entry"]]
        assert kinds[0] == "Composition"
        for kind in (
            "Patient",
            "Practitioner",
            "PractitionerRole",
            "Organization",
            "ServiceRequest",
            "Appointment",
            "Encounter",
        ):
            assert kind in kinds, kind
        full_urls = {e["fullUrl"] for e in data["entry"]}
        assert len(full_urls) == len(data["entry"])
        dangling = [x for x in _references(data) if x not in full_urls]
        assert dangling == []

        by_kind: dict[str, list[dict[str, Any]]] = {}
        for e in data["entry"]:
            by_kind.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
        composition = by_kind["Composition"][0]
        assert composition["status"] == "final" and composition["attester"][0]["mode"] == "legal"
        titles = [s["title"] for s in composition["section"]]
        assert titles[:6] == [
            "Thành phần tham dự",
            "Lý do hội chẩn",
            "Tóm tắt tiền sử, diễn biến, kết quả và điều trị",
            "Ý kiến thảo luận",
            "Kết luận",
            "Hướng điều trị và chăm sóc",
        ]
        assert "Kết quả sau hội chẩn" in titles
        assert "Chuyển Bệnh viện Chợ Rẫy" in str(composition["section"])
        encounter = by_kind["Encounter"][0]
        assert encounter["class"]["code"] == "VR" and encounter["status"] == "finished"
        assert len(encounter["participant"]) == 3
        assert by_kind["Appointment"][0]["status"] == "fulfilled"
        assert by_kind["ServiceRequest"][0]["status"] == "completed"
        attachments = (
            (await session.execute(select(Attachment).where(Attachment.case_id == case_id)))
            .scalars()
            .all()
        )
        assert len(by_kind.get("DocumentReference", [])) == len(attachments)
        dicoms = [a for a in attachments if a.kind == "dicom"]
        assert len(by_kind.get("ImagingStudy", [])) == len(dicoms)
        exported = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "export")))
            .scalars()
            .all()
        )
        assert [e.object_type for e in exported] == ["minutes"]

        # Another facility's doctor, and a specialist not invited, find nothing.
        for stranger in ("bs.chonthanh",):
            with pytest.raises(NotFound):
                await consultation_bundle(
                    session=session,
                    consultation_id=ended.id,
                    actor=Actor.of(await _user(session, stranger)),
                    attachment_url=_url,
                )
