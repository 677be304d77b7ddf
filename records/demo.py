"""The demo world: the referral line of Bình Phước, its people, patients, case files and sessions.

Everything is created through the services, as the people themselves would (the doctor opens the
case and uploads the files, the coordinator schedules, the chair signs the minutes), so the
history, the access rules and the audit chain are exactly those of real use. The attachments
are made at seed time: the CT is pydicom's bundled sample, the lab report and the ECG photo are
drawn with Pillow.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import func, select

from . import audit
from .actor import Actor
from .blobs import BlobStore
from .db import SessionMaker
from .errors import Conflict
from .localtime import LOCAL_TZ
from .messages import msg
from .models import (
    AttachmentKind,
    Case,
    CaseCreate,
    CaseStatus,
    ConsultationRequest,
    ConsultationSchedule,
    Facility,
    FacilityCreate,
    FacilityLevel,
    MinutesUpdate,
    ParticipantRole,
    Patient,
    PatientCreate,
    Role,
    Sex,
    User,
    UserCreate,
)
from .passwords import validate_new_password
from .services import (
    attachments,
    cases,
    consultations,
    facilities,
    minutes,
    patients,
    room_events,
    users,
)
from .text import fold

DEMO_ACTOR = Actor.system("demo")
MAX_FIXTURE = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo login: username, role, facility code, and how colleagues see them."""

    username: str
    role: str
    facility: str
    display_name: str


@dataclass(slots=True)
class DemoSummary:
    """What the demo created; ``accounts`` in the order the README lists them."""

    accounts: list[DemoAccount] = field(default_factory=list)
    facilities: list[str] = field(default_factory=list)
    patients: int = 0
    cases: int = 0
    consultations: int = 0
    attachments: int = 0


# --- the referral line -----------------------------------------------------------------------

FACILITIES: list[dict[str, Any]] = [
    {
        "code": "BVCR",
        "name": "Bệnh viện Chợ Rẫy",
        "level": FacilityLevel.central,
        "address": "201B Nguyễn Chí Thanh, Phường 12, Quận 5, TP. Hồ Chí Minh",
        "parent": None,
    },
    {
        "code": "BVDK-BP",
        "name": "Bệnh viện Đa khoa tỉnh Bình Phước",
        "level": FacilityLevel.provincial,
        "address": "Đường Trần Hưng Đạo, phường Tân Phú, TP. Đồng Xoài, tỉnh Bình Phước",
        "parent": "BVCR",
    },
    {
        "code": "TTYT-CT",
        "name": "Trung tâm Y tế huyện Chơn Thành",
        "level": FacilityLevel.district,
        "address": "Quốc lộ 13, thị trấn Chơn Thành, huyện Chơn Thành, tỉnh Bình Phước",
        "parent": "BVDK-BP",
    },
    {
        "code": "TTYT-PL",
        "name": "Trung tâm Y tế thị xã Phước Long",
        "level": FacilityLevel.district,
        "address": "Đường ĐT 741, phường Long Thủy, thị xã Phước Long, tỉnh Bình Phước",
        "parent": "BVDK-BP",
    },
    {
        "code": "TYT-MH",
        "name": "Trạm Y tế xã Minh Hưng",
        "level": FacilityLevel.commune,
        "address": "Ấp 3, xã Minh Hưng, huyện Chơn Thành, tỉnh Bình Phước",
        "parent": "TTYT-CT",
    },
]

# (username, full name, title, role, facility code, specialty), in the README's order.
PEOPLE: list[tuple[str, str, str, Role, str, str | None]] = [
    ("admin", "Lê Minh Quân", "", Role.admin, "BVDK-BP", None),
    ("dieuphoi.tinh", "Phạm Thị Thu Hà", "BS.", Role.coordinator, "BVDK-BP", "Kế hoạch tổng hợp"),
    ("bs.chonthanh", "Trần Quốc Bảo", "BS.", Role.doctor, "TTYT-CT", "Nội tổng quát"),
    ("bs.phuoclong", "Lê Thị Ngọc Mai", "BS.", Role.doctor, "TTYT-PL", "Nội tổng quát"),
    ("cs.timmach", "Nguyễn Đức Thịnh", "BSCKII.", Role.specialist, "BVDK-BP", "Tim mạch"),
    (
        "cs.cdha",
        "Hoàng Thị Lan Anh",
        "ThS.BS.",
        Role.specialist,
        "BVDK-BP",
        "Chẩn đoán hình ảnh",
    ),
    ("cs.thankinh", "Võ Minh Tuấn", "PGS.TS.", Role.specialist, "BVCR", "Thần kinh"),
]


@dataclass(frozen=True, slots=True)
class DemoPatient:
    """A patient of one district centre, registered by its doctor."""

    key: str
    doctor: str
    mrn: str
    name: str
    sex: Sex
    year: int
    bhyt: str
    address: str
    born: date | None = None


