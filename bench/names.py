"""Vietnamese names for generated people: deterministic from a seed, with diacritics."""

from __future__ import annotations

import random

FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Điểu",
    "Thị",
    "Lâm",
    "Trương",
)
MIDDLE_MALE = ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Gia", "Xuân", "Ngọc")
MIDDLE_FEMALE = ("Thị", "Ngọc", "Thu", "Thanh", "Mỹ", "Kim", "Bích", "Hồng", "Phương", "Diệu")
GIVEN_MALE = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Đạt",
    "Hải",
    "Hiếu",
    "Hùng",
    "Khoa",
    "Long",
    "Lộc",
    "Nam",
    "Nghĩa",
    "Phúc",
    "Quân",
    "Sơn",
    "Tài",
    "Thắng",
    "Trung",
    "Tuấn",
    "Việt",
    "Vinh",
)
GIVEN_FEMALE = (
    "Anh",
    "Châu",
    "Dung",
    "Giang",
    "Hà",
    "Hạnh",
    "Hoa",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "My",
    "Nga",
    "Ngân",
    "Nhung",
    "Oanh",
    "Phượng",
    "Quyên",
    "Thảo",
    "Trang",
    "Tuyết",
    "Yến",
)
PLACES = (
    "Chơn Thành",
    "Phước Long",
    "Đồng Xoài",
    "Bình Long",
    "Lộc Ninh",
    "Bù Đăng",
    "Bù Đốp",
    "Hớn Quản",
    "Đồng Phú",
    "Bù Gia Mập",
    "Phú Riềng",
)


def person(rng: random.Random) -> tuple[str, str]:
    """A (full name, sex) pair, sex being 'male' or 'female'."""
    if rng.random() < 0.5:
        return (
            f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_MALE)} {rng.choice(GIVEN_MALE)}",
            "male",
        )
    return (
        f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_FEMALE)} {rng.choice(GIVEN_FEMALE)}",
        "female",
    )
