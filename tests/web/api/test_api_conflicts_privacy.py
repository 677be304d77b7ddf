"""Scheduling conflicts across hospitals: another hospital's session is only "busy"."""

from __future__ import annotations

from datetime import datetime

import factories
from apitools import Api
from sqlalchemy.ext.asyncio import AsyncEngine

from records.db import session_maker
from records.models import ConsultationStatus, ParticipantRole

CONSULTATIONS = "/api/v1/consultations"
SECRET_TITLE = "Ung thư phổi giai đoạn IV, di căn não"


async def _central_session(api: Api, engine: AsyncEngine) -> str:
    """A session hosted by the central hospital, with the central specialist, 08:30 to 10:00."""
    w = api.world
    async with session_maker(engine)() as s:
        other = await factories.consultation(
            s,
            host=w.central,
            requesting=w.central,
            chair=w.users["specialist2"],
            status=ConsultationStatus.scheduled,
            title=SECRET_TITLE,
            participants={w.users["specialist2"].id: ParticipantRole.chair},
        )
        other.scheduled_start = datetime.fromisoformat("2030-01-10T08:30:00+07:00")
        other.scheduled_end = datetime.fromisoformat("2030-01-10T10:00:00+07:00")
        s.add(other)
        await s.commit()
        return str(other.id)


def _hidden(body: bytes, other_id: str) -> None:
    text = body.decode()
    assert SECRET_TITLE not in text and other_id not in text
    assert "01:30:00" not in text and "03:00:00" not in text, text


async def test_another_hospitals_session_is_busy_only(api: Api, engine: AsyncEngine) -> None:
    other_id = await _central_session(api, engine)
    # The provincial coordinator may not read the central hospital's session...
    (await api.get(f"{CONSULTATIONS}/{other_id}", user="coordinator")).error(404)
    patient = await api.patient()
    case = await api.case(patient["id"])
    requested = await api.requested(case["id"])
    # ...so scheduling it warns that the central specialist is busy, and no more.
    reply = await api.post(
        f"{CONSULTATIONS}/{requested['id']}/schedule",
        user="coordinator",
        json={
            "scheduled_start": "2030-01-10T09:00:00+07:00",
            "scheduled_end": "2030-01-10T09:45:00+07:00",
            "chair_id": api.world.id("specialist"),
            "invitees": [api.world.id("specialist2")],
        },
    )
    assert reply.status == 200, reply.body
    assert reply.json["conflicts"] == [
        {
            "user_id": api.world.id("specialist2"),
            "busy": True,
            "consultation_id": None,
            "title": None,
            "scheduled_start": None,
            "scheduled_end": None,
        }
    ]
    _hidden(reply.body, other_id)
    asked = await api.post(
        f"{CONSULTATIONS}/{requested['id']}/conflicts",
        user="coordinator",
        json={
            "user_ids": [api.world.id("specialist2"), api.world.id("specialist")],
            "start": "2030-01-10T08:00:00+07:00",
            "end": "2030-01-10T11:00:00+07:00",
        },
    )
    assert asked.status == 200, asked.body
    assert [(c["user_id"], c["busy"], c["title"]) for c in asked.json["items"]] == [
        (api.world.id("specialist2"), True, None)
    ]
    _hidden(asked.body, other_id)
    # The central specialist, who may read both, sees the session in full in their own view.
    own = await api.ok("GET", f"{CONSULTATIONS}/{other_id}", user="specialist2")
    assert own["title"] == SECRET_TITLE


async def test_readable_sessions_keep_their_details(api: Api, engine: AsyncEngine) -> None:
    """The positive control: a clash with one of the coordinator's own sessions names it."""
    patient = await api.patient()
    first = await api.scheduled((await api.case(patient["id"]))["id"])
    case2 = await api.case(patient["id"], title="Suy tim mạn tính")
    requested = await api.requested(case2["id"])
    asked = await api.ok(
        "POST",
        f"{CONSULTATIONS}/{requested['id']}/conflicts",
        user="coordinator",
        json={
            "user_ids": [api.world.id("specialist")],
            "start": "2030-01-10T08:30:00+07:00",
            "end": "2030-01-10T10:00:00+07:00",
        },
    )
    assert [(c["consultation_id"], c["title"]) for c in asked["items"]] == [
        (first["id"], first["title"])
    ]
    assert asked["items"][0]["scheduled_start"] is not None
