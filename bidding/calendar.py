"""Working days and statutory day counts (R-T6), from the holiday calendar admins maintain.

China's calendar moves days: public holidays fall on weekdays and some weekends become working days
(调休). Admins keep both kinds of exception in ``calendar_days``; everything else follows the week.

R-T6 (87号令85-86): the first day of a period is not counted; a period whose last day is not a
working day ends on the next working day; "at least / within N days" include the N-th day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bidding.models import CalendarDay, CalendarYear
from core.clock import SHANGHAI


class Calendar:
    """The exceptions for a span of years, loaded once per use (a handful of rows per year)."""

    def __init__(
        self, holidays: Iterable[date] = (), workdays: Iterable[date] = (), covered: Iterable[int] = ()
    ) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.covered = frozenset(covered)  # years whose official arrangement is loaded

    @classmethod
    def load(cls, session: Session) -> Calendar:
        rows = session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
        return cls(
            (d for d, k in rows if k == "holiday"),
            (d for d, k in rows if k == "workday"),
            session.scalars(select(CalendarYear.year)),
        )

    def uncovered_years(self, first: date, last: date) -> list[int]:
        """Years from ``first`` to ``last`` without an official arrangement: counted as plain weeks."""
        return [year for year in range(first.year, last.year + 1) if year not in self.covered]

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def period_end(self, start: date, days: int) -> date:
        """Last day of a period of ``days`` calendar days starting on ``start`` (R-T6)."""
        return self.next_working_day(start + timedelta(days=days))

    def closes(self, start: datetime, days: int, *, working: bool = False) -> datetime:
        """The moment a period of ``days`` (working) days from ``start`` runs out: midnight Beijing time
        after its last day, counted as R-T6 says."""
        first = local_date(start)
        last = self.add_working_days(first, days) if working else self.period_end(first, days)
        return start_of_local_day(last + timedelta(days=1))

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (the start day itself not counted)."""
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def start_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)


def last_day(closes: datetime) -> date:
    """The last day of a period that closes at ``closes`` (midnight Beijing time after that day)."""
    return local_date(closes - timedelta(microseconds=1))
