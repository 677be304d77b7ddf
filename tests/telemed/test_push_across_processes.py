"""Live pushes travel between server processes through Redis: a notification caused on one
process reaches the person's open stream on the other."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp
import factories
import orjson
import pytest
from aiohttp.test_utils import TestServer
from dbtools import sqlite_database

import records.models  # noqa: F401  (registers every table)
from records.actor import Actor
from records.db import session_maker
from records.models import ConsultationRequest, FacilityLevel, Role, Urgency
from records.services import auth as auth_svc
from records.services import consultations
from telemed.app import create_app
from telemed.settings import Settings
from web.keys import sessions_key

pytestmark = pytest.mark.redis


async def test_a_push_reaches_the_stream_on_another_process(tmp_path: Path, redis_url: str) -> None:
    url, engine = await sqlite_database(tmp_path)
    async with session_maker(engine)() as s:
        prov = await factories.facility(s, level=FacilityLevel.provincial)
        dist = await factories.facility(s, parent=prov)
        doctor = await factories.user(s, facility=dist)
        coordinator = await factories.user(s, facility=prov, role=Role.coordinator)
        patient = await factories.patient(s, facility=dist)
        case = await factories.case(s, patient=patient, author=doctor)
        case.urgency = Urgency.emergency
        s.add(case)
        await s.commit()
        token, _ = await auth_svc.create_api_token(
            session=s, user=coordinator, ttl=timedelta(hours=1)
        )
    await engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        redis_url=redis_url,
        secret_key="push-across-processes-0123456789abcdef",
    )
    one, two = (TestServer(create_app(settings), host="127.0.0.1") for _ in range(2))
    await one.start_server()
    await two.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            stream = await http.get(
                two.make_url("/notifications/stream"),
                headers={"Authorization": f"Bearer {token}"},
            )
            first = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 15)
            assert first.startswith(b"event: count")
            async with one.app[sessions_key]() as s:
                await consultations.request_consultation(
                    session=s,
                    actor=Actor.of(doctor),
                    data=ConsultationRequest(
                        title="Hội chẩn cấp cứu", case_ids=[case.id], host_facility_id=prov.id
                    ),
                )
            raw = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 15)
            name, data = raw.decode().strip().split("\n")
            assert name == "event: notification"
            pushed = orjson.loads(data.removeprefix("data: "))
            assert pushed["emergency"] is True and pushed["unread"] == 1
            stream.close()
    finally:
        await one.close()
        await two.close()
