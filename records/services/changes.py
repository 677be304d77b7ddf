"""Checks shared by the services that apply a partial update to a row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import SQLModel

from ..errors import Invalid
from ..messages import msg


def refuse_nulls(table: type[SQLModel], changes: Mapping[str, Any]) -> None:
    """Refuse an explicit null for a column that must hold a value (`{"history": null}`)."""
    columns = table.__table__.c  # type: ignore[attr-defined]
    empty = [
        key
        for key, value in changes.items()
        if value is None and key in columns and not columns[key].nullable
    ]
    if empty:
        raise Invalid(
            msg("Trường này không được để trống"), fields={key: msg("Bắt buộc") for key in empty}
        )
