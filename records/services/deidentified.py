"""De-identified copies of a case's DICOM files, for sharing outside the record.

The original is never altered: the copy is derived in a render worker
(``records.deidentify``), kept beside the file's previews, and every download is audited with
the fact that it was de-identified and whether its pixels may carry burned-in text.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from dataclasses import dataclass

import pydicom
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit, deidentify
from ..actor import Actor
from ..blobs import BlobStore
from ..errors import Invalid
from ..messages import N_, msg
from ..models import Attachment
from ..render import Renderer
from ..render.jobs import DicomDeidentified
from .attachment_reads import audit_download, readable

NOT_DICOM = N_("Chỉ tệp DICOM mới có bản ẩn danh")
# Bump when what the copy leaves out changes: older copies are then made again.
VERSION = 1


@dataclass(frozen=True, slots=True)
class Deidentified:
    """A de-identified copy ready to send, and what to tell about it."""

    attachment: Attachment
    data: bytes
    burned_in: bool

    @property
    def filename(self) -> str:
        """The original's name marked as the de-identified copy."""
        stem = self.attachment.filename.rsplit(".", 1)[0] or "anh"
        return f"{stem}-an-danh.dcm"


def _seed(session: AsyncSession, case_id: uuid.UUID) -> str:
    # One seed per case, so that the files of a case keep agreeing (one study UID, one patient
    # ID), and keyed with the installation's secret, so that nobody can test a guessed name
    # against a copy by running the same tool.
    key = audit.session_key(session) or b"telemed-deidentify"
    return hmac.new(key, b"deidentify:" + case_id.bytes, hashlib.sha256).hexdigest()


async def deidentified_dicom(
    *,
    session: AsyncSession,
    blobs: BlobStore,
    renderer: Renderer,
    actor: Actor,
    attachment_id: uuid.UUID,
) -> Deidentified:
    """A de-identified copy of a DICOM attachment for a reader of its case; audited."""
    attachment, case = await readable(session, actor=actor, attachment_id=attachment_id)
    if attachment.content_type != "application/dicom":
        raise Invalid(msg(NOT_DICOM))
    seed = _seed(session, case.id)
    ext = f"deid{VERSION}-{seed[:16]}.dcm"
    data = blobs.read_preview(attachment.sha256, ext)
    burned: bool | None = None
    if data is None:
        await blobs.verify(attachment.sha256, size=attachment.size)
        # A file that cannot be read answers 400 with the reason (RenderError is Invalid).
        done = await renderer.run(DicomDeidentified(blobs.path_for(attachment.sha256), seed=seed))
        data, burned = done.data, bool(done.meta.get("burned_in"))
        blobs.write_preview(attachment.sha256, ext, data)
    if burned is None:
        # A kept copy: its header only, in the server (no pixels are decoded here).
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        burned = deidentify.burned_in(header)
    await audit_download(
        session,
        actor=actor,
        attachment=attachment,
        case=case,
        deidentified=True,
        burned_in=burned,
    )
    return Deidentified(attachment=attachment, data=data, burned_in=burned)