PATIENTS = [
    DemoPatient(
        "luc",
        "bs.chonthanh",
        "CT24-01832",
        "Trần Văn Lực",
        Sex.male,
        1962,
        "GD4707012345678",
        "Ấp 2, xã Minh Hưng, huyện Chơn Thành, tỉnh Bình Phước",
    ),
    DemoPatient(
        "hen",
        "bs.chonthanh",
        "CT25-00417",
        "Điểu Thị Hên",
        Sex.female,
        1978,
        "CN3707098765432",
        "Ấp Bàu Teng, xã Nha Bích, huyện Chơn Thành, tỉnh Bình Phước",
    ),
    DemoPatient(
        "nam",
        "bs.chonthanh",
        "CT25-00952",
        "Lê Hoàng Nam",
        Sex.male,
        1990,
        "DN4707055512890",
        "Khu phố 5, thị trấn Chơn Thành, huyện Chơn Thành, tỉnh Bình Phước",
        born=date(1990, 7, 21),
    ),
    DemoPatient(
        "hong",
        "bs.phuoclong",
        "PL25-02241",
        "Phạm Thị Hồng",
        Sex.female,
        1955,
        "HT2707033221100",
        "Khu phố 2, phường Long Thủy, thị xã Phước Long, tỉnh Bình Phước",
    ),
    DemoPatient(
        "dung",
        "bs.phuoclong",
        "PL25-02388",
        "Võ Văn Dũng",
        Sex.male,
        1970,
        "GD4707044556677",
        "Thôn 4, xã Long Giang, thị xã Phước Long, tỉnh Bình Phước",
    ),
    DemoPatient(
        "loan",
        "bs.phuoclong",
        "PL25-02410",
        "Nguyễn Thị Kim Loan",
        Sex.female,
        1985,
        "GD4707066778899",
        "Khu phố Sơn Long, phường Sơn Giang, thị xã Phước Long, tỉnh Bình Phước",
        born=date(1985, 3, 12),
    ),
]

# --- the case files --------------------------------------------------------------------------

CASE_CHEST_PAIN: dict[str, Any] = {
    "title": "Đau ngực trái kiểu mạch vành, nghi nhồi máu cơ tim không ST chênh lên",
    "specialty": "Tim mạch",
    "urgency": "urgent",
    "history": (
        "Bệnh nhân nam 63 tuổi, làm rẫy. Tiền sử tăng huyết áp 10 năm điều trị không đều "
        "(amlodipin 5 mg/ngày), đái tháo đường típ 2 phát hiện 3 năm, hút thuốc lá 30 gói-năm.\n"
        "Cách nhập viện 6 giờ, bệnh nhân đau ngực trái sau xương ức kiểu đè nặng, lan lên vai "
        "trái và cằm, kéo dài khoảng 30 phút khi đang làm rẫy, kèm vã mồ hôi, buồn nôn; đỡ một "
        "phần khi nghỉ. Đây là cơn đau thứ ba trong tuần, các cơn trước ngắn dưới 10 phút."
    ),
    "examination": (
        "Tỉnh, tiếp xúc tốt. Mạch 98 lần/phút, huyết áp 160/95 mmHg, nhịp thở 20 lần/phút, "
        "SpO2 95% khí trời, nhiệt độ 37 °C. Cân nặng 68 kg, chiều cao 165 cm.\n"
        "Tim đều, T1 T2 rõ, không âm thổi. Phổi không ran. Không phù chi dưới. Mạch quay hai "
        "bên đều rõ, huyết áp hai tay chênh 5 mmHg."
    ),
    "results": (
        "Điện tâm đồ lúc nhập viện (ảnh đính kèm): nhịp xoang 98 lần/phút, ST chênh xuống "
        "1,5 mm ở DI, aVL, V4–V6; không có ST chênh lên.\n"
        "Troponin I độ nhạy cao: 0 giờ 86 ng/L, 3 giờ 412 ng/L (ngưỡng 19 ng/L). CK-MB 38 U/L.\n"
        "Glucose 11,2 mmol/L, HbA1c 8,1%. Cholesterol toàn phần 6,2 mmol/L, LDL-C 4,1 mmol/L. "
        "Creatinin 98 µmol/L (eGFR 72 mL/phút/1,73 m²), kali 3,9 mmol/L (phiếu đính kèm).\n"
        "X-quang ngực thẳng: bóng tim không to, trung thất không rộng. CT ngực có cản quang "
        "(phim DICOM đính kèm) để loại trừ bóc tách động mạch chủ."
    ),
    "diagnosis": (
        "Nhồi máu cơ tim cấp không ST chênh lên, Killip I; tăng huyết áp; đái tháo đường típ 2"
    ),
    "icd10": "I21.4",
    "treatment": (
        "Aspirin 300 mg nhai, clopidogrel 300 mg liều nạp; enoxaparin 60 mg tiêm dưới da mỗi "
        "12 giờ; atorvastatin 40 mg; nitroglycerin truyền tĩnh mạch 10 µg/phút chỉnh theo huyết "
        "áp; bisoprolol 2,5 mg. Hiện hết đau ngực, huyết áp 135/80 mmHg."
    ),
    "question": (
        "1. Phân tầng nguy cơ (GRACE ước tính 142 điểm) và thời điểm chụp, can thiệp động "
        "mạch vành?\n"
        "2. Nhờ chuyên khoa Chẩn đoán hình ảnh đọc lại CT ngực: đã loại trừ được bóc tách động "
        "mạch chủ chưa?\n"
        "3. Chuyển bệnh nhân lên Bệnh viện Đa khoa tỉnh ngay, hay tiếp tục điều trị nội khoa "
        "tại chỗ?"
    ),
}

