"""Official reference data shipped with the platform (``bidding/data/``): the State Council's holiday
arrangements (节假日安排, with the weekend days worked instead, 调休) and the People's Bank of China
benchmark rates (deposit rate for R-D3 interest, lending rate for the R-D4 late-refund charge).

Each file names its source in its header (``# year:``, ``# status:``, ``# source:``). Loading is idempotent:
days and rates are merged, and only what changed is written and logged. ``flask --app wsgi official-data
load`` runs it in production, ``flask --app wsgi demo seed`` in embedded mode. A year counts as covered
(``calendar_years``) only when its file says ``status: official``; a year without one is counted as plain
weeks, and publication warns about tenders whose periods reach into it (R-T6).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from bidding.models import CalendarDay, CalendarYear, InterestRate

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("holiday", "workday")
RATE_KINDS = ("deposit", "lending")


class DataFileError(ValueError):
    """A line of a data file that cannot be read; says which line and why."""


@dataclass
class CalendarFile:
    year: int | None
    status: str
    source: str
    days: list[tuple[date, str, str]] = field(default_factory=list)

    @property
    def official(self) -> bool:
        return self.status == "official" and self.year is not None


def _header(line: str, into: dict[str, str]) -> None:
    key, sep, value = line.lstrip("#").partition(":")
    if sep and key.strip() in ("year", "status", "source"):
        into.setdefault(key.strip(), value.strip())


def read_calendar(lines: Iterable[str]) -> CalendarFile:
    """``2026-10-01,holiday,国庆节`` or ``2026-09-20,workday,国庆节调休上班`` per line; ``#`` lines are
    comments (``# year:``, ``# status:`` and ``# source:`` describe the file)."""
    meta: dict[str, str] = {}
    days = []
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not "".join(row).strip():
            continue
        if row[0].lstrip().startswith("#"):
            _header(",".join(row), meta)
            continue
        if row[0].strip() == "date":
            continue  # the column header
        try:
            day, kind = date.fromisoformat(row[0].strip()), row[1].strip()
        except (ValueError, IndexError) as exc:
            raise DataFileError(f"line {number}: expected DATE,holiday|workday[,NAME]") from exc
        if kind not in KINDS:
            raise DataFileError(f"line {number}: kind must be holiday or workday")
        days.append((day, kind, (row[2].strip() if len(row) > 2 else "")[:100]))
    year = int(meta["year"]) if meta.get("year", "").isdigit() else None
    if year is not None and any(day.year != year for day, _kind, _name in days):
        raise DataFileError(f"a day outside {year} in the file for {year}")
    return CalendarFile(year, meta.get("status", ""), meta.get("source", "")[:300], days)


def read_rates(lines: Iterable[str]) -> list[tuple[str, date, int]]:
    rates = []
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or row[0].lstrip().startswith("#") or row[0].strip() == "kind":
            continue
        try:
            kind, since, bps = row[0].strip(), date.fromisoformat(row[1].strip()), int(row[2])
        except (ValueError, IndexError) as exc:
            raise DataFileError(f"line {number}: expected KIND,DATE,BASIS_POINTS[,NAME]") from exc
        if kind not in RATE_KINDS or not 0 <= bps <= 5000:
            raise DataFileError(f"line {number}: kind deposit|lending, basis points 0 to 5000")
        rates.append((kind, since, bps))
    return rates


@dataclass
class LoadReport:
    covered: list[int] = field(default_factory=list)  # years whose official arrangement is now loaded
    not_published: list[int] = field(default_factory=list)  # years shipped without days (status not official)
    days_changed: int = 0
    rates_changed: int = 0
    years_changed: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.days_changed or self.rates_changed or self.years_changed)


def merge_calendar(session: Session, calendar: CalendarFile, report: LoadReport) -> None:
    """Write the file's days (only those that differ) and, for an official file, mark its year covered."""
    for day, kind, name in calendar.days:
        row = session.get(CalendarDay, day)
        if row is None:
            session.add(CalendarDay(day=day, kind=kind, name=name))
        elif (row.kind, row.name) != (kind, name):
            row.kind, row.name = kind, name
        else:
            continue
        report.days_changed += 1
    if not calendar.official or calendar.year is None:
        if calendar.year is not None:
            report.not_published.append(calendar.year)
        return
    year = session.get(CalendarYear, calendar.year)
    if year is None or year.source != calendar.source:
        if year is None:
            session.add(CalendarYear(year=calendar.year, source=calendar.source))
        else:
            year.source = calendar.source
        report.years_changed.append(calendar.year)
    report.covered.append(calendar.year)


def merge_rates(session: Session, rates: list[tuple[str, date, int]], report: LoadReport) -> None:
    for kind, since, bps in rates:
        row = session.get(InterestRate, (kind, since))
        if row is not None and row.annual_bps == bps:
            continue
        session.merge(InterestRate(kind=kind, effective_from=since, annual_bps=bps))
        report.rates_changed += 1


def load(session: Session, actor=None, ip: str | None = "cli", folder: Path = DATA) -> LoadReport:
    """Load every shipped calendar and the rate table; writes and logs only what changed."""
    report = LoadReport()
    for path in sorted(folder.glob("holidays-*.csv")):
        with path.open(encoding="utf-8") as f:
            merge_calendar(session, read_calendar(f), report)
    with (folder / "interest-rates.csv").open(encoding="utf-8") as f:
        merge_rates(session, read_rates(f), report)
    session.flush()
    if report.changed:
        audit.record(
            session,
            actor,
            "bidding.official_data_loaded",
            None,
            {
                "covered": report.covered,
                "years_changed": report.years_changed,
                "days_changed": report.days_changed,
                "rates_changed": report.rates_changed,
            },
            ip,
        )
    return report


def covered_years(session: Session) -> list[CalendarYear]:
    return list(session.scalars(select(CalendarYear).order_by(CalendarYear.year)))
