"""Network test results: what a user's link is good for, kept for the coordinator to see."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from .. import access, audit
from ..actor import Actor
from ..errors import Unauthenticated
from ..messages import msg
from ..models import NetworkTestCreate, NetworkTestResult, NetworkVerdict, Participant, Role

# (verdict, max RTT ms, max jitter ms, max loss %, min bitrate kbit/s, min frames/s),
# best first. The bitrate and frame rate are those of the echoed video that got back.
THRESHOLDS: tuple[tuple[NetworkVerdict, float, float, float, float, float], ...] = (
    (NetworkVerdict.video, 300.0, 30.0, 3.0, 300.0, 15.0),
    (NetworkVerdict.reduced, 600.0, 60.0, 8.0, 120.0, 8.0),
    (NetworkVerdict.audio, 1000.0, 100.0, 15.0, 24.0, 0.0),
)


def verdict_for(
    *,
    rtt_ms: float | None,
    jitter_ms: float | None,
    loss_pct: float | None,
    bitrate_kbps: float | None,
    fps: float | None,
) -> NetworkVerdict:
    """The plain verdict for measured figures (missing figures count against the link)."""
    if bitrate_kbps is None or bitrate_kbps <= 0:
        return NetworkVerdict.failed
    rtt = rtt_ms if rtt_ms is not None else float("inf")
    loss = loss_pct if loss_pct is not None else 100.0
    frames = fps if fps is not None else 0.0
    jitter = jitter_ms if jitter_ms is not None else 0.0
    for verdict, max_rtt, max_jitter, max_loss, min_kbps, min_fps in THRESHOLDS:
        if (
            rtt <= max_rtt
            and jitter <= max_jitter
            and loss <= max_loss
            and bitrate_kbps >= min_kbps
            and frames >= min_fps
        ):
            return verdict
    return NetworkVerdict.failed


async def record_result(
    *, session: AsyncSession, actor: Actor, data: NetworkTestCreate
) -> NetworkTestResult:
    """Store the signed-in user's test; the verdict follows from the figures."""
    if actor.user_id is None:
        raise Unauthenticated(msg("Cần đăng nhập để lưu kết quả kiểm tra đường truyền"))
    verdict = (
        NetworkVerdict.failed
        if data.verdict == NetworkVerdict.failed
        else verdict_for(
            rtt_ms=data.rtt_ms,
            jitter_ms=data.jitter_ms,
            loss_pct=data.loss_pct,
            bitrate_kbps=data.bitrate_kbps,
            fps=data.fps,
        )
    )
    result = NetworkTestResult(
        user_id=actor.user_id,
        rtt_ms=data.rtt_ms,
        jitter_ms=data.jitter_ms,
        loss_pct=data.loss_pct,
        bitrate_kbps=data.bitrate_kbps,
        fps=data.fps,
        verdict=verdict,
        user_agent=data.user_agent[:300],
    )
    session.add(result)
    await audit.record(
        session,
        actor=actor,
        action="create",
        object_type="network_test",
        object_id=result.id,
        detail={"verdict": str(verdict)},
    )
    await session.commit()
    return result


def _may_see_others(actor: Actor) -> bool:
    return actor.is_system or actor.role in (Role.coordinator, Role.admin)


async def _invitees(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> set[uuid.UUID]:
    """The people a chair may check on: everyone invited to the consultation they chair."""
    consultation = await access.require_chair(
        session=session, actor=actor, consultation_id=consultation_id
    )
    rows = await session.execute(
        select(Participant.user_id).where(Participant.consultation_id == consultation.id)
    )
    people = set(rows.scalars())
    if consultation.chair_id is not None:
        people.add(consultation.chair_id)
    return people


async def latest_for_users(
    *,
    session: AsyncSession,
    actor: Actor,
    user_ids: Iterable[uuid.UUID],
    consultation_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, NetworkTestResult]:
    """Each user's most recent result.

    Coordinators and admins see anyone's; everyone sees their own; with ``consultation_id``,
    its chair sees those invited to it. Any other request is refused and audited.
    """
    wanted = set(user_ids)
    others = wanted - {actor.user_id}
    if others and not _may_see_others(actor):
        allowed: set[uuid.UUID] = set()
        if consultation_id is not None:
            allowed = await _invitees(session, actor, consultation_id)
        if others - allowed:
            raise await access.deny(
                session,
                actor=actor,
                object_type="network_test",
                object_id=consultation_id,
                need="read-others",
                forbidden=msg(
                    "Chỉ điều phối viên hoặc chủ tọa phiên hội chẩn xem được kết quả "
                    "kiểm tra đường truyền của người khác"
                ),
            )
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(NetworkTestResult)
            .where(col(NetworkTestResult.user_id).in_(wanted))
            .order_by(col(NetworkTestResult.measured_at).desc(), col(NetworkTestResult.id))
        )
    ).scalars()
    latest: dict[uuid.UUID, NetworkTestResult] = {}
    for row in rows:
        latest.setdefault(row.user_id, row)
    return latest


async def list_mine(
    *, session: AsyncSession, actor: Actor, limit: int = 20
) -> list[NetworkTestResult]:
    """The signed-in user's recent results, newest first."""
    if actor.user_id is None:
        raise Unauthenticated(msg("Cần đăng nhập"))
    rows = await session.execute(
        select(NetworkTestResult)
        .where(NetworkTestResult.user_id == actor.user_id)
        .order_by(col(NetworkTestResult.measured_at).desc())
        .limit(max(1, min(limit, 100)))
    )
    return list(rows.scalars())