CASE_DIABETIC_FOOT: dict[str, Any] = {
    "title": "Loét bàn chân phải trên nền đái tháo đường, nghi viêm xương",
    "specialty": "Nội tiết",
    "urgency": "routine",
    "history": (
        "Bệnh nhân nữ 47 tuổi, đái tháo đường típ 2 đã 8 năm, dùng metformin 1000 mg/ngày và "
        "gliclazid 60 mg/ngày, tuân thủ kém. Cách đây 3 tuần đạp phải gai khi đi rẫy điều, vết "
        "thương gan bàn chân phải không lành, chảy dịch đục, đau nhức tăng về đêm. Đã tự đắp "
        "lá, chưa đi khám."
    ),
    "examination": (
        "Tỉnh, sốt nhẹ 37,8 °C, mạch 92 lần/phút, huyết áp 130/80 mmHg. Ổ loét gan bàn chân "
        "phải vùng đầu xương bàn ngón I, kích thước 2,5 × 3 cm, thăm dò chạm xương, bờ nham "
        "nhở, dịch mủ hôi, quầng đỏ quanh loét 2 cm. Mạch mu chân và chày sau phải bắt yếu. "
        "Giảm cảm giác monofilament hai bàn chân."
    ),
    "results": (
        "Bạch cầu 14,2 G/L, đa nhân trung tính 82%. CRP 96 mg/L. Glucose đói 14,6 mmol/L, "
        "HbA1c 10,2%. Creatinin 76 µmol/L.\n"
        "X-quang bàn chân phải: tiêu xương nhẹ đầu xa xương bàn I. Cấy mủ: đang chờ kết quả."
    ),
    "diagnosis": (
        "Loét bàn chân đái tháo đường Wagner độ 3, nghi viêm xương tủy xương bàn ngón I chân "
        "phải; đái tháo đường típ 2 kiểm soát kém"
    ),
    "icd10": "E11.5",
    "treatment": (
        "Chuyển sang insulin hỗn hợp 30/70, 0,5 đơn vị/kg/ngày chia 2 lần. Amoxicillin–acid "
        "clavulanic 1 g truyền tĩnh mạch mỗi 8 giờ phối hợp ciprofloxacin 400 mg mỗi 12 giờ. "
        "Cắt lọc, rửa vết loét hằng ngày, giảm tải bàn chân."
    ),
    "question": (
        "Có cần chụp MRI bàn chân hoặc sinh thiết xương không? Thời gian dùng kháng sinh bao "
        "lâu? Có cần siêu âm Doppler động mạch chi dưới trước khi cắt lọc rộng?"
    ),
}

CASE_STROKE: dict[str, Any] = {
    "title": "Yếu nửa người phải, nói khó giờ thứ 5, nghi nhồi máu não",
    "specialty": "Thần kinh",
    "urgency": "emergency",
    "history": (
        "Bệnh nhân nữ 70 tuổi, tiền sử tăng huyết áp, rung nhĩ chưa điều trị chống đông. "
        "Khoảng 5 giờ trước nhập viện người nhà phát hiện bệnh nhân yếu tay chân phải, nói khó, "
        "miệng méo sang trái khi đang ăn sáng. Không co giật, không đau đầu dữ dội, không nôn."
    ),
    "examination": (
        "Glasgow 14 điểm (V4). Mạch 104 lần/phút không đều, huyết áp 170/100 mmHg. Liệt nửa "
        "người phải: tay 2/5, chân 3/5; liệt mặt trung ương phải; thất ngôn vận động; Babinski "
        "phải dương tính. NIHSS 12 điểm."
    ),
    "results": (
        "CT sọ não không cản quang giờ thứ 5: giảm đậm độ nhẹ vùng nhân bèo trái, ASPECTS 8, "
        "không xuất huyết. Điện tâm đồ: rung nhĩ đáp ứng thất nhanh 110 lần/phút. Glucose "
        "7,8 mmol/L. Tiểu cầu 236 G/L, INR 1,05. Creatinin 88 µmol/L."
    ),
    "diagnosis": (
        "Nhồi máu não cấp vùng động mạch não giữa trái giờ thứ 5, nghi huyết khối từ tim; rung nhĩ"
    ),
    "icd10": "I63.4",
    "treatment": (
        "Nằm đầu cao 30 độ, thở oxy, giữ huyết áp dưới 185/110 mmHg. Không dùng thuốc tiêu sợi "
        "huyết do quá cửa sổ 4,5 giờ. Aspirin 250 mg qua sonde dạ dày."
    ),
    "question": (
        "Còn chỉ định lấy huyết khối cơ học không (giờ thứ 5, NIHSS 12, ASPECTS 8)? Nếu có, "
        "chuyển ngay lên tuyến nào? Khi nào bắt đầu thuốc chống đông cho rung nhĩ?"
    ),
}

