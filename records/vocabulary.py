"""The names people read for the closed vocabularies: one table for the records, pages and
templates alike.

Each status, role and kind of ``records.models.enums`` (and the audit log's actions and
objects) has one Vietnamese name here, marked for translation; the edges translate it like
any other message, so a status reads the same on every page and in every error.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .messages import N_, Message, msg
from .models import (
    AttachmentKind,
    CaseStatus,
    ConsultationStatus,
    FacilityLevel,
    NetworkVerdict,
    OutcomeKind,
    ParticipantRole,
    Role,
    Sex,
    Urgency,
)

# Vocabulary name (as templates ask for it) -> value -> message id.
VOCABULARY: Mapping[str, Mapping[str, str]] = {
    "role": {
        Role.admin: N_("Quản trị viên"),
        Role.coordinator: N_("Điều phối viên"),
        Role.doctor: N_("Bác sĩ tuyến dưới"),
        Role.specialist: N_("Bác sĩ chuyên khoa"),
    },
    "participant_role": {
        ParticipantRole.chair: N_("Chủ tọa"),
        ParticipantRole.presenter: N_("Trình bày ca bệnh"),
        ParticipantRole.specialist: N_("Chuyên gia"),
        ParticipantRole.observer: N_("Dự thính"),
    },
    "case_status": {
        CaseStatus.draft: N_("Nháp"),
        CaseStatus.submitted: N_("Đã gửi"),
        CaseStatus.scheduled: N_("Đã lên lịch"),
        CaseStatus.discussed: N_("Đã hội chẩn"),
        CaseStatus.closed: N_("Đã đóng"),
    },
    "consultation_status": {
        ConsultationStatus.requested: N_("Chờ xếp lịch"),
        ConsultationStatus.scheduled: N_("Đã lên lịch"),
        ConsultationStatus.live: N_("Đang diễn ra"),
        ConsultationStatus.ended: N_("Đã kết thúc"),
        ConsultationStatus.cancelled: N_("Đã hủy"),
    },
    # The figures of the activity dashboard (records.services.activity.Figure).
    "activity_figure": {
        "requested": N_("Đã yêu cầu"),
        "held": N_("Đã hội chẩn"),
        "cancelled": N_("Đã hủy"),
        "emergency": N_("Cấp cứu"),
        "emergency_missed": N_("Cấp cứu xếp lịch quá hạn"),
    },
    "urgency": {
        Urgency.routine: N_("Thường quy"),
        Urgency.urgent: N_("Khẩn"),
        Urgency.emergency: N_("Cấp cứu"),
    },
    "sex": {Sex.male: N_("Nam"), Sex.female: N_("Nữ"), Sex.other: N_("Khác")},
    "attachment_kind": {
        AttachmentKind.lab: N_("Xét nghiệm"),
        AttachmentKind.imaging: N_("Chẩn đoán hình ảnh"),
        AttachmentKind.dicom: N_("Ảnh DICOM"),
        AttachmentKind.document: N_("Tài liệu"),
        AttachmentKind.photo: N_("Ảnh chụp"),
        AttachmentKind.recording: N_("Bản ghi hình"),
    },
    "facility_level": {
        FacilityLevel.commune: N_("Tuyến xã"),
        FacilityLevel.district: N_("Tuyến huyện"),
        FacilityLevel.provincial: N_("Tuyến tỉnh"),
        FacilityLevel.central: N_("Tuyến trung ương"),
    },
    "network_verdict": {
        NetworkVerdict.video: N_("Đường truyền tốt cho hình ảnh"),
        NetworkVerdict.reduced: N_("Hình ảnh chất lượng thấp"),
        NetworkVerdict.audio: N_("Chỉ đủ cho âm thanh"),
        NetworkVerdict.failed: N_("Không kết nối được"),
    },
    "outcome_kind": {
        OutcomeKind.followed: N_("Điều trị theo hướng hội chẩn"),
        OutcomeKind.changed: N_("Thay đổi hướng điều trị"),
        OutcomeKind.transferred: N_("Chuyển tuyến"),
        OutcomeKind.improved: N_("Khỏi, đỡ, giảm"),
        OutcomeKind.died: N_("Tử vong"),
        OutcomeKind.other: N_("Khác"),
    },
    "audit_action": {
        "login": N_("Đăng nhập"),
        "login-failed": N_("Đăng nhập thất bại"),
        "logout": N_("Đăng xuất"),
        "view": N_("Xem"),
        "download": N_("Tải xuống"),
        "create": N_("Tạo mới"),
        "update": N_("Cập nhật"),
        "delete": N_("Xóa"),
        "status": N_("Đổi trạng thái"),
        "join": N_("Vào phòng"),
        "leave": N_("Rời phòng"),
        "admin": N_("Quản trị"),
        "denied": N_("Bị từ chối"),
        "export": N_("Xuất dữ liệu"),
    },
    "audit_object": {
        "api_token": N_("Mã truy cập API"),
        "attachment": N_("Tệp đính kèm"),
        "audit": N_("Nhật ký truy cập"),
        "case": N_("Hồ sơ"),
        "consultation": N_("Phiên hội chẩn"),
        "facility": N_("Cơ sở y tế"),
        "minutes": N_("Biên bản"),
        "network_test": N_("Kiểm tra đường truyền"),
        "outcome": N_("Kết quả sau hội chẩn"),
        "patient": N_("Bệnh nhân"),
        "user": N_("Người dùng"),
    },
}

_BY_ENUM: Mapping[type[StrEnum], str] = {
    Role: "role",
    ParticipantRole: "participant_role",
    CaseStatus: "case_status",
    ConsultationStatus: "consultation_status",
    Urgency: "urgency",
    Sex: "sex",
    AttachmentKind: "attachment_kind",
    FacilityLevel: "facility_level",
    NetworkVerdict: "network_verdict",
    OutcomeKind: "outcome_kind",
}


def name_id(vocabulary: str, value: object) -> str | None:
    """The message id naming a value of a vocabulary, None when it has no name."""
    return VOCABULARY[vocabulary].get(str(value))


def label(value: StrEnum) -> Message:
    """The name of a status, role or kind, to translate where it is shown."""
    return msg(VOCABULARY[_BY_ENUM[type(value)]][value])
