"""The access matrix: every route × every role × the objects of another facility.

Two separate worlds (a district centre and its provincial hospital, with a doctor, a
coordinator, an invited specialist and an admin, a patient, a case with an attachment, a
consultation with minutes) live in one database behind the real application. Each user of
world A calls every route of the router with the objects of world B: object routes answer 404
(a write refused earlier by a role check may answer otherwise, but exactly as for an object that
does not exist), nothing answers 2xx, no answer carries B's names or ids, and nothing changes.
The routes are read from the router, so a new route is covered (or refused as unclassified)
without editing this file. A second test removes one access rule at a time and checks that the
matrix notices.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import factories
import orjson
import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from records import access
from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.models import (
    Attachment,
    AttachmentKind,
    Case,
    Consultation,
    Facility,
    FacilityLevel,
    Minutes,
    MinutesUpdate,
    Notification,
    NotificationKind,
    ParticipantRole,
    Patient,
    Role,
    User,
    utcnow,
)
from records.services import attachments as attachments_svc
from records.services import auth as auth_svc
from records.services import minutes as minutes_svc
from telemed.app import create_app
from telemed.settings import Settings
from web.security import CSRF_HEADER, SESSION_COOKIE

ROLES = (Role.doctor, Role.coordinator, Role.specialist, Role.admin)
CLINICAL = frozenset(
    {"patient", "case", "attachment", "consultation", "minutes", "room", "notification"}
)
# What `{id}` names, by the path segment before it.
SEGMENT_KINDS = {
    "patients": "patient",
    "cases": "case",
    "attachments": "attachment",
    "consultations": "consultation",
    "minutes": "minutes",
    "rooms": "room",
    "users": "user",
    "facilities": "facility",
    "notifications": "notification",
    # The caller's own network test (a live peer connection, no record behind it).
    "network-test": "own",
}
PARAM_KINDS = {
    "patient_id": "patient",
    "case_id": "case",
    "attachment_id": "attachment",
    "consultation_id": "consultation",
    "minutes_id": "minutes",
    "room_id": "room",
    "user_id": "user",
    "facility_id": "facility",
}
# Path parameters that name no object, with a value to use.
VALUE_PARAMS = {"lang": "vi", "chart": "months"}
# Signing in and out, one's own account: no one else's object to reach (only read for leaks).
OWN_ACCOUNT = frozenset(
    {
        "/api/v1/session",
        "/api/v1/tokens",
        "/api/v1/tokens/current",
        "/api/v1/account/password",
        "/login",
        "/logout",
        "/account",
        "/account/password",
        "/account/notifications",
    }
)
ADMIN_AREAS = ("/api/v1/audit", "/admin")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_PARAM_RE = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass
class World:
    """One facility pair with its people and records."""

    tag: str
    hospital: Facility
    district: Facility
    users: dict[Role, User]
    patient: Patient
    case: Case
    attachment: Attachment
    consultation: Consultation
    minutes: Minutes
    notification: Notification

    def object_id(self, kind: str) -> str:
        """The id (or room id) of this world's object of a kind."""
        objects: dict[str, Any] = {
            "patient": self.patient.id,
            "case": self.case.id,
            "attachment": self.attachment.id,
            "consultation": self.consultation.id,
            "minutes": self.minutes.id,
            "notification": self.notification.id,
            "room": self.consultation.room_id,
            "user": self.users[Role.doctor].id,
            "facility": self.district.id,
        }
        return str(objects[kind])

    def ids(self, kinds: dict[str, str]) -> dict[str, str]:
        """Path parameters filled with this world's objects (fixed values for the rest)."""
        out: dict[str, str] = {}
        for param, kind in kinds.items():
            if kind == "value":
                out[param] = VALUE_PARAMS[param]
            elif kind == "own":
                out[param] = missing(kind)
            else:
                out[param] = self.object_id(kind)
        return out

    def markers(self) -> list[str]:
        """Strings that must never reach the other world: clinical ids and names."""
        return [
            *(self.object_id(k) for k in sorted(CLINICAL)),
            self.patient.full_name,
            self.patient.mrn,
            self.case.title,
            self.attachment.filename,
            self.consultation.title,
            self.minutes.summary,
        ]