CASE_VARICEAL_BLEED: dict[str, Any] = {
    "title": "Xuất huyết tiêu hóa trên tái phát trên nền xơ gan",
    "specialty": "Tiêu hóa",
    "urgency": "urgent",
    "history": (
        "Bệnh nhân nam 55 tuổi, uống rượu nhiều năm (khoảng 300 mL rượu trắng/ngày), xơ gan "
        "phát hiện 2 năm, đã thắt tĩnh mạch thực quản tại tuyến tỉnh 6 tháng trước. Lần này nôn "
        "ra máu đỏ bầm khoảng 500 mL, đi cầu phân đen 2 lần."
    ),
    "examination": (
        "Tỉnh, da niêm nhợt, vàng nhẹ. Mạch 112 lần/phút, huyết áp 90/60 mmHg. Bụng báng vừa, "
        "tuần hoàn bàng hệ, lách to độ II. Không có dấu hiệu não gan."
    ),
    "results": (
        "Hemoglobin 72 g/L, tiểu cầu 68 G/L, INR 1,6. Albumin 26 g/L, bilirubin toàn phần "
        "42 µmol/L; Child-Pugh C (10 điểm). Siêu âm bụng: gan xơ, dịch ổ bụng lượng vừa, tĩnh "
        "mạch cửa 14 mm."
    ),
    "diagnosis": (
        "Xuất huyết tiêu hóa trên nghi do vỡ giãn tĩnh mạch thực quản tái phát; xơ gan do rượu "
        "Child-Pugh C"
    ),
    "icd10": "I85.0",
    "treatment": (
        "Truyền 2 đơn vị hồng cầu khối, bù dịch; octreotid 50 µg tiêm tĩnh mạch rồi truyền "
        "50 µg/giờ; ceftriaxon 1 g/ngày dự phòng nhiễm khuẩn; pantoprazol 80 mg tĩnh mạch. "
        "Huyết áp sau hồi sức 105/65 mmHg."
    ),
    "question": (
        "Chỉ định nội soi thắt tĩnh mạch cấp cứu tại tuyến tỉnh và thời điểm chuyển viện an "
        "toàn? Có cần đặt sonde Blakemore trong lúc chờ không?"
    ),
}

CASE_APPENDICITIS: dict[str, Any] = {
    "title": "Đau hố chậu phải, theo dõi viêm ruột thừa cấp",
    "specialty": "Ngoại tổng quát",
    "urgency": "urgent",
    "history": (
        "Bệnh nhân nữ 40 tuổi, đau quanh rốn từ chiều hôm trước, sau khu trú hố chậu phải, "
        "kèm sốt nhẹ và buồn nôn. Kinh cuối cách 2 tuần, đều."
    ),
    "examination": (
        "Nhiệt độ 38 °C, mạch 96 lần/phút. Ấn đau điểm McBurney, phản ứng thành bụng nhẹ hố "
        "chậu phải. Rovsing dương tính."
    ),
    "results": (
        "Bạch cầu 13,5 G/L, đa nhân trung tính 85%, CRP 48 mg/L. Test thai âm tính. Siêu âm: "
        "ruột thừa đường kính 9 mm, thành dày, ấn không xẹp, ít dịch quanh ruột thừa."
    ),
    "diagnosis": "Viêm ruột thừa cấp",
    "icd10": "K35.8",
    "treatment": "Nhịn ăn, bù dịch, cefoxitin 2 g tĩnh mạch trước mổ.",
    "question": "Xin ý kiến phương án phẫu thuật nội soi tại tuyến huyện.",
}

