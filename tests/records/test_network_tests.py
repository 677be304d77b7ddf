"""Network test results, recording consents, and finished recordings stored as attachments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.errors import Forbidden, NotFound
from records.models import (
    Attachment,
    AttachmentKind,
    AuditEvent,
    FacilityLevel,
    NetworkTestCreate,
    NetworkVerdict,
    ParticipantRole,
    Role,
)
from records.services import network_tests as svc
from records.services import recording_consents
from signaling import RecordedFile, RecordingConsent, RecordingFinished
from telemed.recording import MediaEventSink
from tests import factories
from tests.signaling.doubles import MemoryEventSink

GOOD = {"rtt_ms": 40.0, "jitter_ms": 5.0, "loss_pct": 0.0, "bitrate_kbps": 900.0, "fps": 28.0}


@pytest.mark.parametrize(
    ("figures", "verdict"),
    [
        (GOOD, NetworkVerdict.video),
        ({**GOOD, "bitrate_kbps": 200.0}, NetworkVerdict.reduced),
        ({**GOOD, "rtt_ms": 450.0}, NetworkVerdict.reduced),
        ({**GOOD, "loss_pct": 12.0}, NetworkVerdict.audio),
        ({**GOOD, "bitrate_kbps": 60.0, "fps": 2.0}, NetworkVerdict.audio),
        ({**GOOD, "bitrate_kbps": 0.0}, NetworkVerdict.failed),
        ({**GOOD, "rtt_ms": None}, NetworkVerdict.failed),
        ({**GOOD, "loss_pct": 40.0}, NetworkVerdict.failed),
    ],
)
def test_verdict_follows_the_figures(
    figures: dict[str, float | None], verdict: NetworkVerdict
) -> None:
    assert svc.verdict_for(**figures) == verdict


async def _people(session: AsyncSession) -> tuple[Actor, Actor, Actor]:
    home = await factories.facility(session)
    doctor = await factories.user(session, facility=home)
    other = await factories.user(session, facility=home)
    coordinator = await factories.user(session, facility=home, role=Role.coordinator)
    return Actor.of(doctor), Actor.of(other), Actor.of(coordinator)


async def test_results_are_stored_with_the_servers_verdict(session: AsyncSession) -> None:
    doctor, other, coordinator = await _people(session)
    # The browser claims "video" for figures that only allow reduced video.
    claimed = NetworkTestCreate(**{**GOOD, "bitrate_kbps": 200.0}, verdict=NetworkVerdict.video)
    first = await svc.record_result(session=session, actor=doctor, data=claimed)
    assert first.verdict == NetworkVerdict.reduced
    failed = NetworkTestCreate(verdict=NetworkVerdict.failed, user_agent="Chromium")
    second = await svc.record_result(session=session, actor=doctor, data=failed)
    assert second.verdict == NetworkVerdict.failed and second.rtt_ms is None

    mine = await svc.list_mine(session=session, actor=doctor)
    assert {r.id for r in mine} == {first.id, second.id}
    assert await svc.list_mine(session=session, actor=other) == []

    assert doctor.user_id is not None and other.user_id is not None
    latest = await svc.latest_for_users(
        session=session, actor=coordinator, user_ids=[doctor.user_id, other.user_id]
    )
    assert set(latest) == {doctor.user_id}
    assert latest[doctor.user_id].measured_at >= first.measured_at
    with pytest.raises(Forbidden):
        await svc.latest_for_users(session=session, actor=other, user_ids=[doctor.user_id])
    own = await svc.latest_for_users(session=session, actor=doctor, user_ids=[doctor.user_id])
    assert set(own) == {doctor.user_id}
    audited = (
        (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.object_type == "network_test")
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    # Two results stored, one refusal (the colleague asking for the doctor's result).
    assert [(e.action, e.actor_id) for e in audited] == [
        ("create", doctor.user_id),
        ("create", doctor.user_id),
        ("denied", other.user_id),
    ]


async def test_the_chair_sees_the_verdicts_of_the_invitees(session: AsyncSession) -> None:
    host = await factories.facility(session, level=FacilityLevel.provincial)
    requesting = await factories.facility(session)
    chair = await factories.user(session, facility=host, role=Role.specialist)
    invited = await factories.user(session, facility=host, role=Role.specialist)
    presenter = await factories.user(session, facility=requesting)
    stranger = await factories.user(session, facility=host, role=Role.specialist)
    consultation = await factories.consultation(
        session,
        host=host,
        requesting=requesting,
        chair=chair,
        participants={
            invited.id: ParticipantRole.specialist,
            presenter.id: ParticipantRole.presenter,
        },
    )
    other_session = await factories.consultation(
        session,
        host=host,
        requesting=requesting,
        chair=invited,
        participants={stranger.id: ParticipantRole.specialist},
    )
    for person in (chair, invited, presenter, stranger):
        await svc.record_result(
            session=session,
            actor=Actor.of(person),
            data=NetworkTestCreate.model_validate({**GOOD, "verdict": "video"}),
        )
    people = [chair.id, invited.id, presenter.id]

    seen = await svc.latest_for_users(
        session=session, actor=Actor.of(chair), user_ids=people, consultation_id=consultation.id
    )
    assert set(seen) == set(people)
    assert {r.verdict for r in seen.values()} == {NetworkVerdict.video}

    async def refused(
        actor: Actor,
        user_ids: list[uuid.UUID],
        consultation_id: uuid.UUID | None,
        error: type[Exception],
    ) -> None:
        with pytest.raises(error):
            await svc.latest_for_users(
                session=session, actor=actor, user_ids=user_ids, consultation_id=consultation_id
            )

    # Without naming the consultation, or for someone not invited to it, the chair is refused;
    await refused(Actor.of(chair), people, None, Forbidden)
    await refused(Actor.of(chair), [stranger.id], consultation.id, Forbidden)
    # an invitee who does not chair this one may not use it, and a consultation the asker
    # does not know is not found.
    await refused(Actor.of(presenter), [invited.id], consultation.id, Forbidden)
    await refused(Actor.of(stranger), [chair.id], consultation.id, NotFound)
    # Chairing another consultation gives nothing here.
    await refused(Actor.of(invited), [presenter.id], other_session.id, Forbidden)
    events = (
        (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "denied")
                .order_by(col(AuditEvent.seq))
            )
        )
        .scalars()
        .all()
    )
    assert [(e.actor_id, e.object_id, e.detail) for e in events] == [
        (chair.id, None, {"need": "read-others"}),
        (chair.id, str(consultation.id), {"need": "read-others"}),
        (presenter.id, str(consultation.id), {"need": "chair"}),
        (stranger.id, str(consultation.id), {"need": "read"}),
        (invited.id, str(other_session.id), {"need": "read-others"}),
    ]


def test_out_of_range_figures_are_refused() -> None:
    with pytest.raises(ValueError):
        NetworkTestCreate.model_validate({**GOOD, "loss_pct": 150, "verdict": "video"})
    with pytest.raises(ValueError):
        NetworkTestCreate.model_validate({**GOOD, "verdict": "excellent"})


def _clip(path: Path, seconds: float) -> None:
    """A small real MP4 with video and audio."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        for i in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in video.encode(frame):
                out.mux(packet)
        for i in range(int(seconds * 48000 / 1024)):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
            samples.sample_rate, samples.pts = 48000, i * 1024
            for packet in audio.encode(samples):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)


