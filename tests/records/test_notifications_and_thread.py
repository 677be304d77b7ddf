"""The workflow between the calls in the records: events announced after commit become
notifications (and e-mails in the outbox) for exactly the right people, reminders go out once,
the outbox is claimed by one sender at a time, invitations are answered, and the case thread
and the room's chat follow the case's access rules, follow-up window included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import factories
import pytest
import sqlalchemy as sa
from minutestools import sign, with_password
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from records import events as ev
from records.actor import Actor, ReadPolicy
from records.db import SessionMaker, session_maker
from records.errors import Invalid, NotFound
from records.models import (
    Attendance,
    Consultation,
    ConsultationRequest,
    ConsultationSchedule,
    ConsultationStatus,
    EmailOutbox,
    FacilityLevel,
    InvitationAnswer,
    InvitationResponse,
    Minutes,
    MinutesStatus,
    Notification,
    NotificationKind,
    Role,
    ThreadKind,
    ThreadPost,
    Urgency,
    User,
    utcnow,
)
from records.services import (
    consultations,
    invitations,
    mail_outbox,
    notifications,
    notify_events,
    room_admission,
    room_events,
    schedules,
    thread,
)
from records.services.mail_outbox import Backoff


@dataclass
class Line:
    """A district centre and its provincial hospital, their people and a case, with a hub."""

    sessions: SessionMaker
    events: list[ev.DomainEvent]
    doctor: User
    coordinator: User
    chair: User
    specialist: User
    outsider: User
    case_id: uuid.UUID
    host_id: uuid.UUID
    patient_name: str

    def actor(self, user: User) -> Actor:
        """The actor of one of the people."""
        return Actor.of(user)


@pytest.fixture
async def line(engine: AsyncEngine) -> AsyncIterator[Line]:
    hub = ev.EventHub()
    seen: list[ev.DomainEvent] = []
    plain = session_maker(engine)

    async def record(event: ev.DomainEvent) -> None:
        seen.append(event)
        async with plain() as s:
            await notify_events.notify(session=s, event=event)

    hub.listen(record)
    async with plain() as s:
        prov = await factories.facility(s, level=FacilityLevel.provincial, name="BV tỉnh")
        dist = await factories.facility(s, parent=prov, name="TTYT huyện Chơn Thành")
        other = await factories.facility(s, parent=prov, name="TTYT Phước Long")
        people = {
            "doctor": await factories.user(s, facility=dist),
            "coordinator": await factories.user(s, facility=prov, role=Role.coordinator),
            "chair": await factories.user(s, facility=prov, role=Role.specialist),
            "specialist": await factories.user(s, facility=prov, role=Role.specialist),
            "outsider": await factories.user(s, facility=other),
        }
        for i, u in enumerate(people.values()):
            u.email = f"nguoi{i}@benhvien.vn"
            s.add(u)
        await s.commit()
        patient = await factories.patient(s, facility=dist, full_name="Nguyễn Thị Lan")
        case = await factories.case(s, patient=patient, author=people["doctor"])
        case.urgency = Urgency.emergency
        s.add(case)
        await s.commit()
    yield Line(
        sessions=session_maker(engine, events=hub),
        events=seen,
        case_id=case.id,
        host_id=prov.id,
        patient_name=patient.full_name,
        **people,
    )


async def _mine(s: AsyncSession, user: User) -> list[Notification]:
    rows = await s.execute(select(Notification).where(Notification.user_id == user.id))
    return list(rows.scalars().all())


async def _request(line: Line) -> uuid.UUID:
    async with line.sessions() as s:
        c = await consultations.request_consultation(
            session=s,
            actor=line.actor(line.doctor),
            data=ConsultationRequest(
                title="Hội chẩn: Nguyễn Thị Lan",
                case_ids=[line.case_id],
                host_facility_id=line.host_id,
            ),
        )
    return c.id


async def _schedule(line: Line, cid: uuid.UUID, start_in: timedelta = timedelta(days=1)) -> None:
    start = (utcnow() + start_in).replace(microsecond=0)
    async with line.sessions() as s:
        await schedules.schedule(
            session=s,
            consultation_id=cid,
            actor=line.actor(line.coordinator),
            data=ConsultationSchedule(
                scheduled_start=start,
                scheduled_end=start + timedelta(hours=1),
                chair_id=line.chair.id,
                invitees=[line.specialist.id],
            ),
        )


async def test_each_event_tells_exactly_the_right_people(line: Line) -> None:
    cid = await _request(line)
    async with line.sessions() as s:
        told = await _mine(s, line.coordinator)
        assert [n.kind for n in told] == [NotificationKind.request]
        assert told[0].emergency and told[0].message.startswith("CẤP CỨU")
        # Nobody else hears of a request to the hospital; nothing clinical is said.
        for other in (line.chair, line.specialist, line.outsider, line.doctor):
            assert await _mine(s, other) == []
        text = str(notifications.text_of(told[0]))
        assert line.patient_name not in text and "Hội chẩn:" not in text
        assert notifications.reference(cid) in text and "Chơn Thành" in text
        # The coordinator wants e-mails (the default): one waits in the outbox.
        mails = (await s.execute(select(EmailOutbox))).scalars().all()
        assert [m.to_address for m in mails] == [line.coordinator.email]

    await _schedule(line, cid)
    async with line.sessions() as s:
        assert [n.kind for n in await _mine(s, line.chair)] == [NotificationKind.invited]
        assert [n.kind for n in await _mine(s, line.specialist)] == [NotificationKind.invited]
        assert [n.kind for n in await _mine(s, line.doctor)] == [NotificationKind.scheduled]
        assert await _mine(s, line.outsider) == []

    # Moved: everyone hears of the new time and is asked again.
    await _schedule(line, cid, timedelta(days=2))
    async with line.sessions() as s:
        kinds = [n.kind for n in await _mine(s, line.specialist)]
        assert sorted(kinds) == [NotificationKind.invited, NotificationKind.scheduled]
        assert "đổi giờ" in (await _mine(s, line.doctor))[-1].message or any(
            "đổi giờ" in n.message for n in await _mine(s, line.doctor)
        )

    # A decline, with its reason, goes to the host's coordinators.
    async with line.sessions() as s:
        with pytest.raises(Invalid):
            await invitations.answer_invitation(
                session=s,
                consultation_id=cid,
                actor=line.actor(line.specialist),
                data=InvitationAnswer(accept=False, reason="  "),
            )
        answered = await invitations.answer_invitation(
            session=s,
            consultation_id=cid,
            actor=line.actor(line.specialist),
            data=InvitationAnswer(accept=False, reason="Trực cấp cứu"),
        )
        assert answered.response == InvitationResponse.declined
        with pytest.raises(NotFound):
            await invitations.answer_invitation(
                session=s,
                consultation_id=cid,
                actor=line.actor(line.outsider),
                data=InvitationAnswer(accept=True),
            )
    async with line.sessions() as s:
        declined = [n for n in await _mine(s, line.coordinator) if n.kind == "declined"]
        assert len(declined) == 1
    async with line.sessions() as s:
        await invitations.answer_invitation(
            session=s,
            consultation_id=cid,
            actor=line.actor(line.chair),
            data=InvitationAnswer(accept=True),
        )
    async with line.sessions() as s:
        assert len([n for n in await _mine(s, line.coordinator) if n.kind == "declined"]) == 1

    # Withdrawn and cancelled: the room must hear of both.
    async with line.sessions() as s:
        await schedules.uninvite(
            session=s,
            consultation_id=cid,
            user_id=line.specialist.id,
            actor=line.actor(line.coordinator),
        )
        await consultations.cancel(
            session=s, consultation_id=cid, actor=line.actor(line.coordinator)
        )
    withdrawn = [e for e in line.events if isinstance(e, ev.InvitationWithdrawn)]
    cancelled = [e for e in line.events if isinstance(e, ev.ConsultationCancelled)]
    assert [e.user_id for e in withdrawn] == [line.specialist.id]
    assert len(cancelled) == 1 and cancelled[0].room_id and line.chair.id in cancelled[0].invitees
    async with line.sessions() as s:
        assert any(n.kind == "cancelled" for n in await _mine(s, line.doctor))
        assert not any(n.kind == "cancelled" for n in await _mine(s, line.specialist))


async def test_a_live_session_can_be_called_off(line: Line) -> None:
    cid = await _request(line)
    await _schedule(line, cid)
    async with line.sessions() as s:
        c = await consultations.mark_live(
            session=s, consultation_id=cid, actor=line.actor(line.coordinator)
        )
        assert c.status == ConsultationStatus.live
        c = await consultations.cancel(
            session=s, consultation_id=cid, actor=line.actor(line.coordinator)
        )
        assert c.status == ConsultationStatus.cancelled


async def test_minutes_and_outcome_hooks_notify(line: Line) -> None:
    cid = await _request(line)
    await _schedule(line, cid)
    async with line.sessions() as s:
        s.add(
            Minutes(
                consultation_id=cid,
                case_id=line.case_id,
                conclusion="Suy tim",
                status=MinutesStatus.draft,
            )
        )
        await s.commit()
    async with line.sessions() as s:
        await consultations.mark_live(
            session=s, consultation_id=cid, actor=line.actor(line.coordinator)
        )
        chair = await s.get(User, line.chair.id)
        assert chair is not None
        await with_password(s, chair)
        # The chair acts as secretary: one confirmation makes the minutes final.
        await sign(s, cid, line.case_id, line.actor(line.chair))
    async with line.sessions() as s:
        for person in (line.doctor, line.specialist):
            assert any(n.kind == "minutes" for n in await _mine(s, person)), person.username
        assert not any(n.kind == "minutes" for n in await _mine(s, line.chair))
        await notify_events.outcome_overdue(session=s, case_id=line.case_id, consultation_id=cid)
        assert any(n.kind == "outcome" for n in await _mine(s, line.doctor))


async def test_reminders_go_out_once(line: Line) -> None:
    cid = await _request(line)
    await _schedule(line, cid, timedelta(minutes=10))
    async with line.sessions() as a, line.sessions() as b:
        # Two processes look at the same moment: one sends.
        first, second = await asyncio.gather(
            notify_events.send_reminders(session=a), notify_events.send_reminders(session=b)
        )
        again = await notify_events.send_reminders(session=a)
    assert sorted(n.user_id for n in first + second) == sorted(
        [line.chair.id, line.specialist.id, line.doctor.id]
    )
    assert again == []
    await _schedule(line, cid, timedelta(minutes=12))
    async with line.sessions() as s:
        assert len(await notify_events.send_reminders(session=s)) == 3


async def test_the_outbox_is_claimed_once_and_retried_with_backoff(line: Line) -> None:
    for _ in range(3):
        await _request(line)
        async with line.sessions() as s:
            # Let the next request go through (the case is busy while a request is open).
            c = (
                (
                    await s.execute(
                        select(Consultation).where(
                            Consultation.status == ConsultationStatus.requested
                        )
                    )
                )
                .scalars()
                .first()
            )
            assert c is not None
            await consultations.cancel(
                session=s, consultation_id=c.id, actor=line.actor(line.doctor)
            )
    async with line.sessions() as a, line.sessions() as b:
        one, two = await asyncio.gather(
            mail_outbox.claim_due(session=a, limit=2), mail_outbox.claim_due(session=b, limit=2)
        )
    ids = [m.id for m, _ in one] + [m.id for m, _ in two]
    # Never the same e-mail to two senders. Two senders may want the same rows at once; the one
    # that waited then finds them taken and leaves with fewer: the rest go in the next round.
    assert len(ids) == len(set(ids)) and 2 <= len(ids) <= 3
    async with line.sessions() as c:
        ids += [m.id for m, _ in await mail_outbox.claim_due(session=c, limit=2)]
    assert len(ids) == len(set(ids)) == 3
    mail, _ = one[0] if one else two[0]
    async with line.sessions() as s:
        backoff = Backoff(base=timedelta(seconds=10), max_attempts=2)
        retry = await mail_outbox.mark_failed(
            session=s, mail_id=mail.id, token=mail.lock_token or "", error="down", backoff=backoff
        )
        assert retry is not None and retry > utcnow() + timedelta(seconds=5)
        # Not due again before its time.
        assert mail.id not in [m.id for m, _ in await mail_outbox.claim_due(session=s)]
        later = await mail_outbox.claim_due(session=s, now=retry + timedelta(seconds=1))
        assert [m.id for m, _ in later] == [mail.id]
        token = later[0][0].lock_token or ""
        assert (
            await mail_outbox.mark_failed(
                session=s, mail_id=mail.id, token=token, error="down", backoff=backoff
            )
            is None
        )
        assert (await s.get(EmailOutbox, mail.id)).failed_at is not None  # type: ignore[union-attr]
    assert Backoff().delay(1) == timedelta(seconds=30) and Backoff().delay(3) == timedelta(
        minutes=2
    )


async def test_choices_decide_the_email_and_language(line: Line) -> None:
    async with line.sessions() as s:
        await notifications.set_choices(
            session=s, actor=line.actor(line.coordinator), email={"request": False}, language="en"
        )
        with pytest.raises(Invalid):
            await notifications.set_choices(
                session=s, actor=line.actor(line.coordinator), email={}, language="fr"
            )
    await _request(line)
    async with line.sessions() as s:
        assert (await s.execute(select(EmailOutbox))).first() is None
        assert len(await _mine(s, line.coordinator)) == 1
        me = line.actor(line.coordinator)
        assert await notifications.unread_count(session=s, actor=me) == 1
        other = (await _mine(s, line.coordinator))[0].id
        with pytest.raises(NotFound):
            await notifications.mark_read(
                session=s, actor=line.actor(line.doctor), notification_id=other
            )
        assert await notifications.mark_read(session=s, actor=me) == 1
        assert await notifications.unread_count(session=s, actor=me) == 0


async def test_thread_follows_the_case_and_the_followup_window(line: Line) -> None:
    cid = await _request(line)
    await _schedule(line, cid)
    async with line.sessions() as s:
        opinion = await thread.post(
            session=s,
            actor=line.actor(line.specialist),
            case_id=line.case_id,
            data=ThreadPost(text="Nghĩ nhiều đến suy tim", kind=ThreadKind.opinion),
        )
        with pytest.raises(Invalid):
            await thread.post(
                session=s,
                actor=line.actor(line.doctor),
                case_id=line.case_id,
                data=ThreadPost(text="x", kind=ThreadKind.opinion),
            )
        await thread.post(
            session=s,
            actor=line.actor(line.doctor),
            case_id=line.case_id,
            data=ThreadPost(text="Đã gửi thêm điện tim"),
        )
        with pytest.raises(NotFound):
            await thread.read_thread(
                session=s, actor=line.actor(line.outsider), case_id=line.case_id
            )
        with pytest.raises(NotFound):
            await thread.post(
                session=s,
                actor=line.actor(line.outsider),
                case_id=line.case_id,
                data=ThreadPost(text="?"),
            )
        c = await s.get(Consultation, cid)
        assert c is not None
        await room_events.record_chat(
            session=s, room_id=c.room_id, user_id=line.chair.id, text="Nghe rõ không?", at=utcnow()
        )
        entries = await thread.read_thread(
            session=s, actor=line.actor(line.doctor), case_id=line.case_id
        )
        assert [(e.kind, e.in_session) for e in entries] == [
            ("opinion", False),
            ("message", False),
            ("chat", True),
        ]
        assert entries[0].anchor == thread.anchor_of(opinion.id)
    async with line.sessions() as s:
        # Told: the author and the invited, never of their own message.
        assert len([n for n in await _mine(s, line.doctor) if n.kind == "thread"]) == 1
        assert len([n for n in await _mine(s, line.specialist) if n.kind == "thread"]) == 1
        assert not any(n.kind == "thread" for n in await _mine(s, line.outsider))
        # Minutes final long ago: the specialist's window closed, for the thread and the chat.
        s.add(
            Minutes(
                consultation_id=cid,
                case_id=line.case_id,
                status=MinutesStatus.final,
                finalized_at=utcnow() - timedelta(days=31),
                conclusion="x",
            )
        )
        await s.commit()
        late = Actor.of(line.specialist, policy=ReadPolicy(followup_days=30))
        with pytest.raises(NotFound):
            await thread.read_thread(session=s, actor=late, case_id=line.case_id)
        with pytest.raises(NotFound):
            await room_events.chat_log(session=s, consultation_id=cid, actor=late)
        wide = Actor.of(line.specialist, policy=ReadPolicy(followup_days=60))
        assert len(await room_events.chat_log(session=s, consultation_id=cid, actor=wide)) == 1
        # The requesting doctor keeps the case, and its chat.
        assert (
            len(
                await room_events.chat_log(
                    session=s, consultation_id=cid, actor=line.actor(line.doctor)
                )
            )
            == 1
        )


async def test_an_admitted_person_skips_the_lobby_until_the_chair_removes_them(line: Line) -> None:
    cid = await _request(line)
    await _schedule(line, cid)
    async with line.sessions() as s:
        c = await s.get(Consultation, cid)
        assert c is not None
        assert not await room_admission.admitted_before(s, consultation=c, user_id=line.doctor.id)
        await room_events.record_join(
            session=s, room_id=c.room_id, user_id=line.doctor.id, peer_id="p1", at=utcnow()
        )
        await s.refresh(c)
        assert await room_admission.admitted_before(s, consultation=c, user_id=line.doctor.id)
        await room_events.record_leave(
            session=s,
            room_id=c.room_id,
            user_id=line.doctor.id,
            peer_id="p1",
            at=utcnow(),
            reason="left",
        )
        assert await room_admission.admitted_before(s, consultation=c, user_id=line.doctor.id)
        await room_events.record_join(
            session=s, room_id=c.room_id, user_id=line.doctor.id, peer_id="p2", at=utcnow()
        )
        await room_events.record_leave(
            session=s,
            room_id=c.room_id,
            user_id=line.doctor.id,
            peer_id="p2",
            at=utcnow(),
            reason="lobby",
        )
        assert not await room_admission.admitted_before(s, consultation=c, user_id=line.doctor.id)
        assert (await s.execute(select(sa.func.count()).select_from(Attendance))).scalar_one() == 2
