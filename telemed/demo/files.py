"""The demo's attachments, made at seed time: pydicom's CT sample, a lab report, an ECG photo."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from records.text import fold

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


def ct_dicom(*, patient_id: str = "", patient_name: str = "", birth_date: str = "") -> bytes:
    """The small CT slice that ships with pydicom, naming the given patient (or none)."""
    import pydicom
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    if path is None:  # pragma: no cover - part of every pydicom release
        raise RuntimeError("pydicom's CT_small.dcm sample is missing")
    ds = pydicom.dcmread(str(path))
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: Vietnamese names
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = patient_id, patient_name, birth_date
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