STROKE_MINUTES: dict[str, str] = {
    "findings": (
        "PGS.TS. Võ Minh Tuấn (Thần kinh, Bệnh viện Chợ Rẫy): bệnh nhân còn trong cửa sổ 6 giờ, "
        "NIHSS 12, ASPECTS 8, lâm sàng gợi ý tắc động mạch lớn; cần chụp CTA mạch não và chuyển "
        "ngay nếu tắc đoạn M1.\n"
        "ThS.BS. Hoàng Thị Lan Anh (Chẩn đoán hình ảnh): đọc lại CT, đồng ý ASPECTS 8, có dấu "
        "hiệu tăng đậm độ động mạch não giữa trái.\n"
        "BS. Lê Thị Ngọc Mai (TTYT thị xã Phước Long): huyết động ổn định, có thể vận chuyển "
        "bằng xe cấp cứu có bác sĩ đi kèm."
    ),
    "conclusion": (
        "Nhồi máu não cấp vùng động mạch não giữa trái do tắc động mạch lớn, nghi huyết khối từ "
        "tim; rung nhĩ"
    ),
    "icd10": "I63.4",
    "treatment_plan": (
        "1. Chuyển ngay lên Bệnh viện Đa khoa tỉnh Bình Phước bằng xe cấp cứu có bác sĩ đi kèm, "
        "báo trước khoa Cấp cứu.\n"
        "2. Chụp CTA mạch não; nếu tắc M1 trái, chuyển tiếp Bệnh viện Chợ Rẫy lấy huyết khối "
        "cơ học (đã liên hệ, dự kiến đến nơi trước giờ thứ 9).\n"
        "3. Giữ huyết áp dưới 185/110 mmHg, tránh hạ áp quá mức.\n"
        "4. Bắt đầu chống đông đường uống cho rung nhĩ sau 6–12 ngày, tùy kích thước ổ nhồi máu "
        "trên phim kiểm tra."
    ),
}

# --- generated files -------------------------------------------------------------------------

_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> tuple[Font, Callable[[str], str]]:
    """A font with Vietnamese glyphs if the system has one; else the built-in, unaccented."""
    for candidate in _FONT_PATHS:
        if Path(candidate).is_file():
            try:
                return ImageFont.truetype(candidate, size), lambda s: s
            except OSError:
                continue
    # Pillow's own font has no Vietnamese diacritics: write plain letters rather than boxes.
    return ImageFont.load_default(size=size), fold_keep_case


def fold_keep_case(s: str) -> str:
    """Vietnamese text without diacritics, keeping upper and lower case."""
    return "".join(
        ch if not ch.isalpha() else (fold(ch).upper() if ch.isupper() else fold(ch)) or ch
        for ch in s
    )


LAB_ROWS = [
    ("Troponin I hs (0 giờ)", "86", "ng/L", "< 19"),
    ("Troponin I hs (3 giờ)", "412", "ng/L", "< 19"),
    ("CK-MB", "38", "U/L", "< 25"),
    ("Glucose", "11,2", "mmol/L", "3,9 – 6,4"),
    ("HbA1c", "8,1", "%", "4,0 – 6,0"),
    ("Cholesterol toàn phần", "6,2", "mmol/L", "< 5,2"),
    ("LDL-C", "4,1", "mmol/L", "< 3,4"),
    ("HDL-C", "0,9", "mmol/L", "> 1,0"),
    ("Triglycerid", "2,4", "mmol/L", "< 1,7"),
    ("Creatinin", "98", "µmol/L", "62 – 120"),
    ("eGFR (CKD-EPI)", "72", "mL/phút/1,73 m²", "> 90"),
    ("Kali", "3,9", "mmol/L", "3,5 – 5,0"),
    ("Natri", "138", "mmol/L", "135 – 145"),
]


