"""Reading posted forms: the values as typed, checked by the models the JSON API uses.

A form page shows back what was typed and an error next to each field. The rules are the
API's: ``parse_form`` validates a form's values with the same pydantic model
(``records.models``), and reports the form's own findings (a date typed the Vietnamese way)
with the model's, so one answer names every field that needs attention.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from types import NoneType, UnionType
from typing import Any, TypeVar, get_args

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel

from records.errors import Invalid, RecordsError
from records.localtime import LOCAL_TZ
from records.messages import N_, Message, msg

from ..i18n import translate
from ..validation import INVALID_INPUT, parse

M = TypeVar("M", bound=BaseModel)

REQUIRED = N_("Trường này là bắt buộc")
BAD_DATE = N_("Ngày không hợp lệ (ngày/tháng/năm)")
BAD_TIME = N_("Giờ không hợp lệ (giờ:phút)")
_DMY = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")
_HM = re.compile(r"^\s*(\d{1,2})[:hg](\d{2})\s*$")


async def form_data(request: web.Request) -> dict[str, str]:
    """The fields of a posted form as plain strings (the CSRF token removed, files ignored)."""
    form: MultiDictProxy[Any] = await request.post()
    data: dict[str, str] = {}
    for key in form:
        if key == "csrf_token":
            continue
        value = form.get(key)
        if isinstance(value, str):
            data[key] = value
    return data


def form_values(
    form: MultiDictProxy[Any],
    texts: Iterable[str],
    *,
    lists: Iterable[str] = (),
    flags: Iterable[str] = (),
) -> dict[str, Any]:
    """What was typed, to validate and to show back: text stripped, repeated fields (ticked
    boxes) as lists of distinct values, flags as booleans."""
    values: dict[str, Any] = {}
    for name in texts:
        value = form.get(name, "")
        values[name] = value.strip() if isinstance(value, str) else ""
    for name in lists:
        values[name] = list(dict.fromkeys(str(v) for v in form.getall(name, []) if v != ""))
    for name in flags:
        values[name] = bool(form.get(name))
    return values


def clean_form(data: Mapping[str, str], optional: Iterable[str]) -> dict[str, Any]:
    """Form values with surrounding spaces removed and empty optional fields as None."""
    out: dict[str, Any] = {}
    optional = set(optional)
    for key, value in data.items():
        value = value.strip()
        out[key] = None if (value == "" and key in optional) else value
    return out


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    return isinstance(annotation, UnionType) and set(get_args(annotation)) <= {str, NoneType}


def _blank(model: type[BaseModel], name: str, value: Any) -> bool:
    """Whether a value means "nothing chosen": empty, and not the value of a text field."""
    if value not in ("", None, []):
        return False
    info = model.model_fields.get(name)
    return info is not None and not _is_text(info.annotation)


def parse_form(
    model: type[M],
    data: Mapping[str, Any],
    *,
    errors: Mapping[str, Message] | None = None,
    missing: Mapping[str, str] | None = None,
) -> M:
    """A form's values validated into the API's model, or Invalid naming every field at fault.

    An empty choice (a select left blank, no box ticked) counts as not given, so a required
    one says it is required; an empty text box is empty text, judged by the model. ``errors``
    are the form's own findings, reported with the model's; ``missing`` words a field's
    error in the form's terms when it was left out ("choose at least one case").
    """
    given = {name: value for name, value in data.items() if not _blank(model, name, value)}
    found: dict[str, Message] = dict(errors or {})
    try:
        value = parse(model, given)
    except Invalid as exc:
        for location, text in exc.fields.items():
            name = location.split(".")[0]
            if name not in given and name in (missing or {}):
                text = msg((missing or {})[name])
            found.setdefault(name, text)
    else:
        if not found:
            return value
    raise Invalid(msg(INVALID_INPUT), fields=found)


def ids_in(values: Iterable[str]) -> list[uuid.UUID]:
    """The well-formed ids among some form values, in order (for showing a choice back)."""
    out: list[uuid.UUID] = []
    for value in values:
        try:
            out.append(uuid.UUID(value))
        except ValueError:
            continue
    return list(dict.fromkeys(out))


def error_message(request: web.Request, exc: RecordsError) -> str:
    """A domain error's message in the language of the request."""
    return translate(request, exc.text)


def error_fields(request: web.Request, exc: RecordsError) -> dict[str, str]:
    """Field name -> message of a domain error, translated, nested locations flattened."""
    fields: dict[str, str] = {}
    for loc, message in exc.fields.items():
        fields.setdefault(loc.split(".")[0], translate(request, message))
    return fields


# Dates and times typed the Vietnamese way --------------------------------------------------------


def parse_local_date(text: str) -> date | None:
    """A date typed as 2026-11-30 (date inputs) or 30/11/2026 (by hand); None if unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    match = _DMY.match(text)
    try:
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_local_time(text: str) -> time | None:
    """A time of day typed as 14:30 (or 14h30); None if unreadable."""
    match = _HM.match((text or "").strip())
    if not match:
        return None
    try:
        return time(int(match[1]), int(match[2]))
    except ValueError:
        return None


def local_moment(
    date_text: str, time_text: str, *, date_field: str, time_field: str, required: bool = True
) -> datetime | None:
    """A moment in Asia/Ho_Chi_Minh from a date and a time field, or Invalid naming the field."""
    if not (date_text or "").strip() and not (time_text or "").strip() and not required:
        return None
    fields: dict[str, Message] = {}
    day = parse_local_date(date_text)
    at = parse_local_time(time_text)
    if day is None:
        fields[date_field] = msg(REQUIRED if not (date_text or "").strip() else BAD_DATE)
    if at is None:
        fields[time_field] = msg(REQUIRED if not (time_text or "").strip() else BAD_TIME)
    if day is None or at is None:
        raise Invalid(msg(INVALID_INPUT), fields=fields)
    return datetime.combine(day, at, tzinfo=LOCAL_TZ)
