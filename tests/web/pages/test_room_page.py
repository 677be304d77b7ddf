"""The consultation room page: who may open it, what it carries, in both languages."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import factories
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from babel.messages.pofile import read_po
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records import passwords
from records.actor import Actor
from records.blobs import BlobStore
from records.db import session_maker
from records.models import (
    Consultation,
    ConsultationStatus,
    FacilityLevel,
    NetworkTestCreate,
    NetworkVerdict,
    ParticipantRole,
    Role,
    User,
)
from records.models.base import utcnow
from records.services import attachments, network_tests
from telemed.app import create_app
from telemed.settings import Settings

PASSWORD = "Phòng hội chẩn 2024"
WEB = Path(__file__).resolve().parents[3] / "web"
Client = TestClient[web.Request, web.Application]


@dataclass
class Room:
    """A running app with a scheduled consultation and the people around it."""

    client: Client
    consultation: Consultation
    chair: User
    specialist: User
    stranger: User
    engine: AsyncEngine

    @property
    def url(self) -> str:
        """The room page's path."""
        return f"/consultations/{self.consultation.id}/room"


async def database_url(engine: AsyncEngine) -> str:
    """The URL of the test database, with the PostgreSQL test schema the engine works in."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    async with engine.connect() as conn:
        schema = str((await conn.execute(text("SHOW search_path"))).scalar_one()).strip('"')
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@pytest.fixture
async def room(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Room]:
    """The real application on the test database, with a consultation ready to join."""
    hashed = passwords.hash_password(PASSWORD)
    async with session_maker(engine)() as s:
        province = await factories.facility(s, level=FacilityLevel.provincial)
        district = await factories.facility(s, parent=province)
        other = await factories.facility(s, parent=province)
        chair = await factories.user(s, facility=province, role=Role.coordinator, username="chair")
        specialist = await factories.user(
            s, facility=province, role=Role.specialist, username="specialist"
        )
        doctor = await factories.user(s, facility=district, username="doctor")
        stranger = await factories.user(s, facility=other, username="stranger")
        for u in (chair, specialist, doctor, stranger):
            u.password_hash = hashed
            s.add(u)
        await s.commit()
        patient = await factories.patient(s, facility=district, full_name="Hoàng Thị Mai")
        case = await factories.case(s, patient=patient, author=doctor, title="Suy tim mạn")
        consultation = await factories.consultation(
            s,
            host=province,
            requesting=district,
            cases=[case],
            chair=chair,
            participants={specialist.id: ParticipantRole.specialist},
        )
        consultation.scheduled_start = utcnow() + timedelta(minutes=5)
        consultation.scheduled_end = utcnow() + timedelta(minutes=65)
        s.add(consultation)
        await s.commit()
        for obj in (consultation, chair, specialist, stranger):
            await s.refresh(obj)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, database_url=await database_url(engine))
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield Room(client, consultation, chair, specialist, stranger, engine)
    finally:
        await client.close()


async def sign_in(client: Client, user: User) -> None:
    """Open a browser session for a user."""
    resp = await client.post(
        "/api/v1/session", json={"username": user.username, "password": PASSWORD}
    )
    assert resp.status == 200, await resp.text()


def room_config(html: str) -> dict[str, object]:
    """The JSON the page hands to its scripts."""
    found = re.search(
        r'<script type="application/json" id="room-config"[^>]*>(.*?)</script>', html, re.S
    )
    assert found is not None
    value = json.loads(found.group(1))
    assert isinstance(value, dict)
    return value


async def test_an_invited_specialist_gets_the_room_with_the_case_file(room: Room) -> None:
    await sign_in(room.client, room.specialist)
    resp = await room.client.get(room.url)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    html = await resp.text()
    assert "Suy tim mạn" in html and "Hoàng Thị Mai" in html
    assert "Vào phòng" in html
    # Participants get no moderation controls.
    assert 'id="control-end"' not in html and 'data-tab="lobby"' not in html
    config = room_config(html)
    assert config["role"] == "participant"
    assert config["joinUrl"] == f"/api/v1/consultations/{room.consultation.id}/join"
    strings = config["strings"]
    assert isinstance(strings, dict)
    assert strings["reconnecting"] == "Đang kết nối lại…"
    # Scripts run only with the response's CSP nonce.
    nonce = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"])
    assert nonce is not None
    assert f'nonce="{nonce.group(1)}" src="/static/room/main.js' in html


async def test_the_chair_gets_moderation_controls(room: Room) -> None:
    await sign_in(room.client, room.chair)
    resp = await room.client.get(room.url)
    html = await resp.text()
    assert resp.status == 200
    assert room_config(html)["role"] == "moderator"
    assert 'id="control-end"' in html and 'data-tab="lobby"' in html


async def test_the_join_endpoint_the_page_calls_answers_a_token(room: Room) -> None:
    await sign_in(room.client, room.specialist)
    html = await (await room.client.get(room.url)).text()
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert csrf is not None
    resp = await room.client.post(
        str(room_config(html)["joinUrl"]), headers={"X-CSRF-Token": csrf.group(1)}
    )
    assert resp.status == 200, await resp.text()
    info = await resp.json()
    assert info["room_id"] == room.consultation.room_id
    assert info["token"] and info["ws_url"].endswith(f"/ws/rooms/{room.consultation.room_id}")


async def test_someone_from_another_facility_gets_not_found(room: Room) -> None:
    await sign_in(room.client, room.stranger)
    resp = await room.client.get(room.url)
    assert resp.status == 404
    assert "Hoàng Thị Mai" not in await resp.text()


async def test_unknown_and_malformed_ids_are_not_found(room: Room) -> None:
    await sign_in(room.client, room.specialist)
    for path in ("/consultations/not-a-uuid/room", f"/consultations/{room.chair.id}/room"):
        resp = await room.client.get(path)
        assert resp.status == 404, path


async def test_signed_out_visitors_are_sent_to_the_login(room: Room) -> None:
    resp = await room.client.get(room.url, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/login")


async def test_a_cancelled_consultation_has_no_room(room: Room) -> None:
    async with session_maker(room.engine)() as s:
        c = await s.get(Consultation, room.consultation.id)
        assert c is not None
        c.status = ConsultationStatus.cancelled
        s.add(c)
        await s.commit()
    await sign_in(room.client, room.specialist)
    resp = await room.client.get(room.url)
    # The invited specialist may know the session: it is over, not unknown.
    assert resp.status == 409
    assert "Vào phòng" not in await resp.text()


async def test_the_room_speaks_english_on_request(room: Room) -> None:
    await sign_in(room.client, room.specialist)
    room.client.session.cookie_jar.update_cookies({"lang": "en"})
    html = await (await room.client.get(room.url)).text()
    assert "Join as a viewer (no camera, no microphone)" in html
    strings = room_config(html)["strings"]
    assert isinstance(strings, dict)
    assert strings["reconnecting"] == "Reconnecting…"
    assert "Vào để xem" not in html


def test_every_room_text_has_an_english_translation() -> None:
    templates = [WEB / "templates" / "room.html", *sorted((WEB / "templates").glob("_room_*.html"))]
    ids: set[str] = set()
    for path in templates:
        ids.update(m.group(2) for m in re.finditer(r"""_\((["'])(.*?)\1\)""", path.read_text()))
    with (WEB / "locale" / "en" / "LC_MESSAGES" / "room.po").open("rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert len(ids) > 50
    assert ids - translated == set()


async def test_the_prejoin_links_to_the_network_test_and_back(room: Room) -> None:
    await sign_in(room.client, room.specialist)
    html = await (await room.client.get(room.url)).text()
    link = re.search(r'<a id="prejoin-nettest"[^>]*href="([^"]+)"', html)
    assert link is not None
    target = link.group(1).replace("&amp;", "&")
    assert target.startswith("/network-test?next=")
    # The network test page offers the way back to this room.
    back = await room.client.get(target)
    assert back.status == 200
    assert f'href="{room.url}"' in await back.text()
    assert 'id="prejoin-audio-only"' in html and 'id="prejoin-network-note"' in html
    strings = room_config(html)["strings"]
    assert isinstance(strings, dict)
    network = strings["network"]
    assert isinstance(network, dict)
    assert set(network) == {"video", "reduced", "audio", "failed", "none"}


async def test_only_moderators_get_the_record_button_everyone_the_consent_prompt(
    room: Room,
) -> None:
    await sign_in(room.client, room.specialist)
    html = await (await room.client.get(room.url)).text()
    assert 'id="control-record"' not in html
    assert 'id="consent-prompt"' in html and 'data-action="consent-decline"' in html
    assert 'id="room-recording"' in html and "Đang ghi hình" in html
    room.client.session.cookie_jar.clear()
    await sign_in(room.client, room.chair)
    html = await (await room.client.get(room.url)).text()
    assert 'id="control-record"' in html and 'id="consent-accept"' in html


async def test_the_consultation_page_shows_network_tests_and_recordings(
    room: Room, tmp_path: Path
) -> None:
    async with session_maker(room.engine)() as s:
        await network_tests.record_result(
            session=s,
            actor=Actor.of(room.specialist),
            data=NetworkTestCreate(
                rtt_ms=80,
                jitter_ms=8,
                loss_pct=0.5,
                bitrate_kbps=200,
                fps=12,
                verdict=NetworkVerdict.reduced,
            ),
        )
        media = tmp_path / "chair.mp4"
        content = b"\x00\x00\x00\x18ftypmp42" + bytes(2048)
        media.write_bytes(content)
        stored = await attachments.store_recording(
            session=s,
            blobs=BlobStore(Settings(data_dir=tmp_path / "data").blob_dir),
            consultation_id=room.consultation.id,
            path=media,
            content_type="video/mp4",
            meta={
                "duration": 5.2,
                "participant": {"user_id": str(room.chair.id), "name": room.chair.display_name},
            },
        )
    page = f"/consultations/{room.consultation.id}"
    player = f'src="/api/v1/attachments/{stored.id}"'

    await sign_in(room.client, room.chair)
    resp = await room.client.get(page)
    assert resp.status == 200
    html = await resp.text()
    # The coordinator sees each invitee's last network test beside them.
    assert 'data-verdict="reduced"' in html and "Hình ảnh chất lượng thấp" in html
    assert "kiểm tra lúc" in html
    # The recording plays from the download route, with who it shows and how long.
    assert "<video" in html and player in html
    assert room.chair.display_name in html and "5 giây" in html
    download = await room.client.get(f"/api/v1/attachments/{stored.id}")
    assert download.status == 200
    assert (await download.read()) == content

    # An invited specialist may watch the recording but not see others' network tests.
    room.client.session.cookie_jar.clear()
    await sign_in(room.client, room.specialist)
    html = await (await room.client.get(page)).text()
    assert player in html
    assert "network-verdict" not in html and "Hình ảnh chất lượng thấp" not in html
