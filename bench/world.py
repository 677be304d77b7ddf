"""A database with facilities, doctors and open rooms for the signalling benchmarks.

Facilities and users go through the records services; the rooms are scheduled consultations
of the district centre (its doctors may join them) without a lobby, so that participants
enter at once.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from records.actor import Actor
from records.db import create_engine, session_maker
from records.migrate import upgrade
from records.models import (
    Consultation,
    ConsultationStatus,
    FacilityCreate,
    FacilityLevel,
    Role,
    UserCreate,
    utcnow,
)
from records.services import auth, facilities, users
from records.services.join_tokens import issue_join_token

from .names import person


@dataclass
class Room:
    """A room and the users who will join it."""

    room_id: str
    consultation_id: uuid.UUID
    user_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class World:
    """What the benchmark knows about the generated database."""

    url: str
    rooms: list[Room]
    api_tokens: dict[uuid.UUID, str] = field(default_factory=dict)


def room_sizes(participants: int, low: int, high: int, rng: random.Random) -> list[int]:
    """Split participants into rooms of low..high people (the last one may be smaller)."""
    sizes: list[int] = []
    left = participants
    while left > 0:
        size = min(left, rng.randint(low, high))
        if size < 2 and sizes:
            sizes[-1] += size
        else:
            sizes.append(size)
        left -= size
    return sizes


async def build_world(
    data_dir: Path,
    participants: int,
    *,
    room_min: int = 2,
    room_max: int = 4,
    api_tokens: bool = False,
    seed: int = 7,
) -> World:
    """Create and migrate a SQLite database in data_dir with rooms for `participants` users."""
    rng = random.Random(seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{(data_dir / 'telemed.db').resolve()}"
    await upgrade(url)
    engine = create_engine(url)
    system = Actor.system("bench")
    rooms: list[Room] = []
    tokens: dict[uuid.UUID, str] = {}
    try:
        async with session_maker(engine)() as session:
            province = await facilities.create_facility(
                session=session,
                data=FacilityCreate(
                    code="BVDK-BP",
                    name="Bệnh viện Đa khoa tỉnh Bình Phước",
                    level=FacilityLevel.provincial,
                ),
                actor=system,
            )
            district = await facilities.create_facility(
                session=session,
                data=FacilityCreate(
                    code="TTYT-CT",
                    name="Trung tâm Y tế huyện Chơn Thành",
                    level=FacilityLevel.district,
                    parent_id=province.id,
                ),
                actor=system,
            )
            start = utcnow()
            for r, size in enumerate(room_sizes(participants, room_min, room_max, rng)):
                consultation = Consultation(
                    title=f"Hội chẩn số {r + 1}",
                    requesting_facility_id=district.id,
                    host_facility_id=province.id,
                    scheduled_start=start,
                    scheduled_end=start + timedelta(hours=4),
                    status=ConsultationStatus.live,
                    requires_admission=False,
                )
                session.add(consultation)
                await session.commit()
                room = Room(consultation.room_id, consultation.id)
                for _ in range(size):
                    name, _sex = person(rng)
                    user = await users.create_user(
                        session=session,
                        data=UserCreate(
                            username=f"bs.{r}.{len(room.user_ids)}",
                            full_name=name,
                            title="BS.",
                            role=Role.doctor,
                            facility_id=district.id,
                        ),
                        actor=system,
                    )
                    room.user_ids.append(user.id)
                    if api_tokens:
                        raw, _ = await auth.create_api_token(
                            session=session, user=user, ttl=timedelta(hours=4), actor=system
                        )
                        tokens[user.id] = raw
                rooms.append(room)
    finally:
        await engine.dispose()
    return World(url=url, rooms=rooms, api_tokens=tokens)


async def join_tokens(world: World, ttl_seconds: int = 3600) -> dict[uuid.UUID, str]:
    """One single-use join token per participant, through the records service."""
    engine = create_engine(world.url)
    out: dict[uuid.UUID, str] = {}
    try:
        async with session_maker(engine)() as session:
            for room in world.rooms:
                for uid in room.user_ids:
                    raw, _ = await issue_join_token(
                        session=session,
                        user_id=uid,
                        room_id=room.room_id,
                        ttl_seconds=ttl_seconds,
                    )
                    out[uid] = raw
    finally:
        await engine.dispose()
    return out
