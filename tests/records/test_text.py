"""Folding Vietnamese text for search."""

from __future__ import annotations

import pytest

from records.text import fold


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Nguyễn Văn A", "nguyen van a"),
        ("NGUYỄN", "nguyen"),
        ("Đặng  Thị   Đào", "dang thi dao"),
        ("Trần Thị Bình", "tran thi binh"),
        ("  Lê   Hữu Ước ", "le huu uoc"),
        ("Phước Long", "phuoc long"),
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_decomposed_input() -> None:
    # Text typed on some keyboards arrives already decomposed (NFD).
    import unicodedata

    assert fold(unicodedata.normalize("NFD", "Nguyễn Văn Ả")) == "nguyen van a"
