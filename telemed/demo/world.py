"""Who and what the demo holds: facilities on the referral line, people, patients, case files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from records.models import FacilityLevel, Role, Sex


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
    # Past consultations drawn for the dashboard (not counted above).
    history: int = 0


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