def lab_report_pdf(*, patient: str, born: int, mrn: str, when: datetime) -> bytes:
    """A one-page scanned-style lab report (A4, 150 dpi) as a PDF."""
    width, height = 1240, 1754
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    title_font, text = _font(40)
    body, _ = _font(26)
    small, _ = _font(22)
    y = 90
    draw.text((90, y), text("SỞ Y TẾ TỈNH BÌNH PHƯỚC"), font=small, fill=0)
    draw.text((90, y + 32), text("TRUNG TÂM Y TẾ HUYỆN CHƠN THÀNH"), font=small, fill=0)
    draw.text((90, y + 64), text("Khoa Xét nghiệm"), font=small, fill=0)
    y += 150
    draw.text(
        (width // 2, y),
        text("PHIẾU KẾT QUẢ XÉT NGHIỆM SINH HÓA MÁU"),
        font=title_font,
        fill=0,
        anchor="mt",
    )
    y += 90
    for line in (
        f"Họ tên: {patient}        Năm sinh: {born}        Mã BN: {mrn}",
        f"Khoa: Cấp cứu – Hồi sức        Lấy mẫu: {when:%H:%M ngày %d/%m/%Y}",
        "Chẩn đoán: Theo dõi hội chứng vành cấp",
    ):
        draw.text((90, y), text(line), font=body, fill=0)
        y += 44
    y += 30
    columns = (90, 500, 660, 920)
    draw.line((80, y - 10, width - 80, y - 10), fill=0, width=2)
    for x, head in zip(
        columns, ("Xét nghiệm", "Kết quả", "Đơn vị", "Trị số tham chiếu"), strict=True
    ):
        draw.text((x, y), text(head), font=body, fill=0)
    y += 46
    draw.line((80, y - 8, width - 80, y - 8), fill=0, width=1)
    for name, value, unit, ref in LAB_ROWS:
        for x, cell in zip(columns, (name, value, unit, ref), strict=True):
            draw.text((x, y), text(cell), font=body, fill=0)
        y += 44
    draw.line((80, y, width - 80, y), fill=0, width=2)
    y += 60
    draw.text(
        (width - 420, y), text(f"Ngày {when:%d} tháng {when:%m} năm {when:%Y}"), font=body, fill=0
    )
    draw.text((width - 420, y + 44), text("Trưởng khoa Xét nghiệm"), font=body, fill=0)
    draw.text((width - 420, y + 180), text("CN. Đỗ Thị Thanh Xuân"), font=body, fill=0)
    buf = io.BytesIO()
    page.save(buf, format="PDF", resolution=150.0, title="Phiếu kết quả xét nghiệm")
    return buf.getvalue()


def _beat(t: np.ndarray, *, st: float, r: float = 1.0) -> np.ndarray:
    """One synthetic heartbeat in mV at times t (seconds from the start of the beat)."""

    def wave(center: float, width: float, amp: float) -> np.ndarray:
        out: np.ndarray = amp * np.exp(-(((t - center) / width) ** 2))
        return out

    signal = (
        wave(0.10, 0.025, 0.15)
        + wave(0.19, 0.008, -0.12 * r)
        + wave(0.21, 0.010, 1.2 * r)
        + wave(0.23, 0.010, -0.30 * r)
        + wave(0.42, 0.045, (0.30 if st >= 0 else 0.10) * (1 if r > 0 else -1))
    )
    # ST segment shift between the end of QRS and the T wave.
    segment = (t > 0.25) & (t < 0.38)
    shifted: np.ndarray = signal + np.where(segment, st, 0.0)
    return shifted


def ecg_png() -> bytes:
    """A 12-lead ECG on grid paper: sinus rhythm 98/min, ST depression in I, aVL, V4–V6."""
    mm = 4  # pixels per millimetre: 25 mm/s and 10 mm/mV
    width, height = 1100, 720
    img = Image.new("RGB", (width, height), (255, 250, 250))
    draw = ImageDraw.Draw(img)
    for x in range(0, width, mm):
        draw.line((x, 0, x, height), fill=(250, 215, 215) if x % (5 * mm) else (240, 160, 160))
    for y in range(0, height, mm):
        draw.line((0, y, width, y), fill=(250, 215, 215) if y % (5 * mm) else (240, 160, 160))
    label_font, text = _font(18)
    depressed = {"I", "aVL", "V4", "V5", "V6"}
    layout = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    rr = 60.0 / 98
    seconds_per_cell = 2.5
    px_per_s = 25 * mm
    px_per_mv = 10 * mm
    row_height = 160
    for row, leads in enumerate(layout + [["II"]]):
        baseline = 100 + row * row_height
        span = seconds_per_cell * (4 if len(leads) == 1 else 1)
        for col, lead in enumerate(leads):
            x0 = 40 + col * int(seconds_per_cell * px_per_s)
            t = np.arange(0, span, 1 / px_per_s)
            phase = np.mod(t + 0.05 * col, rr)
            r = -0.6 if lead in ("aVR",) else (0.5 if lead in ("V1", "III") else 1.0)
            st = -0.15 if lead in depressed else 0.0
            mv = _beat(phase, st=st, r=r)
            points = [(x0 + i, baseline - float(v) * px_per_mv) for i, v in enumerate(mv)]
            draw.line(points, fill=(20, 20, 20), width=2)
            draw.text((x0 + 6, baseline - 70), lead, font=label_font, fill=(0, 0, 0))
    draw.text(
        (40, height - 40),
        text("25 mm/s   10 mm/mV   Nhịp xoang 98 lần/phút"),
        font=label_font,
        fill=(0, 0, 0),
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def ct_dicom() -> bytes:
    """The small CT slice that ships with pydicom."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    if path is None:  # pragma: no cover - part of every pydicom release
        raise RuntimeError("pydicom's CT_small.dcm sample is missing")
    return Path(str(path)).read_bytes()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 256 * 1024):
        yield data[i : i + 256 * 1024]


# --- seeding ---------------------------------------------------------------------------------


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


async def _is_empty(session: AsyncSession) -> bool:
    for model in (Facility, User):
        count = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        if count:
            return False
    return True


async def _create_case(
    session: AsyncSession, *, actor: Actor, patient: Patient, data: dict[str, Any]
) -> Case:
    return await cases.create_case(
        session=session, actor=actor, data=CaseCreate(patient_id=patient.id, **data)
    )


async def seed_demo(
    *,
    session_maker: SessionMaker,
    blobs: BlobStore,
    password: str,
    hash_password: Callable[[str], str],
) -> DemoSummary:
    """Create the demo world in an empty database; Conflict if any facility or user exists."""
    validate_new_password(password, username="")
    summary = DemoSummary()
    async with session_maker() as session:
        if not await _is_empty(session):
            raise Conflict(
                msg(
                    "Cơ sở dữ liệu đã có dữ liệu; dữ liệu mẫu chỉ được tạo trên cơ sở dữ liệu trống"
                )
            )
        # Every demo account shares the password, so one (slow, salted) hash serves them all.
        password_hash = await asyncio.to_thread(hash_password, password)

        fac: dict[str, Facility] = {}
        for spec in FACILITIES:
            parent = fac[spec["parent"]].id if spec["parent"] else None
            fac[spec["code"]] = await facilities.create_facility(
                session=session,
                actor=DEMO_ACTOR,
                data=FacilityCreate(
                    code=spec["code"],
                    name=spec["name"],
                    level=spec["level"],
                    address=spec["address"],
                    parent_id=parent,
                ),
            )
            summary.facilities.append(spec["code"])

        people: dict[str, User] = {}
        for username, full_name, title, role, code, specialty in PEOPLE:
            user = await users.create_user(
                session=session,
                actor=DEMO_ACTOR,
                data=UserCreate(
                    username=username,
                    full_name=full_name,
                    title=title,
                    role=role,
                    specialty=specialty,
                    facility_id=fac[code].id,
                ),
            )
            user.password_hash = password_hash
            user.password_changed_at = user.created_at
            session.add(user)
            await audit.record(
                session,
                actor=DEMO_ACTOR,
                action="admin",
                object_type="user",
                object_id=user.id,
                detail={"change": "initial password"},
            )
            await session.commit()
            people[username] = user
            summary.accounts.append(
                DemoAccount(
                    username=username,
                    role=str(role),
                    facility=code,
                    display_name=user.display_name,
                )
            )
        actor = {name: Actor.of(user) for name, user in people.items()}

        pts: dict[str, Patient] = {}
        for p in PATIENTS:
            pts[p.key] = await patients.create_patient(
                session=session,
                actor=actor[p.doctor],
                data=PatientCreate(
                    mrn=p.mrn,
                    full_name=p.name,
                    sex=p.sex,
                    birth_year=p.year,
                    birth_date=p.born,
                    insurance_number=p.bhyt,
                    address=p.address,
                ),
            )
        summary.patients = len(pts)

        today = datetime.now(LOCAL_TZ).date()
        await _seed_chest_pain(session, blobs, actor, fac, people, pts["luc"], today, summary)
        await _create_case(
            session, actor=actor["bs.chonthanh"], patient=pts["hen"], data=CASE_DIABETIC_FOOT
        )
        await _seed_stroke(session, actor, fac, people, pts["hong"], today, summary)
        await _seed_pending_request(session, actor, fac, pts["dung"], today, summary)
        await _seed_closed(session, actor, pts["loan"])
        summary.cases = int(
            (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        )
    return summary


async def _seed_chest_pain(
    session: AsyncSession,
    blobs: BlobStore,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    people: dict[str, User],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """Chơn Thành's chest pain case with its CT, lab report and ECG, scheduled for tomorrow."""
    doctor = actor["bs.chonthanh"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_CHEST_PAIN)
    sampled = _local(today, 6, 40)
    files = [
        (
            AttachmentKind.imaging,
            "CT-nguc-co-can-quang.dcm",
            ct_dicom(),
            "CT ngực có cản quang, lát cắt ngang qua trung thất",
        ),
        (
            AttachmentKind.lab,
            "phieu-xet-nghiem-sinh-hoa.pdf",
            lab_report_pdf(
                patient=patient.full_name,
                born=patient.birth_year or 0,
                mrn=patient.mrn,
                when=sampled,
            ),
            "Phiếu kết quả xét nghiệm sinh hóa máu, troponin 0 giờ và 3 giờ",
        ),
        (
            AttachmentKind.photo,
            "dien-tam-do-luc-nhap-vien.png",
            ecg_png(),
            "Ảnh chụp điện tâm đồ 12 chuyển đạo lúc nhập viện",
        ),
    ]
    for kind, filename, data, description in files:
        await attachments.upload(
            session=session,
            blobs=blobs,
            actor=doctor,
            case_id=case.id,
            kind=kind,
            filename=filename,
            chunks=_chunks(data),
            max_bytes=MAX_FIXTURE,
            description=description,
        )
        summary.attachments += 1
    tomorrow = today + timedelta(days=1)
    consultation = await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn tim mạch: nghi nhồi máu cơ tim không ST chênh lên",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Bệnh nhân đang điều trị tại khoa Cấp cứu – Hồi sức, huyết động ổn định.",
            preferred_start=_local(tomorrow, 9),
        ),
    )
    await consultations.schedule(
        session=session,
        actor=actor["dieuphoi.tinh"],
        consultation_id=consultation.id,
        data=ConsultationSchedule(
            scheduled_start=_local(tomorrow, 9),
            scheduled_end=_local(tomorrow, 10),
            chair_id=people["cs.timmach"].id,
            invitees=[people["cs.cdha"].id, people["bs.chonthanh"].id],
        ),
        roles={people["bs.chonthanh"].id: ParticipantRole.presenter},
    )
    summary.consultations += 1


