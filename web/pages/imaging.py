"""Imaging studies in the browser: the viewer page of one study (``static/imaging/``).

The page carries the study (series, slices in order) as the API gives it (``web/api/imaging.py``),
so the viewer asks at once for the first slice; the slices come from the JSON API, which checks
access. The view is audited by ``get_study`` here, once per session.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from records.imaging import Study
from records.services import cases as cases_svc
from records.services import imaging as imaging_svc

from ..api.imaging import study_json
from ..keys import background_key, blobs_key, renderer_key, sessions_key
from ..security import require_actor
from .common import parse_id, render, url


async def study_view(request: web.Request) -> web.StreamResponse:
    """The viewer of one study of a case, full window."""
    actor = require_actor(request)
    case_id = parse_id(request.match_info["id"], imaging_svc.NOT_FOUND)
    study_id = parse_id(request.match_info["study"], imaging_svc.NOT_FOUND)
    async with request.app[sessions_key]() as session:
        study = await imaging_svc.get_study(
            session=session, actor=actor, case_id=case_id, study=study_id
        )
        case = await cases_svc.get_case(session=session, case_id=case_id, actor=actor)
    context = {
        "case": case,
        "study": study,
        "study_url": url(request, "api-case-study", id=str(case.id), study=str(study.id)),
        # In the page, so that the first slice is not one more round trip away.
        "study_data": study_json(request, study, full=True),
    }
    return await render(request, "imaging/study.html", context)


def warm_studies(request: web.Request, case_id: uuid.UUID, studies: list[Study]) -> None:
    """A page that lists a case's studies packs, in the background, the slice each series
    opens on, so that the viewer's first image waits for the link only."""
    tasks = request.app.get(background_key)
    if tasks is not None and studies:
        work = imaging_svc.warm(
            blobs=request.app[blobs_key], renderer=request.app[renderer_key], studies=studies
        )
        tasks.spawn(f"warm-imaging:{case_id}", work)


def add_routes(app: web.Application) -> None:
    """Register the study viewer page."""
    app.router.add_get("/cases/{id}/studies/{study}", study_view, name="case-study")
