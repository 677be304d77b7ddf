"""Calendar files (iCalendar, RFC 5545) for scheduled consultation sessions.

The texts of the event speak the reader's language (``say``, from the edge). The event carries
no clinical content: its summary names the host facility, never the patient
or the case title (a doctor may have typed the patient's name there), because calendar
entries travel to phones and mail servers outside the system.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

from .localtime import LOCAL_TZ
from .messages import Message, Speaker, msg
from .models import Consultation, ConsultationStatus
from .models.base import utcnow

TZID = LOCAL_TZ.key
PRODID = "-//Telemed//Hoi chan truc tuyen//VI"
UID_DOMAIN = "telemed"
REMINDER = timedelta(minutes=15)


class NotScheduled(ValueError):
    """The consultation has no scheduled time yet, so there is nothing to put in a calendar."""


@dataclass(frozen=True, slots=True)
class CalendarAttendee:
    """Someone invited, as a calendar shows them; only people with an e-mail are listed."""

    name: str
    email: str | None
    chair: bool = False


def event_uid(consultation_id: uuid.UUID) -> str:
    """The UID of a consultation's event: the same across downloads and reschedules."""
    return f"consultation-{consultation_id}@{UID_DOMAIN}"


def event_summary(host_name: str) -> Message:
    """The event title: the kind of meeting and the host, nothing about the patient."""
    if host_name:
        return msg("Hội chẩn trực tuyến – %(host)s", host=host_name)
    return msg("Hội chẩn trực tuyến")


def _address(attendee: CalendarAttendee) -> vCalAddress:
    address = vCalAddress(f"mailto:{attendee.email}")
    address.params["cn"] = vText(attendee.name)
    address.params["role"] = vText("CHAIR" if attendee.chair else "REQ-PARTICIPANT")
    address.params["partstat"] = vText("NEEDS-ACTION")
    return address


def consultation_calendar(
    consultation: Consultation,
    *,
    sequence: int,
    host_name: str,
    url: str | None = None,
    attendees: Sequence[CalendarAttendee] = (),
    stamp: datetime | None = None,
    say: Speaker = str,
) -> bytes:
    """One VEVENT for a scheduled session, in Asia/Ho_Chi_Minh with its VTIMEZONE."""
    start, end = consultation.scheduled_start, consultation.scheduled_end
    if start is None or end is None:
        raise NotScheduled("the consultation has no scheduled time")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add_component(Timezone.from_tzid(TZID))

    event = Event()
    event.add("uid", event_uid(consultation.id))
    event.add("sequence", max(0, sequence))
    event.add("dtstamp", (stamp or utcnow()).astimezone(UTC))
    event.add("dtstart", start.astimezone(LOCAL_TZ))
    event.add("dtend", end.astimezone(LOCAL_TZ))
    event.add("summary", say(event_summary(host_name)))
    lines = [msg("Phiên hội chẩn trực tuyến.")]
    if url:
        lines.append(msg("Xem chi tiết và tham gia: %(url)s", url=url))
        event.add("url", url)
    lines.append(msg("Thông tin người bệnh chỉ xem được trong hệ thống sau khi đăng nhập."))
    event.add("description", "\n".join(say(line) for line in lines))
    if host_name:
        event.add("location", host_name)
    # Private: calendar servers that share free/busy must not show the details.
    event.add("class", "PRIVATE")
    cancelled = consultation.status == ConsultationStatus.cancelled
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if consultation.updated_at is not None:
        event.add("last-modified", consultation.updated_at.astimezone(UTC))
    for attendee in attendees:
        if attendee.email:
            event.add("attendee", _address(attendee), encode=False)
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", say(msg("Phiên hội chẩn sắp bắt đầu")))
        alarm.add("trigger", -REMINDER)
        event.add_component(alarm)
    cal.add_component(event)
    result: bytes = cal.to_ical()
    return result
