"""Recordings under review: their download names and their place on the session's clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from records.models import Attachment, AttachmentKind
from records.services.recording_review import place, recording_filename

T0 = datetime(2026, 12, 7, 5, 15, 3, tzinfo=UTC)


def test_names_say_who_and_when_in_plain_ascii() -> None:
    assert recording_filename("ThS. BS. Lê Thị Hoa", T0, ".mp4") == (
        "ghi-hinh-ths-bs-le-thi-hoa-20261207-121503.mp4"
    )
    assert recording_filename("Đỗ Văn Nam", None, ".mp4") == "ghi-hinh-do-van-nam.mp4"
    # Bidirectional overrides, control characters and path separators cannot survive.
    tricky = recording_filename("A\u202egpj.exe\x00/../\r\nB", T0, ".mp4")
    assert tricky == "ghi-hinh-a-gpj-exe-b-20261207-121503.mp4"
    assert recording_filename("\u202e\u200f", T0, ".webm").startswith("ghi-hinh-nguoi-tham-du-")


def _rec(name: str, started: datetime | None) -> Attachment:
    meta = {"participant": {"name": name}, "duration": 5.0}
    if started is not None:
        meta["started"] = started.isoformat()
    return Attachment(
        case_id=uuid.uuid4(),
        kind=AttachmentKind.recording,
        filename="ghi-hinh.mp4",
        content_type="video/mp4",
        size=1,
        sha256="0" * 64,
        meta=meta,
    )


def test_recordings_are_placed_on_one_clock() -> None:
    later = _rec("BS. B", T0 + timedelta(seconds=2.5))
    first = _rec("BS. A", T0)
    placed = place([later, first])
    assert [(r.participant, r.offset) for r in placed] == [("BS. A", 0.0), ("BS. B", 2.5)]
    assert placed[1].download_name == "ghi-hinh-bs-b-20261207-121505.mp4"
    assert len({r.download_name for r in placed}) == 2
