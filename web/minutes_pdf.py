"""The minutes as an A4 PDF (WeasyPrint) from the page's own document template, in Vietnamese,
signed by the host facility and kept with the case."""

from __future__ import annotations

import asyncio
import gettext as _gettext

import aiohttp_jinja2
import weasyprint
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from records.actor import Actor
from records.models import Attachment, Minutes
from records.services import minutes_document
from records.services import minutes_pdf as minutes_pdf_svc
from records.signing import FacilityCertificates

from .i18n import Localizer
from .keys import blobs_key

# The facilities' certificates, set by the application factory from the settings.
certs_key = web.AppKey("facility_certs", FacilityCertificates)
# The official document is written in Vietnamese whatever the reader's language.
DOCUMENT_LANG = "vi"


async def render_pdf(app: web.Application, doc: minutes_document.MinutesDocument) -> bytes:
    """The minutes on the form, as PDF bytes (fonts embedded by WeasyPrint)."""
    lz = Localizer(lang=DOCUMENT_LANG, translations=_gettext.NullTranslations())
    template = aiohttp_jinja2.get_env(app).get_template("minutes/pdf.html")
    html = template.render(
        doc=doc,
        _=lz.gettext,
        gettext=lz.gettext,
        ngettext=lz.ngettext,
        label=lz.label,
        lang=DOCUMENT_LANG,
    )
    document = weasyprint.HTML(string=html)
    data: bytes = await asyncio.to_thread(document.write_pdf)
    return data


async def publish(
    app: web.Application, session: AsyncSession, minutes: Minutes, actor: Actor
) -> Attachment:
    """Render, sign and keep the PDF of final minutes (once; later calls return it)."""
    doc = await minutes_document.build(session, minutes)
    pdf = await render_pdf(app, doc)
    return await minutes_pdf_svc.attach_signed_pdf(
        session=session,
        blobs=app[blobs_key],
        certs=app[certs_key],
        minutes_id=minutes.id,
        pdf=pdf,
        actor=actor,
    )
