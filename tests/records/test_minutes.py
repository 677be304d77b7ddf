"""Minutes: chair-only drafting, pre-fill from attendance and the case, immutability."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import factories
import pytest
from minutestools import sign, with_password
from sqlalchemy.ext.asyncio import AsyncSession

from records import audit
from records.actor import Actor, ReadPolicy
from records.errors import Conflict, Forbidden, Invalid, NotFound
from records.models import (
    CaseStatus,
    FacilityLevel,
    MinutesStatus,
    MinutesUpdate,
    ParticipantRole,
    Role,
)
from records.services import cases, minutes, room_events

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


async def test_draft_finalize_and_immutability(session: AsyncSession) -> None:
    prov = await factories.facility(session, level=FacilityLevel.provincial, name="Bệnh viện tỉnh")
    dist = await factories.facility(session, parent=prov)
    doc_user = await factories.user(session, facility=dist)
    chair_user = await with_password(
        session,
        await factories.user(
            session,
            facility=prov,
            role=Role.specialist,
            full_name="Nguyễn Thị Lan",
            title="TS.BS.",
        ),
    )
    spec_user = await factories.user(session, facility=prov, role=Role.specialist)
    p = await factories.patient(session, facility=dist, full_name="Trần Văn Hùng")
    case = await factories.case(session, patient=p, author=doc_user, status="scheduled")
    c = await factories.consultation(
        session,
        host=prov,
        requesting=dist,
        cases=[case],
        chair=chair_user,
        participants={spec_user.id: ParticipantRole.specialist},
    )
    chair, spec, doc = Actor.of(chair_user), Actor.of(spec_user), Actor.of(doc_user)
    await room_events.record_join(
        session=session, room_id=c.room_id, user_id=chair_user.id, peer_id="p1", at=T0
    )

    with pytest.raises(NotFound):
        await minutes.get_or_draft(
            session=session, consultation_id=c.id, case_id=case.id, actor=spec
        )
    # Reading never writes: the chair sees a pre-filled draft that is not stored yet.
    unsaved = await minutes.read_minutes(
        session=session, consultation_id=c.id, case_id=case.id, actor=chair
    )
    assert unsaved.patient_block["full_name"] == "Trần Văn Hùng"
    assert await minutes.list_minutes(session=session, consultation_id=c.id, actor=chair) == []
    with pytest.raises(NotFound):
        await minutes.read_minutes(
            session=session, consultation_id=c.id, case_id=case.id, actor=spec
        )
    draft = await minutes.get_or_draft(
        session=session, consultation_id=c.id, case_id=case.id, actor=chair
    )
    assert draft.status == MinutesStatus.draft
    assert draft.attendees == [
        {
            "user_id": str(chair_user.id),
            "name": "TS.BS. Nguyễn Thị Lan",
            "title": "TS.BS.",
            "full_name": "Nguyễn Thị Lan",
            "specialty": "",
            "facility": "Bệnh viện tỉnh",
            "role": "chair",
            "guest": False,
            "intervals": [[T0.isoformat(), None]],
        }
    ]
    assert draft.connection_points == ["Bệnh viện tỉnh"]
    assert draft.started_at == T0 and draft.secretary_id == chair_user.id
    assert draft.patient_block["full_name"] == "Trần Văn Hùng"

    with pytest.raises(Forbidden):
        await minutes.save_draft(
            session=session,
            consultation_id=c.id,
            case_id=case.id,
            actor=spec,
            data=MinutesUpdate(conclusion="x"),
        )
    with pytest.raises(Invalid):
        await sign(session, c.id, case.id, chair)
    await minutes.save_draft(
        session=session,
        consultation_id=c.id,
        case_id=case.id,
        actor=chair,
        data=MinutesUpdate(
            conclusion="Nhồi máu cơ tim cấp", treatment_plan="Chuyển tuyến can thiệp"
        ),
    )
    final = await sign(session, c.id, case.id, chair)
    assert final.status == MinutesStatus.final and final.finalized_at is not None
    assert (
        await cases.get_case(session=session, case_id=case.id, actor=doc)
    ).status == CaseStatus.discussed

    with pytest.raises(Conflict) as err:
        await minutes.save_draft(
            session=session,
            consultation_id=c.id,
            case_id=case.id,
            actor=chair,
            data=MinutesUpdate(conclusion="Khác"),
        )
    assert err.value.message == "Biên bản đã hoàn tất, không thể sửa"
    with pytest.raises(Conflict):
        await sign(session, c.id, case.id, chair)

    for reader in (doc, spec, chair):
        got = await minutes.get_minutes(session=session, minutes_id=final.id, actor=reader)
        assert got.conclusion == "Nhồi máu cơ tim cấp"
        listed = await minutes.list_minutes(session=session, consultation_id=c.id, actor=reader)
        assert [m.id for m in listed] == [final.id]
    outsider = Actor.of(await factories.user(session, facility=prov, role=Role.specialist))
    with pytest.raises(NotFound):
        await minutes.get_minutes(session=session, minutes_id=final.id, actor=outsider)

    # The specialist's window closes followup_days after the minutes are final.
    final.finalized_at = datetime.now(UTC) - timedelta(days=31)
    session.add(final)
    await session.commit()
    with pytest.raises(NotFound):
        await minutes.get_minutes(session=session, minutes_id=final.id, actor=spec)
    assert await minutes.list_minutes(session=session, consultation_id=c.id, actor=spec) == []
    # The window is the configured one, in every way of reading the minutes.
    longer = replace(spec, policy=ReadPolicy(followup_days=60))
    got = await minutes.get_minutes(session=session, minutes_id=final.id, actor=longer)
    assert got.id == final.id
    listed = await minutes.list_minutes(session=session, consultation_id=c.id, actor=longer)
    assert [m.id for m in listed] == [final.id]
    read = await minutes.read_minutes(
        session=session, consultation_id=c.id, case_id=case.id, actor=longer
    )
    assert read.id == final.id
    with pytest.raises(NotFound):
        await minutes.read_minutes(
            session=session, consultation_id=c.id, case_id=case.id, actor=spec
        )
    assert (await audit.verify(session)).ok