async def test_consents_and_recordings_go_into_the_record(
    engine: AsyncEngine, session: AsyncSession, tmp_path: Path
) -> None:
    hospital = await factories.facility(session, level=FacilityLevel.provincial)
    home = await factories.facility(session)
    doctor = await factories.user(session, facility=home)
    chair = await factories.user(session, facility=hospital, role=Role.specialist)
    patient = await factories.patient(session, facility=home)
    case = await factories.case(session, patient=patient, author=doctor)
    consultation = await factories.consultation(
        session, host=hospital, requesting=home, cases=[case], chair=chair
    )
    blobs = BlobStore(tmp_path / "blobs")
    inner = MemoryEventSink()
    sink = MediaEventSink(inner, sessions=session_maker(engine), blobs=blobs)
    now = datetime.now(UTC)
    room = consultation.room_id
    for offset, user, accept in ((0, chair, True), (1, doctor, False)):
        await sink.publish(
            RecordingConsent(
                room_id=room,
                user_id=str(user.id),
                peer_id="p1",
                time=now + timedelta(seconds=offset),
                name=user.full_name,
                accept=accept,
            )
        )
    stored = await recording_consents.consents_for(
        session=session, actor=Actor.of(chair), consultation_id=consultation.id
    )
    assert [(c.user_id, c.accept) for c in stored] == [(chair.id, True), (doctor.id, False)]
    with pytest.raises(NotFound):
        await recording_consents.record_consent(
            session=session, room_id="nope", user_id=chair.id, accept=True, at=now
        )

    clip = tmp_path / "chair.mp4"
    _clip(clip, 2.0)
    recorded = RecordedFile(
        peer_id="p1",
        user_id=str(chair.id),
        name=chair.full_name,
        facility=hospital.name,
        path=clip,
        started=now,
        ended=now + timedelta(seconds=2),
        duration=2.0,
        audio=True,
        video=True,
    )
    await sink.publish(
        RecordingFinished(
            room_id=room,
            user_id=None,
            peer_id=None,
            time=now,
            started=now,
            ended=now + timedelta(seconds=2),
            files=(recorded,),
        )
    )
    rows = (
        (
            await session.execute(
                select(Attachment).where(Attachment.consultation_id == consultation.id)
            )
        )
        .scalars()
        .all()
    )
    assert len(rows) == 1
    attachment = rows[0]
    assert attachment.kind == AttachmentKind.recording and attachment.case_id == case.id
    assert attachment.content_type == "video/mp4"
    assert attachment.meta["duration"] == 2.0
    assert attachment.meta["participants"][0]["user_id"] == str(chair.id)
    with av.open(str(blobs.path_for(attachment.sha256))) as container:
        assert {s.type for s in container.streams} == {"audio", "video"}
    assert not clip.exists()
    # Every event still reaches the application's own sink.
    assert [type(e) for e in inner.events] == [
        RecordingConsent,
        RecordingConsent,
        RecordingFinished,
    ]
    assert uuid.UUID(str(attachment.id))
