"""The public portal's lists: tender notices here; candidate publicity and result notices from the
evaluation package, all with the same filters (category, track, region, dates) and real pagination
(numbered pages from a count, not a "next" guess).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bidding.calendar import SHANGHAI
from bidding.models import TRACKS, Tender
from core import paging

PER_PAGE = 20


@dataclass(frozen=True)
class Filters:
    """What a visitor narrows a list by; dates are Beijing days, both ends included."""

    q: str = ""
    category: str = ""
    track: str = ""
    region: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_args(cls, args) -> Filters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:  # a malformed date filters nothing rather than failing the page
                return None

        track = args.get("track", "").strip()
        return cls(
            q=args.get("q", "").strip()[:200],
            category=args.get("category", "").strip()[:64],
            track=track if track in TRACKS else "",
            region=args.get("region", "").strip()[:64],
            since=day("since"),
            until=day("until"),
        )

    def args(self) -> dict[str, str]:
        """The query string that repeats these filters (for the pager and the tabs)."""
        values = {
            "q": self.q,
            "category": self.category,
            "track": self.track,
            "region": self.region,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}

    def apply(self, query: Select, moment) -> Select:
        """Narrow a query over ``Tender`` (joined as it is); ``moment`` is the column the dates apply to."""
        if self.q:
            query = query.where(
                Tender.title.icontains(self.q, autoescape=True)
                | Tender.code.icontains(self.q, autoescape=True)
                | Tender.description.icontains(self.q, autoescape=True)
            )
        if self.category:
            query = query.where(Tender.category == self.category)
        if self.track:
            query = query.where(Tender.track == self.track)
        if self.region:
            query = query.where(Tender.region == self.region)
        if self.since:
            query = query.where(moment >= datetime.combine(self.since, time(), SHANGHAI))
        if self.until:
            query = query.where(moment < datetime.combine(self.until + timedelta(days=1), time(), SHANGHAI))
        return query


def paginate(session: Session, query: Select, number: int, per_page: int = PER_PAGE) -> paging.Page:
    """One page of a portal list (core.paging); a query of one entity gives its rows, others tuples."""
    page = paging.page_of(session, query, per_page, number, scalars=False)
    return replace(page, items=[row[0] if len(row) == 1 else row for row in page.items])


def notices_query() -> Select:
    return select(Tender).where(Tender.status != "draft").order_by(Tender.published_at.desc(), Tender.id)


def choices(session: Session) -> dict[str, list[str]]:
    """The categories and regions published tenders have (the filter's options)."""
    published = Tender.status != "draft"

    def values(column) -> list[str]:
        rows = session.scalars(select(column).where(published, column != "").distinct().order_by(column))
        return list(rows)

    return {"categories": values(Tender.category), "regions": values(Tender.region), "tracks": list(TRACKS)}
