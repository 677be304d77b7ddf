"""Time arithmetic in SQL that SQLite and PostgreSQL spell differently: the local month of a
moment and the hours between two moments, so aggregations stay in the database on both."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

from .localtime import LOCAL_TZ

# Vietnam keeps one offset all year (no daylight saving), which SQLite needs as a modifier.
_SQLITE_OFFSET = "+7 hours"


class local_month(FunctionElement[str]):  # noqa: N801  (SQL function naming)
    """``YYYY-MM`` of a UTC timestamp, in the local time zone."""

    type = sa.String()
    inherit_cache = True
    name = "local_month"


class hours_between(FunctionElement[float]):  # noqa: N801
    """Hours from the first timestamp to the second (NULL if either is NULL)."""

    type = sa.Float()
    inherit_cache = True
    name = "hours_between"


@compiles(local_month, "sqlite")
def _month_sqlite(element: local_month, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(moment, **kw)}, '{_SQLITE_OFFSET}')"


@compiles(local_month, "postgresql")
def _month_pg(element: local_month, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"to_char({compiler.process(moment, **kw)} AT TIME ZONE '{LOCAL_TZ.key}', 'YYYY-MM')"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    a, b = compiler.process(start, **kw), compiler.process(end, **kw)
    return f"((julianday({b}) - julianday({a})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_pg(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    a, b = compiler.process(start, **kw), compiler.process(end, **kw)
    return f"(EXTRACT(EPOCH FROM ({b} - {a})) / 3600.0)"


def month_of(moment: ColumnElement[Any] | Any) -> ColumnElement[str]:
    """The local ``YYYY-MM`` of a timestamp column."""
    return local_month(moment)


def hours(start: ColumnElement[Any] | Any, end: ColumnElement[Any] | Any) -> ColumnElement[float]:
    """Hours from ``start`` to ``end``."""
    return hours_between(start, end)