async def _seed_stroke(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    people: dict[str, User],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """Phước Long's stroke case, discussed three days ago with Chợ Rẫy; the minutes are final."""
    doctor = actor["bs.phuoclong"]
    chair = people["cs.thankinh"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_STROKE)
    day = today - timedelta(days=3)
    start, end = _local(day, 14), _local(day, 15)
    consultation = await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn khẩn thần kinh: nhồi máu não giờ thứ 5",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Xin hội chẩn khẩn, bệnh nhân đang ở khoa Cấp cứu.",
        ),
    )
    await consultations.schedule(
        session=session,
        actor=actor["dieuphoi.tinh"],
        consultation_id=consultation.id,
        data=ConsultationSchedule(
            scheduled_start=start,
            scheduled_end=end,
            chair_id=chair.id,
            invitees=[people["cs.cdha"].id, people["bs.phuoclong"].id],
            requires_admission=False,
        ),
        roles={people["bs.phuoclong"].id: ParticipantRole.presenter},
    )
    # What the room reported while the session ran.
    room = consultation.room_id
    present = [("cs.thankinh", 2, 58), ("bs.phuoclong", 1, 58), ("cs.cdha", 4, 50)]
    for n, (name, joined, _) in enumerate(present, start=1):
        await room_events.record_join(
            session=session,
            room_id=room,
            user_id=people[name].id,
            peer_id=f"p{n}",
            at=start + timedelta(minutes=joined),
        )
    for minute, name, line in (
        (6, "cs.thankinh", "Nhờ chị Lan Anh chia sẻ màn hình phim CT sọ não."),
        (31, "bs.phuoclong", "Xe cấp cứu và bác sĩ đi kèm đã sẵn sàng."),
    ):
        await room_events.record_chat(
            session=session,
            room_id=room,
            user_id=people[name].id,
            text=line,
            at=start + timedelta(minutes=minute),
        )
    for n, (name, _, left) in enumerate(present, start=1):
        await room_events.record_leave(
            session=session,
            room_id=room,
            user_id=people[name].id,
            peer_id=f"p{n}",
            at=start + timedelta(minutes=left),
        )
    await room_events.record_room_ended(
        session=session, room_id=room, at=end - timedelta(minutes=2)
    )
    chair_actor = actor["cs.thankinh"]
    await minutes.save_draft(
        session=session,
        consultation_id=consultation.id,
        case_id=case.id,
        actor=chair_actor,
        data=MinutesUpdate.model_validate(STROKE_MINUTES),
    )
    await minutes.finalize(
        session=session, consultation_id=consultation.id, case_id=case.id, actor=chair_actor
    )
    summary.consultations += 1


