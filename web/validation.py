"""Turning request input into validated models, with field errors a person understands."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from records.errors import Invalid
from records.messages import N_, Message, msg, nmsg

M = TypeVar("M", bound=BaseModel)

_MESSAGES: Mapping[str, str] = {
    "missing": N_("Trường này là bắt buộc"),
    # Without the limit at hand (never seen from pydantic, but not a 500 either).
    "string_too_short": N_("Quá ngắn"),
    "string_too_long": N_("Quá dài"),
    "string_pattern_mismatch": N_("Không đúng định dạng"),
    "string_type": N_("Phải là chuỗi ký tự"),
    "int_parsing": N_("Phải là số nguyên"),
    "int_type": N_("Phải là số nguyên"),
    "float_parsing": N_("Phải là số"),
    "bool_parsing": N_("Phải là có/không"),
    "bool_type": N_("Phải là có/không"),
    "uuid_parsing": N_("Mã định danh không hợp lệ"),
    "uuid_type": N_("Mã định danh không hợp lệ"),
    "date_from_datetime_parsing": N_("Ngày không hợp lệ (định dạng YYYY-MM-DD)"),
    "date_parsing": N_("Ngày không hợp lệ (định dạng YYYY-MM-DD)"),
    "date_type": N_("Ngày không hợp lệ (định dạng YYYY-MM-DD)"),
    "datetime_parsing": N_("Thời gian không hợp lệ (ISO 8601, có múi giờ)"),
    "datetime_from_date_parsing": N_("Thời gian không hợp lệ (ISO 8601, có múi giờ)"),
    "datetime_type": N_("Thời gian không hợp lệ (ISO 8601, có múi giờ)"),
    "timezone_aware": N_("Thời gian phải có múi giờ"),
    "list_type": N_("Phải là danh sách"),
    "extra_forbidden": N_("Trường không được phép"),
    "model_type": N_("Dữ liệu không hợp lệ"),
    "dict_type": N_("Dữ liệu không hợp lệ"),
}

# Messages raised by our own validators, in English in the models, shown in Vietnamese.
_VALUE_ERRORS: Mapping[str, str] = {
    "birth_date or birth_year is required": N_("Cần nhập ngày sinh hoặc năm sinh"),
    "birth_year does not match birth_date": N_("Năm sinh không khớp với ngày sinh"),
    "birth_date is in the future": N_("Ngày sinh không thể ở tương lai"),
    "birth_date is before 1900": N_("Ngày sinh phải từ năm 1900 trở đi"),
    "times must carry a timezone": N_("Thời gian phải có múi giờ"),
    "the session must end after it starts": N_("Giờ kết thúc phải sau giờ bắt đầu"),
    "a session lasts at most 12 hours": N_("Một phiên hội chẩn kéo dài tối đa 12 giờ"),
}

# Checks of the whole model that are about one field: their message goes under that field.
_VALUE_ERROR_FIELDS: Mapping[str, str] = {
    "birth_date or birth_year is required": "birth_year",
    "birth_year does not match birth_date": "birth_year",
    "birth_date is in the future": "birth_date",
}

UNKNOWN_FIELD = N_("Trường không được phép")
NUL_CHARACTER = N_("Không được chứa ký tự NUL")
INVALID_INPUT = N_("Dữ liệu nhập chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu")
NOT_VALID = N_("Giá trị không hợp lệ")


def _counted(kind: str, n: int) -> Message:
    """The messages about a length, whose words follow the number (1 character, 2 characters)."""
    if kind == "string_too_short":
        return nmsg("Quá ngắn (tối thiểu %(num)d ký tự)", "Quá ngắn (tối thiểu %(num)d ký tự)", n)
    if kind == "string_too_long":
        return nmsg("Quá dài (tối đa %(num)d ký tự)", "Quá dài (tối đa %(num)d ký tự)", n)
    if kind == "too_short":
        return nmsg("Cần ít nhất %(num)d mục", "Cần ít nhất %(num)d mục", n)
    return nmsg("Nhiều nhất %(num)d mục", "Nhiều nhất %(num)d mục", n)


def _message(err: Mapping[str, Any]) -> Message:
    kind = str(err.get("type", ""))
    ctx = dict(err.get("ctx") or {})
    if kind == "value_error":
        raw = str(ctx.get("error", err.get("msg", "")))
        return msg(_VALUE_ERRORS.get(raw, NOT_VALID))
    if kind in ("string_too_short", "too_short") and "min_length" in ctx:
        return _counted(kind, int(ctx["min_length"]))
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        return _counted(kind, int(ctx["max_length"]))
    if kind == "greater_than_equal" and "ge" in ctx:
        return msg("Phải lớn hơn hoặc bằng %(ge)s", ge=ctx["ge"])
    if kind == "less_than_equal" and "le" in ctx:
        return msg("Phải nhỏ hơn hoặc bằng %(le)s", le=ctx["le"])
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return msg("Giá trị không hợp lệ (chọn một trong: %(expected)s)", expected=ctx["expected"])
    return msg(_MESSAGES.get(kind, NOT_VALID))


def _field_of(err: Mapping[str, Any]) -> str:
    """The field a model-level check is about, else "_" (the form as a whole)."""
    if err.get("type") != "value_error":
        return "_"
    raw = str(dict(err.get("ctx") or {}).get("error", err.get("msg", "")))
    return _VALUE_ERROR_FIELDS.get(raw, "_")


def invalid_from(exc: ValidationError) -> Invalid:
    """A domain Invalid error with one message per field."""
    fields: dict[str, Message] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or _field_of(err)
        fields.setdefault(loc, _message(err))
    return Invalid(msg(INVALID_INPUT), fields=fields)


def unknown_fields(
    model: type[BaseModel], data: Mapping[str, Any], ignore: Collection[str] = ()
) -> dict[str, Message]:
    """Keys the model does not declare: a typo must not be silently dropped."""
    if model.model_config.get("extra") == "allow":
        return {}
    known: set[str] = set(ignore)
    for name, info in model.model_fields.items():
        known.add(name)
        if info.alias:
            known.add(info.alias)
    return {str(key): msg(UNKNOWN_FIELD) for key in data if key not in known}


def nul_fields(data: Any, location: str = "") -> dict[str, Message]:
    """Where strings (keys or values, at any depth) hold a NUL character, which no text may."""
    found: dict[str, Message] = {}
    if isinstance(data, str):
        if "\x00" in data:
            found[location or "_"] = msg(NUL_CHARACTER)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            where = f"{location}.{key}" if location else str(key)
            if "\x00" in str(key):
                found[where] = msg(NUL_CHARACTER)
            found.update(nul_fields(value, where))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            found.update(nul_fields(value, f"{location}.{i}" if location else str(i)))
    return found


def parse(model: type[M], data: Any, *, ignore: Collection[str] = ()) -> M:
    """Validate input into a model or raise Invalid with field errors (unknown keys included).

    ``ignore`` names keys that may be present and are not the model's (a form's CSRF token).
    """
    if not isinstance(data, Mapping):
        raise Invalid(msg("Dữ liệu gửi lên phải là một đối tượng JSON"))
    extra = {**nul_fields(data), **unknown_fields(model, data, ignore)}
    try:
        value = model.model_validate({k: v for k, v in data.items() if k not in ignore})
    except ValidationError as exc:
        invalid = invalid_from(exc)
        raise Invalid(invalid.text, fields={**extra, **invalid.fields}) from None
    if extra:
        raise Invalid(msg(INVALID_INPUT), fields=extra)
    return value
