"""A small world of facilities and users, and JSON calls to the API as any of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import factories
import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from webtools import PASSWORD, password_hash

from records.db import session_maker
from records.models import Facility, FacilityLevel, Role, User
from records.services import auth as auth_svc

Client = TestClient[web.Request, web.Application]
# The body that signs the minutes as a user given the test password by `signers`.
SIGN = {"password": PASSWORD}
# The test servers' upload limit: small enough that a test can send one byte too many.
MAX_UPLOAD = 256 * 1024


@dataclass
class World:
    """One referral line (district → provincial → central) and one person of each kind."""

    central: Facility
    province: Facility
    district: Facility
    district2: Facility
    users: dict[str, User]
    tokens: dict[str, str] = field(default_factory=dict)

    def id(self, name: str) -> str:
        """A user's id as the API writes it."""
        return str(self.users[name].id)


async def build_world(session: AsyncSession) -> World:
    """Facilities, users and a bearer token for each user."""
    central = await factories.facility(
        session, level=FacilityLevel.central, name="Bệnh viện Chợ Rẫy", code="CHORAY"
    )
    province = await factories.facility(
        session,
        level=FacilityLevel.provincial,
        name="Bệnh viện Đa khoa tỉnh",
        code="BVT",
        parent=central,
    )
    district = await factories.facility(
        session,
        level=FacilityLevel.district,
        name="Trung tâm Y tế huyện Chơn Thành",
        code="TTYT-CT",
        parent=province,
    )
    district2 = await factories.facility(
        session,
        level=FacilityLevel.district,
        name="Trung tâm Y tế thị xã Phước Long",
        code="TTYT-PL",
        parent=province,
    )
    people = {
        "admin": (province, Role.admin, "Quản Trị", None),
        "coordinator": (province, Role.coordinator, "Lê Thị Điều", None),
        "doctor": (district, Role.doctor, "Phạm Văn Huyện", "Nội tổng quát"),
        "doctor2": (district2, Role.doctor, "Đỗ Thị Long", "Nội tổng quát"),
        "specialist": (province, Role.specialist, "Trần Minh Tâm", "Tim mạch"),
        "specialist2": (central, Role.specialist, "Võ Thần Kinh", "Thần kinh"),
    }
    users: dict[str, User] = {}
    for name, (facility, role, full_name, specialty) in people.items():
        users[name] = await factories.user(
            session,
            facility=facility,
            role=role,
            full_name=full_name,
            username=f"t.{name}",
            specialty=specialty,
        )
    world = World(central, province, district, district2, users)
    for name, user in users.items():
        token, _ = await auth_svc.create_api_token(
            session=session, user=user, ttl=timedelta(hours=1)
        )
        world.tokens[name] = token
    return world


@dataclass
class Reply:
    """What the server answered."""

    status: int
    body: bytes
    headers: CIMultiDict[str]

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)

    def error(self, status: int, code: str | None = None) -> dict[str, Any]:
        """Check the one error shape and return its inner object."""
        assert self.status == status, (self.status, self.body[:500])
        assert self.headers.get("Content-Type", "").startswith("application/json")
        data = self.json
        assert set(data) == {"error"}, data
        err: dict[str, Any] = data["error"]
        assert set(err) == {"code", "message", "fields"}, err
        assert isinstance(err["message"], str) and err["message"]
        assert isinstance(err["fields"], dict)
        if code is not None:
            assert err["code"] == code, err
        return err


class Api:
    """Calls to the running server; `user` names a person of the world, None is anonymous."""

    def __init__(self, client: Client, world: World) -> None:
        self.client = client
        self.world = world

    def auth(self, user: str | None) -> dict[str, str]:
        """The Authorization header for a user of the world."""
        return {} if user is None else {"Authorization": f"Bearer {self.world.tokens[user]}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "doctor",
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        """One request; the answer read whole."""
        all_headers = {**self.auth(user), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": all_headers}
        if params is not None:
            kwargs["params"] = params
        if json is not None:
            kwargs["data"] = orjson.dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            kwargs["data"] = data
        async with self.client.request(method, path, **kwargs) as resp:
            body = await resp.read()
            return Reply(resp.status, body, CIMultiDict(resp.headers))

    async def get(self, path: str, **kw: Any) -> Reply:
        """GET."""
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        """POST."""
        return await self.call("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Reply:
        """PATCH."""
        return await self.call("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> Reply:
        """PUT."""
        return await self.call("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        """DELETE."""
        return await self.call("DELETE", path, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """A call that must succeed with this status; its JSON body (None when empty)."""
        reply = await self.call(method, path, **kw)
        assert reply.status == status, (method, path, reply.status, reply.body[:1000])
        return reply.json if reply.body else None

    # Building blocks used by several tests ------------------------------------------------------

    async def patient(self, user: str = "doctor", **fields: Any) -> dict[str, Any]:
        """A new patient through the API."""
        body = {"mrn": "BN-0001", "full_name": "Nguyễn Văn An", "sex": "male", "birth_year": 1961}
        body.update(fields)
        result: dict[str, Any] = await self.ok(
            "POST", "/api/v1/patients", 201, user=user, json=body
        )
        return result

    async def case(self, patient_id: str, user: str = "doctor", **fields: Any) -> dict[str, Any]:
        """A new case file through the API."""
        body = {
            "patient_id": patient_id,
            "title": "Đau thắt ngực không ổn định",
            "specialty": "Tim mạch",
            "urgency": "urgent",
            "history": "Tăng huyết áp 10 năm, đau ngực khi gắng sức 2 tuần nay.",
            "diagnosis": "Theo dõi hội chứng vành cấp",
            "icd10": "I20.0",
            "question": "Có chỉ định chụp mạch vành không?",
        }
        body.update(fields)
        result: dict[str, Any] = await self.ok("POST", "/api/v1/cases", 201, user=user, json=body)
        return result

    async def requested(self, case_id: str) -> dict[str, Any]:
        """A consultation requested by the district doctor from the provincial hospital."""
        result: dict[str, Any] = await self.ok(
            "POST",
            "/api/v1/consultations",
            201,
            user="doctor",
            json={
                "title": "Hội chẩn tim mạch",
                "case_ids": [case_id],
                "host_facility_id": str(self.world.province.id),
                "note": "Xin hội chẩn sớm",
            },
        )
        return result

    async def scheduled(self, case_id: str, **fields: Any) -> dict[str, Any]:
        """A consultation requested, then scheduled by the coordinator; the specialist chairs."""
        consultation = await self.requested(case_id)
        body = {
            "scheduled_start": "2030-01-10T08:00:00+07:00",
            "scheduled_end": "2030-01-10T09:00:00+07:00",
            "chair_id": self.world.id("specialist"),
            "invitees": [self.world.id("specialist2")],
        }
        body.update(fields)
        result: dict[str, Any] = await self.ok(
            "POST",
            f"/api/v1/consultations/{consultation['id']}/schedule",
            user="coordinator",
            json=body,
        )
        return result


async def signers(api: Api, engine: AsyncEngine, *names: str) -> None:
    """Give these users of the world the test password (the API world signs in by token)."""
    async with session_maker(engine)() as session:
        for name in names:
            user = await session.get(User, uuid.UUID(api.world.id(name)))
            assert user is not None
            user.password_hash = password_hash()
            session.add(user)
        await session.commit()
