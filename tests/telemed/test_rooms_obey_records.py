"""The live room obeys the records: withdrawing an invitation, disabling an account and
cancelling the consultation remove people from a call at once, with aiortc peers exchanging
media, on one server process and on two processes sharing Redis and the database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import factories
import pytest
from aiohttp.test_utils import TestServer
from dbtools import sqlite_database
from rtcpeer import RtcPeer
from sighelpers import Client

import records.models  # noqa: F401  (registers every table)
from records.actor import Actor
from records.db import session_maker
from records.models import Consultation, FacilityLevel, ParticipantRole, Role, User
from records.services import consultations, join_tokens, schedules, users
from signaling import CloseCode
from telemed.app import create_app
from telemed.settings import Settings
from web.keys import sessions_key

pytestmark = pytest.mark.usefixtures("ice_host")


@dataclass
class Call:
    """Servers sharing one database, the people and their consultation."""

    servers: list[TestServer]
    consultation: Consultation
    chair: User
    specialist: User
    doctor: User
    admin: User
    http: aiohttp.ClientSession

    async def enter(self, server: TestServer, user: User) -> Client:
        """A join token from the records, the room's socket, `join`, and its `welcome`."""
        async with server.app[sessions_key]() as s:
            token, _ = await join_tokens.issue_join_token(
                session=s, user_id=user.id, room_id=self.consultation.room_id, ttl_seconds=60
            )
        url = server.make_url(f"/ws/rooms/{self.consultation.room_id}").with_query(token=token)
        client = Client(await self.http.ws_connect(url))
        await client.send(type="join", resume_token=None)
        client.welcome = await client.expect("welcome")
        return client


@contextlib.asynccontextmanager
async def call(tmp_path: Path, redis_url: str | None, processes: int) -> AsyncIterator[Call]:
    url, engine = await sqlite_database(tmp_path)
    async with session_maker(engine)() as s:
        prov = await factories.facility(s, level=FacilityLevel.provincial)
        dist = await factories.facility(s, parent=prov)
        chair = await factories.user(s, facility=prov, role=Role.coordinator)
        specialist = await factories.user(s, facility=prov, role=Role.specialist)
        doctor = await factories.user(s, facility=dist)
        admin = await factories.user(s, facility=prov, role=Role.admin)
        patient = await factories.patient(s, facility=dist)
        case = await factories.case(s, patient=patient, author=doctor, status="scheduled")
        consultation = await factories.consultation(
            s,
            host=prov,
            requesting=dist,
            cases=[case],
            chair=chair,
            participants={
                specialist.id: ParticipantRole.specialist,
                doctor.id: ParticipantRole.presenter,
            },
        )
        consultation.requires_admission = False
        s.add(consultation)
        await s.commit()
    await engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        redis_url=redis_url,
        secret_key="rooms-obey-records-0123456789abcdef",
    )
    servers = [TestServer(create_app(settings), host="127.0.0.1") for _ in range(processes)]
    for server in servers:
        await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Call(servers, consultation, chair, specialist, doctor, admin, http)
    finally:
        for server in servers:
            await server.close()


async def mesh(peers: list[RtcPeer]) -> None:
    """Every newcomer's offers answered, and video flowing between every pair."""
    await asyncio.gather(*(p.take_answers(len(p.client.welcome["peers"])) for p in peers))
    ids = [p.client.peer_id for p in peers]
    await asyncio.gather(
        *(p.wait_connected([o for o in ids if o != p.client.peer_id]) for p in peers)
    )


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.redis)])
async def test_uninvite_disable_and_cancel_empty_the_room(
    tmp_path: Path, processes: int, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if processes == 2 else None
    async with call(tmp_path, redis_url, processes) as c:
        one, two = c.servers[0], c.servers[-1]
        chair = RtcPeer(await c.enter(one, c.chair))
        specialist = RtcPeer(await c.enter(two, c.specialist))
        doctor = RtcPeer(await c.enter(two, c.doctor))
        peers = [chair, specialist, doctor]
        try:
            await mesh(peers)
            # The coordinator withdraws the specialist's invitation, on the first process.
            async with one.app[sessions_key]() as s:
                await schedules.uninvite(
                    session=s,
                    consultation_id=c.consultation.id,
                    user_id=c.specialist.id,
                    actor=Actor.of(c.chair),
                )
            kicked = await specialist.client.expect("kicked")
            assert kicked["reason"] == "uninvited"
            assert await specialist.client.closed() == CloseCode.FORBIDDEN
            for other in (chair, doctor):
                left = await other.client.expect(
                    "peer-left", lambda f: f["peer_id"] == specialist.client.peer_id
                )
                assert left["reason"] == "kicked"
            # An admin disables the doctor's account: out of the room at once.
            async with one.app[sessions_key]() as s:
                await users.set_active(
                    session=s, user_id=c.doctor.id, active=False, actor=Actor.of(c.admin)
                )
            assert (await doctor.client.expect("kicked"))["reason"] == "disabled"
            assert await doctor.client.closed() == CloseCode.FORBIDDEN
            await chair.client.expect("peer-left", lambda f: f["peer_id"] == doctor.client.peer_id)
            # Cancelled: the room ends for everyone left, and nobody gets back in.
            async with one.app[sessions_key]() as s:
                await consultations.cancel(
                    session=s,
                    consultation_id=c.consultation.id,
                    actor=Actor.of(c.chair),
                    reason="Bệnh nhân đã chuyển viện",
                )
            ended = await chair.client.expect("ended")
            assert ended["reason"] == "cancelled" and ended["by"] is None
            assert await chair.client.closed() == CloseCode.ENDED
        finally:
            await asyncio.gather(*(p.close() for p in peers))


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.redis)])
async def test_a_reinvited_person_gets_back_in(
    tmp_path: Path, processes: int, request: pytest.FixtureRequest
) -> None:
    """Withdrawn, then invited again a moment later: the bar the withdrawal put on the room
    (kept for a minute in Redis) must not outlive the new invitation."""
    redis_url = request.getfixturevalue("redis_url") if processes == 2 else None
    async with call(tmp_path, redis_url, processes) as c:
        one, two = c.servers[0], c.servers[-1]
        chair = RtcPeer(await c.enter(one, c.chair))
        specialist = RtcPeer(await c.enter(two, c.specialist))
        peers = [chair, specialist]
        try:
            await mesh(peers)
            async with one.app[sessions_key]() as s:
                await schedules.uninvite(
                    session=s,
                    consultation_id=c.consultation.id,
                    user_id=c.specialist.id,
                    actor=Actor.of(c.chair),
                )
            assert (await specialist.client.expect("kicked"))["reason"] == "uninvited"
            await chair.client.expect(
                "peer-left", lambda f: f["peer_id"] == specialist.client.peer_id
            )
            async with one.app[sessions_key]() as s:
                await schedules.invite(
                    session=s,
                    consultation_id=c.consultation.id,
                    user_id=c.specialist.id,
                    actor=Actor.of(c.chair),
                )
            back = RtcPeer(await c.enter(two, c.specialist))
            peers.append(back)
            joined = await chair.client.expect(
                "peer-joined", lambda f: f["peer"]["peer_id"] == back.client.peer_id
            )
            assert joined["peer"]["peer_id"] == back.client.peer_id
            await mesh([chair, back])
        finally:
            await asyncio.gather(*(p.close() for p in peers))
