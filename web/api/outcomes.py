"""The outcome after a consultation: the requesting doctor reports it, everyone who may read
the case reads it."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from records.models import CaseOutcomePublic, OutcomeCreate
from records.services import outcomes as svc

from ..keys import config_key
from .common import actor, body, json, one, path_uuid, sessions
from .registry import ApiRoutes

routes = ApiRoutes(tag="outcomes")


def _due(request: web.Request) -> timedelta:
    return timedelta(days=request.app[config_key].outcome_due_days)


def _follow_up(follow_up: svc.FollowUp) -> dict[str, object]:
    return {
        "consultation_id": str(follow_up.consultation.id),
        "case_id": str(follow_up.minutes.case_id),
        "minutes_id": str(follow_up.minutes.id),
        "conclusion": follow_up.minutes.conclusion,
        "icd10": follow_up.minutes.icd10,
        "treatment_plan": follow_up.minutes.treatment_plan,
        "finalized_at": follow_up.minutes.finalized_at,
        "due_at": follow_up.due_at,
        "outcomes": [
            CaseOutcomePublic.model_validate(o, from_attributes=True).model_dump(mode="json")
            for o in follow_up.outcomes
        ],
    }


@routes.route(
    "POST",
    "/api/v1/consultations/{id}/outcomes/{case_id}",
    name="api-outcome-record",
    summary="Report the outcome of a case after the final minutes (doctors of the case's facility)",
    body=OutcomeCreate,
    response=CaseOutcomePublic,
    status=201,
    errors=(400, 401, 403, 404, 409),
)
async def record_outcome(request: web.Request) -> web.Response:
    """Add an outcome entry."""
    data = await body(request, OutcomeCreate)
    async with sessions(request)() as session:
        outcome = await svc.record_outcome(
            session=session,
            consultation_id=path_uuid(request),
            case_id=path_uuid(request, "case_id"),
            data=data,
            actor=actor(request),
        )
    return one(CaseOutcomePublic, outcome, status=201)


@routes.route(
    "GET",
    "/api/v1/cases/{id}/outcomes",
    name="api-case-outcomes",
    summary="The final minutes about a case, each with its conclusion and reported outcomes",
)
async def case_outcomes(request: web.Request) -> web.Response:
    """The follow-up of a case, newest minutes first."""
    who = actor(request)
    async with sessions(request)() as session:
        found = await svc.for_case(
            session=session, case_id=path_uuid(request), actor=who, due=_due(request)
        )
    items = [_follow_up(f) for f in found]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/outcomes",
    name="api-consultation-outcomes",
    summary="The outcomes reported after a consultation, for the cases the caller may read",
)
async def consultation_outcomes(request: web.Request) -> web.Response:
    """The follow-up of each readable case of a consultation."""
    who = actor(request)
    consultation_id = path_uuid(request)
    async with sessions(request)() as session:
        found = await svc.for_consultation(
            session=session, consultation_id=consultation_id, actor=who, due=_due(request)
        )
    items = [_follow_up(f) for f in found.values()]
    return json({"items": items, "total": len(items), "limit": len(items), "offset": 0})
