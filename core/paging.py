"""Pages of a list that can grow (API.md: ``?page=&per_page=``; pages: ``?page=``): one place counts,
cuts and clamps, for the JSON API (core.api.paginate) and for the pages (``{{ pager(page) }}`` in
macros.html, which keeps the list's filters in its links).

    page = paging.page_of(db.session, select(Tender).order_by(...), per_page=20)
    render_template("...", page=page)       # page.items, page.number, page.pages, page.total
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Flask, request, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int  # from 1
    per_page: int
    total: int
    param: str = "page"  # the query argument that picks the page (two lists on one page need two)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last, and a few around the current one (None: a gap)."""
        shown = sorted({1, self.pages, *range(self.number - around, self.number + around + 1)})
        out: list[int | None] = []
        for n in (n for n in shown if 1 <= n <= self.pages):
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def requested(param: str = "page") -> int:
    """The page number the request asks for (1 when it asks for none, or for nonsense)."""
    return max(1, request.args.get(param, 1, type=int) or 1)


def _clamp(number: int, total: int, per_page: int) -> int:
    return min(max(1, number), max(1, -(-total // per_page)))


def page_of(
    session: Session,
    query: Select[Any],
    per_page: int,
    number: int | None = None,
    *,
    param: str = "page",
    scalars: bool = True,
    clamp: bool = True,
) -> Page[Any]:
    """One page of ``query`` (ordered by the caller). On the pages, past the last page means the last
    page (``clamp``); the API answers an empty list there, as API.md says."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    number = requested(param) if number is None else number
    if clamp:
        number = _clamp(number, total, per_page)
    cut = query.limit(per_page).offset((number - 1) * per_page)
    items = list(session.scalars(cut).all()) if scalars else list(session.execute(cut).all())
    return Page(items, number, per_page, total, param)


def page_of_list(
    items: Sequence[T], per_page: int, number: int | None = None, *, param: str = "page"
) -> Page[T]:
    """The same for a list already built in Python (rows put together from several queries)."""
    number = _clamp(requested(param) if number is None else number, len(items), per_page)
    start = (number - 1) * per_page
    return Page(list(items[start : start + per_page]), number, per_page, len(items), param)


def page_url(page: Page[Any], number: int) -> str:
    """This page's URL with another page number, every other query argument kept (the filters)."""
    args = {**(request.view_args or {}), **request.args.to_dict(), page.param: number}
    return url_for(request.endpoint or "web.index", **args)


def init_app(app: Flask) -> None:
    app.add_template_global(page_url, "page_url")
