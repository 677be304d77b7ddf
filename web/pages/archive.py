"""The archive of a consultation's record, downloaded from its page (docs/retention.md)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from records.archive import export_archive
from records.localtime import to_local
from records.messages import N_
from records.models import Attachment, utcnow
from records.services.notifications import reference

from ..keys import blobs_key, sessions_key
from ..security import require_actor
from .common import parse_id

CHUNK = 1 << 20


async def archive_download(request: web.Request) -> web.StreamResponse:
    """Build the archive in a private temporary directory, send it, remove it."""
    who = require_actor(request)
    consultation_id = parse_id(request.match_info["id"], N_("Không tìm thấy phiên hội chẩn"))

    def url(a: Attachment) -> str:
        return str(request.app.router["api-attachment"].url_for(id=str(a.id)))

    work = Path(tempfile.mkdtemp(prefix="telemed-archive-"))
    try:
        out = work / "archive.zip"
        async with request.app[sessions_key]() as session:
            await export_archive(
                session=session,
                blobs=request.app[blobs_key],
                consultation_id=consultation_id,
                actor=who,
                out=out,
                attachment_url=url,
            )
        name = f"luu-tru-{reference(consultation_id)}-{to_local(utcnow()):%Y%m%d}.zip"
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(out.stat().st_size),
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        with open(out, "rb") as f:
            while chunk := f.read(CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        shutil.rmtree(work, ignore_errors=True)


def add_routes(app: web.Application) -> None:
    """Register the archive download."""
    app.router.add_get(
        "/consultations/{id}/archive.zip", archive_download, name="consultation-archive"
    )