async def build_world(session: AsyncSession, blobs: BlobStore, tag: str) -> World:
    """A provincial hospital hosting a consultation on a case of its district centre."""
    hospital = await factories.facility(
        session, level=FacilityLevel.provincial, name=f"Bệnh viện Đa khoa tỉnh {tag}"
    )
    district = await factories.facility(
        session, parent=hospital, name=f"Trung tâm Y tế huyện {tag}"
    )
    users = {
        Role.doctor: await factories.user(session, facility=district, role=Role.doctor),
        Role.coordinator: await factories.user(session, facility=hospital, role=Role.coordinator),
        Role.specialist: await factories.user(
            session, facility=hospital, role=Role.specialist, specialty="Tim mạch"
        ),
        Role.admin: await factories.user(session, facility=hospital, role=Role.admin),
    }
    patient = await factories.patient(
        session, facility=district, full_name=f"Hoàng Thị Mận {tag}", insurance_number=None
    )
    case = await factories.case(
        session,
        patient=patient,
        author=users[Role.doctor],
        title=f"Khó thở tăng dần {tag}",
        status="scheduled",
    )

    async def chunks() -> AsyncIterator[bytes]:
        yield PDF + tag.encode()

    attachment = await attachments_svc.upload(
        session=session,
        blobs=blobs,
        actor=Actor.of(users[Role.doctor]),
        case_id=case.id,
        kind=AttachmentKind.lab,
        filename=f"xet-nghiem-mau-{tag}.pdf",
        chunks=chunks(),
        max_bytes=1024 * 1024,
        description="",
    )
    consultation = await factories.consultation(
        session,
        host=hospital,
        requesting=district,
        cases=[case],
        chair=users[Role.coordinator],
        participants={users[Role.specialist].id: ParticipantRole.specialist},
        title=f"Hội chẩn suy tim {tag}",
    )
    minutes = await minutes_svc.save_draft(
        session=session,
        consultation_id=consultation.id,
        case_id=case.id,
        data=MinutesUpdate(summary=f"Tóm tắt bệnh án {tag}", conclusion="Suy tim độ III"),
        actor=Actor.of(users[Role.coordinator]),
    )
    # Something the doctor was told (its own object: nobody else may read or mark it).
    notification = Notification(
        user_id=users[Role.doctor].id,
        kind=NotificationKind.scheduled,
        message="Phiên hội chẩn %(ref)s (%(facility)s) đã được lên lịch lúc %(when)s",
        params={"ref": "HC-" + tag, "facility": district.name, "when": ""},
        consultation_id=consultation.id,
    )
    session.add(notification)
    await session.commit()
    return World(
        tag=tag,
        notification=notification,
        hospital=hospital,
        district=district,
        users=users,
        patient=patient,
        case=case,
        attachment=attachment,
        consultation=consultation,
        minutes=minutes,
    )


@dataclass(frozen=True)
class RouteSpec:
    """One method on one path template of the router."""

    method: str
    template: str
    name: str | None
    params: tuple[str, ...]
    websocket: bool = False

    def kinds(self) -> dict[str, str]:
        """What each path parameter names; unknown parameters fail the test."""
        out: dict[str, str] = {}
        for param in self.params:
            if param in VALUE_PARAMS:
                out[param] = "value"
                continue
            if param == "id":
                before = self.template.split("{id")[0].rstrip("/").rsplit("/", 1)[-1]
                kind = SEGMENT_KINDS.get(before)
            else:
                kind = PARAM_KINDS.get(param)
            if kind is None:
                raise AssertionError(
                    f"{self.method} {self.template}: the matrix does not know what "
                    f"{{{param}}} names; add it to SEGMENT_KINDS or PARAM_KINDS"
                )
            out[param] = kind
        return out

    def path(self, ids: dict[str, str]) -> str:
        """The template filled in."""
        return _PARAM_RE.sub(lambda m: ids[m.group(1)], self.template)

    @property
    def clinical(self) -> bool:
        """Whether a path parameter names a clinical object."""
        return any(k in CLINICAL for k in self.kinds().values())

    @property
    def admin_area(self) -> bool:
        """Whether only admins may use the route at all (the audit log, admin pages)."""
        return self.template.startswith(ADMIN_AREAS)