async def _seed_pending_request(
    session: AsyncSession,
    actor: dict[str, Actor],
    fac: dict[str, Facility],
    patient: Patient,
    today: date,
    summary: DemoSummary,
) -> None:
    """A request from Phước Long waiting for the provincial coordinator."""
    doctor = actor["bs.phuoclong"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_VARICEAL_BLEED)
    await consultations.request_consultation(
        session=session,
        actor=doctor,
        data=ConsultationRequest(
            title="Hội chẩn tiêu hóa: xuất huyết tiêu hóa trên trên nền xơ gan",
            case_ids=[case.id],
            host_facility_id=fac["BVDK-BP"].id,
            note="Đề nghị hội chẩn trong ngày mai, bệnh nhân cần nội soi can thiệp.",
            preferred_start=_local(today + timedelta(days=1), 14),
        ),
    )
    summary.consultations += 1


async def _seed_closed(session: AsyncSession, actor: dict[str, Actor], patient: Patient) -> None:
    """A case sent, then closed without a session: operated on at the district centre."""
    doctor = actor["bs.phuoclong"]
    case = await _create_case(session, actor=doctor, patient=patient, data=CASE_APPENDICITIS)
    await cases.transition(session=session, case_id=case.id, to=CaseStatus.submitted, actor=doctor)
    await cases.transition(
        session=session,
        case_id=case.id,
        to=CaseStatus.closed,
        actor=doctor,
        note="Đã mổ nội soi cắt ruột thừa tại Trung tâm, hậu phẫu ổn định",
    )


__all__ = ["DemoAccount", "DemoSummary", "ecg_png", "lab_report_pdf", "seed_demo"]
