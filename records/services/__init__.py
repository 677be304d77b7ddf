"""Keyword-only async services over an AsyncSession; they own add/commit and raise domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, with the total number of matches (or, when ``total_exact`` is
    False, a lower bound: a long list stops counting well past the page)."""

    items: list[T]
    total: int
    limit: int
    offset: int
    total_exact: bool = True
    # Where the next page starts, for lists paged by key (None: this is the last page).
    next_after: str | None = None


def clamp_page(limit: int | None, offset: int | None) -> tuple[int, int]:
    """Bound paging parameters to sane values."""
    lim = 50 if limit is None else max(1, min(int(limit), MAX_PAGE))
    off = 0 if offset is None else max(0, int(offset))
    return lim, off
