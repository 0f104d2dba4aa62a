"""Pagination for pages: one page of a query, and the numbers a pager needs (the API has its own,
core.api.paginate, which answers JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PER_PAGE = 25


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_of(session: Session, query: Select, per_page: int = PER_PAGE) -> Page:
    """The page of ``query`` that ``?page=`` asks for (the first for anything that is not a number)."""
    number = max(1, request.args.get("page", 1, type=int) or 1)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    number = min(number, max(1, -(-total // per_page)))
    items = list(session.scalars(query.limit(per_page).offset((number - 1) * per_page)))
    return Page(items, number, per_page, total)
