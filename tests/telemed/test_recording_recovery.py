"""Recordings left behind by a server that died are stored when the next one starts."""

from __future__ import annotations

import fractions
import os
import time
from pathlib import Path

import av
import factories
import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from records.blobs import BlobStore
from records.db import SessionMaker, session_maker
from records.models import Attachment, AttachmentKind, Case, FacilityLevel, Role, User
from telemed.recording import recover_orphans


def write_mp4(path: Path, seconds: float) -> None:
    """A small MP4 with a video and an audio stream of the given length."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for index in range(int(seconds * 10)):
            image = np.full((48, 64, 3), index * 10 % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        samples = int(seconds * 16000)
        for start in range(0, samples, 1024):
            sound = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            sound.sample_rate, sound.pts = 16000, start
            sound.time_base = fractions.Fraction(1, 16000)
            container.mux(audio.encode(sound))
        container.mux(audio.encode())


async def scheduled_room(sessions: SessionMaker) -> tuple[str, Case, User, User]:
    """A scheduled consultation of one case: its room id, the case, its chair and doctor."""
    async with sessions() as session:
        prov = await factories.facility(session, level=FacilityLevel.provincial)
        dist = await factories.facility(session, parent=prov)
        doctor = await factories.user(session, facility=dist)
        chair = await factories.user(session, facility=prov, role=Role.specialist)
        patient = await factories.patient(session, facility=dist)
        case = await factories.case(session, patient=patient, author=doctor, status="scheduled")
        consultation = await factories.consultation(
            session, host=prov, requesting=dist, cases=[case], chair=chair
        )
        return consultation.room_id, case, chair, doctor


def age(path: Path, seconds: float) -> None:
    """Make a file look untouched for `seconds`."""
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_orphans_are_stored_and_live_files_left_alone(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_maker(engine)
    room_id, case, chair, doctor = await scheduled_room(sessions)
    directory = tmp_path / "recordings"
    start = directory / room_id / "20301104T090000"
    orphan = start / f"{chair.id}-p0a1b2c3d4e5-1.mp4"
    write_mp4(orphan, 2.0)
    age(orphan, 3600)
    live = start / f"{doctor.id}-p9f8e7d6c5b4-1.mp4"
    write_mp4(live, 1.0)
    empty = start / f"{doctor.id}-p9f8e7d6c5b4-2.mp4"
    empty.touch()
    age(empty, 3600)
    garbage = directory / "unknown-room" / "20301104T090000" / f"{chair.id}-p1-1.mp4"
    write_mp4(garbage, 1.0)
    age(garbage, 3600)
    blobs = BlobStore(tmp_path / "blobs")

    stored = await recover_orphans(directory, sessions=sessions, blobs=blobs)

    assert stored == 1
    async with sessions() as session:
        rows = (await session.execute(select(Attachment))).scalars().all()
    assert len(rows) == 1
    recording = rows[0]
    assert recording.kind == AttachmentKind.recording and recording.case_id == case.id
    assert recording.meta["recovered"] is True
    assert recording.meta["participant"] == {"user_id": str(chair.id)}
    assert 1.5 <= recording.meta["duration"] <= 2.5
    assert recording.meta["audio"] and recording.meta["video"]
    assert blobs.exists(recording.sha256)
    assert not orphan.exists() and not empty.exists()
    # A file still being written, and one of a room nobody knows, stay where they are.
    assert live.exists() and garbage.exists()
    assert await recover_orphans(directory, sessions=sessions, blobs=blobs) == 0


async def test_an_unreadable_recording_is_kept_not_stored(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_maker(engine)
    room_id, _case, chair, _doctor = await scheduled_room(sessions)
    damaged = tmp_path / "recordings" / room_id / "20301104T090000"
    damaged = damaged / f"{chair.id}-p0a1b2c3d4e5-1.mp4"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 512)
    age(damaged, 3600)
    blobs = BlobStore(tmp_path / "blobs")

    for _ in range(2):
        assert await recover_orphans(tmp_path / "recordings", sessions=sessions, blobs=blobs) == 0
        assert damaged.exists()
    async with sessions() as session:
        assert (await session.execute(select(Attachment))).scalars().all() == []
