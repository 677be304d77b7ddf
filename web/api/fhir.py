"""The FHIR R4 export of a consultation's record about one case (a document Bundle)."""

from __future__ import annotations

from aiohttp import web

from records.fhir import consultation_bundle
from records.models import Attachment

from .common import actor, path_uuid, query_uuid, sessions
from .registry import ApiRoutes, Param

routes = ApiRoutes(tag="fhir")
FHIR_JSON = "application/fhir+json"


@routes.route(
    "GET",
    "/api/v1/consultations/{id}/fhir",
    name="api-consultation-fhir",
    summary=(
        "The consultation's record about one case as a FHIR document Bundle (R4 shapes, built "
        "and validated with fhir.resources' R4B models): the minutes as the Composition, then "
        "Patient, Practitioner(Role)s, Organizations, ServiceRequest, Appointment, Encounter "
        "(class virtual), DocumentReferences and ImagingStudies; audited as an export"
    ),
    query=(Param("case_id", "which case (needed when the session discussed several)", fmt="uuid"),),
    response_content=FHIR_JSON,
    errors=(400, 401, 404, 409),
)
async def fhir_bundle(request: web.Request) -> web.Response:
    """Export the consultation as a FHIR document."""

    def download_url(attachment: Attachment) -> str:
        return str(request.app.router["api-attachment"].url_for(id=str(attachment.id)))

    async with sessions(request)() as session:
        bundle = await consultation_bundle(
            session=session,
            consultation_id=path_uuid(request),
            case_id=query_uuid(request, "case_id"),
            actor=actor(request),
            attachment_url=download_url,
        )
    return web.Response(
        body=bundle.model_dump_json().encode("utf-8"),
        content_type=FHIR_JSON,
        charset="utf-8",
    )
