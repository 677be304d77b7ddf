"""Reads through lists leave a trace per patient, written in one batch per answer."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from apitools import Api
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from records.db import session_maker
from records.models import AuditEvent
from telemed.keys import engine_key


class Trail:
    """The audit events written since the last look, and the statements that wrote them."""

    def __init__(self, api: Api, engine: AsyncEngine) -> None:
        self.api = api
        self.engine = engine
        self.seq = 0
        self.inserts = 0
        self.commits = 0

    def _count(self, _c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            self.inserts += 1

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    async def mark(self) -> None:
        """Forget what came before."""
        async with session_maker(self.engine)() as s:
            self.seq = int(
                (
                    await s.execute(select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))
                ).scalar_one()
            )
        self.inserts = self.commits = 0

    async def views(self) -> list[AuditEvent]:
        """The view events written since the mark."""
        async with session_maker(self.engine)() as s:
            rows = await s.execute(
                select(AuditEvent)
                .where(AuditEvent.seq > self.seq, AuditEvent.action == "view")
                .order_by(col(AuditEvent.seq))
            )
            return list(rows.scalars().all())

    def listen(self) -> None:
        """Count the statements of the app's own engine."""
        sync = self.api.client.app[engine_key].sync_engine
        event.listen(sync, "before_cursor_execute", self._count)
        event.listen(sync, "commit", self._commit)


async def _world(api: Api) -> dict[str, Any]:
    a = await api.patient(mrn="BN-A", full_name="Nguyễn Văn An")
    b = await api.patient(mrn="BN-B", full_name="Trần Thị Bình", sex="female", birth_year=1970)
    case_a = await api.case(a["id"])
    case_b = await api.case(b["id"], title="Viêm phổi cộng đồng")
    consultation = await api.scheduled(case_a["id"])
    return {"a": a, "b": b, "case_a": case_a, "case_b": case_b, "consultation": consultation}


async def test_each_list_leaves_a_trace_per_patient(api: Api, engine: AsyncEngine) -> None:
    w = await _world(api)
    trail = Trail(api, engine)
    trail.listen()
    pa, pb = w["a"]["id"], w["b"]["id"]
    cid, case_a = w["consultation"]["id"], w["case_a"]["id"]
    # The chair's draft, to be listed.
    await api.ok(
        "PUT",
        f"/api/v1/consultations/{cid}/minutes/{case_a}",
        user="specialist",
        json={"conclusion": "Theo dõi hội chứng vành cấp"},
    )
    reads: list[tuple[str, dict[str, str] | None, str, set[str], dict[str, str]]] = [
        ("/api/v1/patients", None, "doctor", {pa, pb}, {"list": "patients"}),
        ("/api/v1/patients", {"q": "tran thi"}, "doctor", {pb}, {"list": "patients"}),
        ("/api/v1/cases", None, "doctor", {pa, pb}, {"list": "cases"}),
        (f"/api/v1/cases/{case_a}/history", None, "doctor", {pa}, {"part": "history"}),
        (f"/api/v1/cases/{case_a}/attachments", None, "doctor", {pa}, {"part": "attachments"}),
        (f"/api/v1/consultations/{cid}/minutes", None, "coordinator", {pa}, {"list": "minutes"}),
        (f"/api/v1/consultations/{cid}/chat", None, "coordinator", {pa}, {"part": "chat"}),
        ("/patients", None, "doctor", {pa, pb}, {"list": "patients"}),
    ]
    for path, params, user, patients, detail in reads:
        await trail.mark()
        reply = await api.get(path, user=user, params=params)
        assert reply.status == 200, (path, reply.status, reply.body[:300])
        views = await trail.views()
        assert {str(e.patient_id) for e in views} == patients, (path, views)
        assert all(e.detail == detail and e.actor_id is not None for e in views), path
        assert all(e.actor_name == f"t.{user}" for e in views), path
        # One batch, not a statement and a commit per row.
        assert trail.inserts == 1, (path, trail.inserts)
        assert trail.commits <= 2, (path, trail.commits)
    # An empty page names no one and writes nothing.
    await trail.mark()
    await api.ok("GET", "/api/v1/patients", params={"q": "khong ai ten nay"})
    assert await trail.views() == [] and trail.inserts == 0


async def test_the_batched_events_keep_the_chain(api: Api, engine: AsyncEngine) -> None:
    await _world(api)
    await api.ok("GET", "/api/v1/cases")
    await api.ok("GET", "/api/v1/patients")
    from records import audit

    async with session_maker(engine)() as s:
        result = await audit.verify(s)
    assert result.ok, result
