"""What a notification says and where it leads, in a reader's language: for the pages, the
live stream and the e-mails (which carry a reference and a facility, never a patient's name)."""

from __future__ import annotations

from email.message import EmailMessage

from aiohttp import web

from records.messages import N_
from records.models import Notification
from records.services.notifications import text_of
from records.services.thread import anchor_of

from .i18n import Translations

SUBJECT = N_("[Hội chẩn trực tuyến] %(text)s")
BODY_LINK = N_("Mở trong hệ thống: %(url)s")
BODY_FOOTER = N_(
    "Thư này được gửi tự động từ hệ thống hội chẩn trực tuyến. Để đổi cách nhận thông báo, "
    "vào «Tài khoản của tôi»."
)


def target_path(app: web.Application, notification: Notification) -> str | None:
    """The page a notification leads to (a path), or None."""
    router = app.router
    n = notification
    if n.thread_message_id is not None and n.case_id is not None:
        return (
            f"{router['case-thread'].url_for(id=str(n.case_id))}#{anchor_of(n.thread_message_id)}"
        )
    if n.consultation_id is not None and n.case_id is not None and n.kind == "minutes":
        return str(router["minutes"].url_for(id=str(n.consultation_id), case_id=str(n.case_id)))
    if n.consultation_id is not None:
        return str(router["consultation"].url_for(id=str(n.consultation_id)))
    if n.case_id is not None:
        return str(router["case"].url_for(id=str(n.case_id)))
    return None


def say(translations: Translations, lang: str, notification: Notification) -> str:
    """The notification's text in a language."""
    t = translations.get(lang)
    return text_of(notification).render(t.gettext, t.ngettext)


def email_for(
    *,
    app: web.Application,
    translations: Translations,
    notification: Notification,
    lang: str,
    to: str,
    sender: str,
    base_url: str,
) -> EmailMessage:
    """The e-mail of a notification, in the recipient's language, with a link to the page."""
    t = translations.get(lang)
    text = say(translations, lang, notification)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = t.gettext(SUBJECT) % {"text": text}
    path = target_path(app, notification)
    lines = [text, ""]
    if path is not None:
        lines += [t.gettext(BODY_LINK) % {"url": base_url.rstrip("/") + path}, ""]
    lines.append(t.gettext(BODY_FOOTER))
    message.set_content("\n".join(lines))
    return message
