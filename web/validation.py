"""Turning request input into validated models, with field errors a person understands."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from records.errors import Invalid

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "Trường này là bắt buộc",
    "string_too_short": "Quá ngắn (tối thiểu {min_length} ký tự)",
    "string_too_long": "Quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "Không đúng định dạng",
    "string_type": "Phải là chuỗi ký tự",
    "int_parsing": "Phải là số nguyên",
    "int_type": "Phải là số nguyên",
    "float_parsing": "Phải là số",
    "bool_parsing": "Phải là có/không",
    "bool_type": "Phải là có/không",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "enum": "Giá trị không hợp lệ (chọn một trong: {expected})",
    "literal_error": "Giá trị không hợp lệ (chọn một trong: {expected})",
    "uuid_parsing": "Mã định danh không hợp lệ",
    "uuid_type": "Mã định danh không hợp lệ",
    "date_from_datetime_parsing": "Ngày không hợp lệ (định dạng YYYY-MM-DD)",
    "date_parsing": "Ngày không hợp lệ (định dạng YYYY-MM-DD)",
    "date_type": "Ngày không hợp lệ (định dạng YYYY-MM-DD)",
    "datetime_parsing": "Thời gian không hợp lệ (ISO 8601, có múi giờ)",
    "datetime_from_date_parsing": "Thời gian không hợp lệ (ISO 8601, có múi giờ)",
    "datetime_type": "Thời gian không hợp lệ (ISO 8601, có múi giờ)",
    "timezone_aware": "Thời gian phải có múi giờ",
    "list_type": "Phải là danh sách",
    "too_short": "Cần ít nhất {min_length} mục",
    "too_long": "Nhiều nhất {max_length} mục",
    "extra_forbidden": "Trường không được phép",
    "model_type": "Dữ liệu không hợp lệ",
    "dict_type": "Dữ liệu không hợp lệ",
}

# Messages raised by our own validators, in English in the models, shown in Vietnamese.
_VALUE_ERRORS = {
    "birth_date or birth_year is required": "Cần nhập ngày sinh hoặc năm sinh",
    "birth_year does not match birth_date": "Năm sinh không khớp với ngày sinh",
    "birth_date is in the future": "Ngày sinh không thể ở tương lai",
    "times must carry a timezone": "Thời gian phải có múi giờ",
    "the session must end after it starts": "Giờ kết thúc phải sau giờ bắt đầu",
    "a session lasts at most 12 hours": "Một phiên hội chẩn kéo dài tối đa 12 giờ",
}


UNKNOWN_FIELD = "Trường không được phép"
INVALID_INPUT = "Dữ liệu nhập chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu"


def _message(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = dict(err.get("ctx") or {})
    if kind == "value_error":
        raw = str(ctx.get("error", err.get("msg", "")))
        return _VALUE_ERRORS.get(raw, "Giá trị không hợp lệ")
    template = _MESSAGES.get(kind)
    if template is None:
        return "Giá trị không hợp lệ"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def invalid_from(exc: ValidationError) -> Invalid:
    """A domain Invalid error with one Vietnamese message per field."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "_"
        fields.setdefault(loc, _message(err))
    return Invalid(INVALID_INPUT, fields=fields)


def unknown_fields(
    model: type[BaseModel], data: Mapping[str, Any], ignore: Collection[str] = ()
) -> dict[str, str]:
    """Keys the model does not declare: a typo must not be silently dropped."""
    if model.model_config.get("extra") == "allow":
        return {}
    known: set[str] = set(ignore)
    for name, info in model.model_fields.items():
        known.add(name)
        if info.alias:
            known.add(info.alias)
    return {str(key): UNKNOWN_FIELD for key in data if key not in known}


def parse(model: type[M], data: Any, *, ignore: Collection[str] = ()) -> M:
    """Validate input into a model or raise Invalid with field errors (unknown keys included).

    ``ignore`` names keys that may be present and are not the model's (a form's CSRF token).
    """
    if not isinstance(data, Mapping):
        raise Invalid("Dữ liệu gửi lên phải là một đối tượng JSON")
    extra = unknown_fields(model, data, ignore)
    try:
        value = model.model_validate({k: v for k, v in data.items() if k not in ignore})
    except ValidationError as exc:
        invalid = invalid_from(exc)
        raise Invalid(invalid.message, fields={**extra, **invalid.fields}) from None
    if extra:
        raise Invalid(INVALID_INPUT, fields=extra)
    return value