def router_routes(app: web.Application) -> list[RouteSpec]:
    """Every method and path of the application, static files aside."""
    specs: list[RouteSpec] = []
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource):
            continue
        info = resource.get_info()
        template = str(info.get("formatter") or info.get("path") or "")
        if not template:
            continue
        params = tuple(_PARAM_RE.findall(template))
        for route in resource:
            if route.method in ("HEAD", "OPTIONS"):
                continue
            specs.append(
                RouteSpec(
                    method="GET" if route.method == "*" else route.method,
                    template=template,
                    name=route.name,
                    params=params,
                    websocket=template.startswith("/ws/"),
                )
            )
    return specs


Ref = Callable[[str], str]


def bodies(own: World, ref: Ref) -> dict[str, Any]:
    """Valid bodies for write routes (by route name), so that access is what gets tested.

    ``ref(kind)`` names the object a body points at: the other world's, or a missing one.
    """
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    end = start + timedelta(hours=1)
    specialist = str(own.users[Role.specialist].id)
    return {
        # JSON API.
        "api-case-update": {"title": "Sửa tiêu đề hồ sơ"},
        "api-case-status": {"status": "closed"},
        "api-patient-update": {"full_name": "Tên đã bị sửa"},
        "api-consultation-schedule": {
            "scheduled_start": start.isoformat(),
            "scheduled_end": end.isoformat(),
            "chair_id": specialist,
        },
        "api-consultation-invite": {"user_id": specialist, "role": "observer"},
        "api-consultation-conflicts": {
            "user_ids": [specialist],
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
        "api-minutes-save": {"summary": "Ghi đè biên bản"},
        "api-outcome-record": {"kind": "died", "outcome_date": utcnow().date().isoformat()},
        "api-consultation-invitation": {"accept": False, "reason": "Chen vào"},
        "api-case-thread-post": {"text": "Chen vào trao đổi"},
        "api-cases-create": {
            "patient_id": ref("patient"),
            "title": "Hồ sơ trên bệnh nhân nơi khác",
            "specialty": "Tim mạch",
        },
        "api-consultations-request": {
            "title": "Xin hội chẩn hồ sơ nơi khác",
            "case_ids": [ref("case")],
            "host_facility_id": str(own.hospital.id),
        },
        # Page forms.
        "case-update": {"title": "Sửa tiêu đề hồ sơ", "specialty": "Tim mạch"},
        "case-status": {"to": "closed"},
        "patient-update": {"full_name": "Tên đã bị sửa", "mrn": "BN-SUA", "sex": "female"},
        "minutes-submit": {"summary": "Ghi đè biên bản", "action": "save"},
        "outcome-submit": {"kind": "died", "outcome_date": utcnow().date().isoformat()},
        "consultation-invitation": {"answer": "decline", "reason": "Chen vào"},
        "case-thread-post": {"text": "Chen vào trao đổi"},
        "case-create": {
            "patient_id": ref("patient"),
            "title": "Hồ sơ trên bệnh nhân nơi khác",
            "specialty": "Tim mạch",
        },
        "consultation-new-submit": {
            "title": "Xin hội chẩn hồ sơ nơi khác",
            "case_ids": ref("case"),
            "host_facility_id": str(own.hospital.id),
        },
    }


# Routes without a path parameter that still point at another world's object, in their body.
BODY_REFERENCES = frozenset(
    {"api-cases-create", "api-consultations-request", "case-create", "consultation-new-submit"}
)


def missing(kind: str) -> str:
    """An id that names nothing."""
    return "r" + uuid.uuid4().hex if kind == "room" else str(uuid.uuid4())


@dataclass
class Caller:
    """A signed-in user of world A: their cookie and CSRF token."""

    role: Role
    cookie: str
    csrf: str

    def headers(self, origin: str) -> dict[str, str]:
        """What the browser sends along with a same-origin request."""
        return {
            "Cookie": f"{SESSION_COOKIE}={self.cookie}",
            CSRF_HEADER: self.csrf,
            "Origin": origin,
        }


@dataclass
class Matrix:
    """The running application, the two worlds and the signed-in users of world A."""

    client: TestClient[web.Request, web.Application]
    engine: AsyncEngine
    own: World
    other: World
    callers: dict[Role, Caller]
    findings: list[str] = field(default_factory=list)
    calls: int = 0
    # Stop at the first finding (enough to show that a missing rule is noticed).
    first_only: bool = False

    @property
    def origin(self) -> str:
        """The server's own origin."""
        return str(self.client.make_url("/")).rstrip("/")


@pytest.fixture
async def matrix(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Matrix]:
    """The real application over the test database, with two worlds and four callers."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            schema = (await conn.execute(sa.text("SELECT current_schema()"))).scalar_one()
        url = f"{url}?search_path={schema}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        secret_key="matrix-secret-0123456789abcdef0123",
    )
    blobs = BlobStore(settings.blob_dir)
    async with session_maker(engine)() as session:
        own = await build_world(session, blobs, "Alpha")
        other = await build_world(session, blobs, "Beta")
    app = create_app(settings)
    client = TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    try:
        callers: dict[Role, Caller] = {}
        for role in ROLES:
            async with session_maker(engine)() as session:
                signed = await auth_svc.create_session(session=session, user=own.users[role])
            resp = await client.get(
                "/api/v1/session", headers={"Cookie": f"{SESSION_COOKIE}={signed.session_id}"}
            )
            state = await resp.json()
            assert state["user"]["username"] == own.users[role].username
            callers[role] = Caller(role=role, cookie=signed.session_id, csrf=state["csrf_token"])
        yield Matrix(client=client, engine=engine, own=own, other=other, callers=callers)
    finally:
        await client.close()


# Running the matrix --------------------------------------------------------------------------


async def snapshot(engine: AsyncEngine) -> str:
    """A digest of every record except the audit trail and the sign-in bookkeeping."""
    skip = {"audit_event", "user_session", "login_throttle", "alembic_version"}
    digest = hashlib.sha256()
    async with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = (await conn.execute(sa.select(table))).all()
            lines = sorted(orjson.dumps([str(v) for v in row]) for row in rows)
            digest.update(table.name.encode() + b"".join(lines))
    return digest.hexdigest()


def leaked(m: Matrix, text: str, asked: str) -> list[str]:
    """The markers of the other world found in an answer, except those the caller sent."""
    return [marker for marker in m.other.markers() if marker in text and marker not in asked]


def list_query(spec: RouteSpec, other: World) -> dict[str, str]:
    """Filters that point a list at the other world's objects."""
    query = {"facility_id": str(other.district.id)}
    if spec.template.startswith("/api/"):
        # JSON lists never echo their filters back; pages may, so they get only the facility.
        query |= {
            "patient_id": str(other.patient.id),
            "case_id": str(other.case.id),
            "consultation_id": str(other.consultation.id),
        }
    return query


async def call(
    m: Matrix,
    caller: Caller,
    spec: RouteSpec,
    path: str,
    query: dict[str, str] | None = None,
    ref: Ref | None = None,
) -> tuple[int, str]:
    """Send one request as a caller: (status, body text and headers)."""
    m.calls += 1
    kwargs: dict[str, Any] = {
        "headers": caller.headers(m.origin),
        "params": query or {},
        "allow_redirects": False,
    }
    if spec.method not in ("GET", "DELETE"):
        body = bodies(m.own, ref or m.other.object_id).get(spec.name or "")
        if spec.name == "api-case-attachments-upload":
            form = aiohttp.FormData()
            form.add_field("kind", "lab")
            form.add_field("file", PDF, filename="chen-vao.pdf", content_type="application/pdf")
            kwargs["data"] = form
        elif spec.template.startswith("/api/"):
            kwargs["json"] = body or {}
        else:
            kwargs["data"] = {"csrf_token": caller.csrf, **(body or {})}
    async with m.client.request(spec.method, path, **kwargs) as resp:
        if resp.content_type == "text/event-stream":
            # A live stream never ends: what it says first is what it would leak.
            raw = await resp.content.readuntil(b"\n\n")
        else:
            raw = await resp.read()
        return resp.status, raw.decode("utf-8", "replace") + "\n" + str(resp.headers)


async def join_room(m: Matrix, caller: Caller, path: str) -> tuple[bool, str]:
    """Open the signalling socket: (admitted, what came back)."""
    m.calls += 1
    try:
        ws = await m.client.ws_connect(path, headers=caller.headers(m.origin))
    except aiohttp.WSServerHandshakeError as exc:
        return False, f"handshake {exc.status}"
    try:
        if not ws.closed:
            await ws.send_json({"type": "join", "resume_token": None})
        # Generous: the server answers at once either way; this only bounds a broken server.
        msg = await ws.receive(timeout=30)
    except (ConnectionResetError, RuntimeError, TimeoutError) as exc:
        return False, repr(exc)
    finally:
        await ws.close()
    if msg.type != aiohttp.WSMsgType.TEXT:
        return False, f"closed {ws.close_code}"
    kind = orjson.loads(msg.data).get("type")
    return kind in ("welcome", "lobby"), str(msg.data)


class _Found(Exception):
    """The first finding, when one is enough."""


def note(m: Matrix, caller: Caller, spec: RouteSpec, path: str, problem: str) -> None:
    m.findings.append(f"{caller.role}: {spec.method} {path} ({spec.template}): {problem}")
    if m.first_only:
        raise _Found


async def probe(
    m: Matrix,
    caller: Caller,
    spec: RouteSpec,
    ids: dict[str, str],
    *,
    object_route: bool,
    strict: bool = False,
) -> None:
    """One request reaching for the other world: refused like a missing object, leaking nothing.

    ``strict``: every object in the request is the other world's, so the answer is 404 (a read)
    or, for a write, 404 or exactly what a missing object gets (a role check that comes first).
    """
    path = spec.path(ids)
    if spec.websocket:
        admitted, answer = await join_room(m, caller, path)
        if admitted:
            note(m, caller, spec, path, f"joined another facility's room: {answer[:120]}")
        return
    query = None if object_route else list_query(spec, m.other)
    status, text = await call(m, caller, spec, path, query)
    if 200 <= status < 300 and (object_route or spec.method != "GET"):
        note(m, caller, spec, path, f"answered {status}: {text[:160]!r}")
    elif object_route and status != 404:
        if strict and spec.method == "GET":
            note(m, caller, spec, path, f"answered {status}, expected 404: {text[:160]!r}")
        else:
            # The answer may come from an earlier check; it must not depend on the object.
            other_ids = {p: m.other.ids(spec.kinds())[p] for p in ids}
            missing_ids = {
                p: missing(k) if ids[p] == other_ids[p] and k in CLINICAL else ids[p]
                for p, k in spec.kinds().items()
            }
            control, _ = await call(m, caller, spec, spec.path(missing_ids), None, missing)
            if control != status:
                note(m, caller, spec, path, f"answered {status}, a missing object {control}")
    found = leaked(m, text, f"{path}?{query}")
    if found:
        note(m, caller, spec, path, f"status {status} leaked {found}")


async def run_matrix(m: Matrix) -> list[str]:
    """Every route × every role of world A × world B's objects; the problems found."""
    try:
        await _run_matrix(m)
    except _Found:
        pass
    return m.findings


async def _run_matrix(m: Matrix) -> None:
    specs = router_routes(m.client.app)
    assert len(specs) > 20, "the router looks empty"
    before = await snapshot(m.engine)
    for spec in specs:
        kinds = spec.kinds()
        if (spec.template in OWN_ACCOUNT or "own" in kinds.values()) and spec.method != "GET":
            continue
        other_ids = m.other.ids(kinds)
        for role, caller in m.callers.items():
            if spec.admin_area:
                if role == Role.admin:
                    continue  # the audit log shows everything to admins, by design
                path = spec.path(other_ids)
                status, text = await call(m, caller, spec, path)
                if 200 <= status < 300 or leaked(m, text, path):
                    note(m, caller, spec, path, f"admin area answered {status}")
                continue
            if spec.clinical:
                await probe(m, caller, spec, other_ids, object_route=True, strict=True)
                clinical_params = [p for p, k in kinds.items() if k in CLINICAL]
                if len(clinical_params) > 1:
                    # One foreign object among the caller's own: still nothing.
                    for param in clinical_params:
                        mixed = m.own.ids(kinds) | {param: other_ids[param]}
                        await probe(m, caller, spec, mixed, object_route=True)
            elif spec.name in BODY_REFERENCES:
                await probe(m, caller, spec, {}, object_route=True)
            elif spec.method == "GET":
                # Lists, directory entries, pages: whatever they show, none of it is B's.
                await probe(m, caller, spec, other_ids, object_route=False)
            elif kinds and role != Role.admin:
                # Writes on directory entries (users, facilities) are for admins only.
                await probe(m, caller, spec, other_ids, object_route=False)
    if await snapshot(m.engine) != before:
        m.findings.append("the other facility's records (or some record) changed")


async def positive_controls(m: Matrix) -> list[str]:
    """Every clinical GET route answers 2xx to someone with world A's own objects."""
    unreached: list[str] = []
    for spec in router_routes(m.client.app):
        if not spec.clinical or (spec.method != "GET"):
            continue
        path = spec.path(m.own.ids(spec.kinds()))
        answers = []
        for caller in m.callers.values():
            if spec.websocket:
                admitted, answer = await join_room(m, caller, path)
                answers.append(200 if admitted else 0)
            else:
                status, _ = await call(m, caller, spec, path)
                answers.append(status)
        # Past the access check: a 2xx, or a refusal about the object itself (e.g. a PDF has
        # no image preview).
        if not any(200 <= s < 300 or s in (400, 409) for s in answers):
            unreached.append(f"GET {path}: {answers}")
    return unreached


# Tests -----------------------------------------------------------------------------------------


async def test_no_route_leaks_another_facility(matrix: Matrix) -> None:
    findings = await run_matrix(matrix)
    assert findings == [], "\n".join(findings)
    # The 404s above mean something only if the same routes work with one's own objects.
    assert await positive_controls(matrix) == []
    assert matrix.calls > 100


def _permissive_filter(*args: Any, **kwargs: Any) -> Any:
    return sa.true()


async def _any_room_role(**kwargs: Any) -> str:
    return "participant"


RULES: dict[str, tuple[str, Any]] = {
    "cases": ("cases_filter", _permissive_filter),
    "patients": ("patients_filter", _permissive_filter),
    "consultations": ("consultations_filter", _permissive_filter),
    "rooms": ("room_role", _any_room_role),
}


@pytest.mark.parametrize("rule", sorted(RULES))
async def test_removing_any_rule_is_caught(
    matrix: Matrix, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, permissive = RULES[rule]
    monkeypatch.setattr(access, name, permissive)
    matrix.first_only = True
    findings = await run_matrix(matrix)
    assert findings, f"the matrix did not notice that access.{name} lets everyone in"


def test_every_route_parameter_is_classified() -> None:
    spec = RouteSpec("GET", "/api/v1/things/{id}", "x", ("id",))
    with pytest.raises(AssertionError, match="does not know"):
        spec.kinds()
    spec = RouteSpec("GET", "/api/v1/consultations/{id}/minutes/{case_id}", "x", ("id", "case_id"))
    assert spec.kinds() == {"id": "consultation", "case_id": "case"} and spec.clinical
    assert spec.path({"id": "a", "case_id": "b"}) == "/api/v1/consultations/a/minutes/b"
