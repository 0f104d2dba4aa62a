"""Official data shipped and maintained (issue 14 item 4): the State Council's holiday arrangements and
the PBC benchmark rates load idempotently, R-T6 counts with them, and publication warns about years the
calendar does not cover."""

from datetime import date

from sqlalchemy import func, select

from audit.models import AuditEntry
from bidding import official_data
from bidding.calendar import Calendar
from bidding.models import CalendarDay, CalendarYear, InterestRate
from tests.bidding.test_tenders import draft, publish


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_the_command_loads_each_file_once_with_its_source(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["official-data", "load"])
    assert first.exit_code == 0, first.output
    assert "2025, 2026" in first.output and "not covered" in first.output and "2027" in first.output
    days, rates = _count(session, CalendarDay), _count(session, InterestRate)
    assert days > 60 and rates >= 2
    years = {y.year: y.source for y in session.scalars(select(CalendarYear))}
    assert set(years) == {2025, 2026}  # 2027's arrangement is not shipped: nothing invented
    assert "国办发明电〔2024〕12号" in years[2025]
    again = runner.invoke(args=["official-data", "load"])
    assert again.exit_code == 0 and "0 days and 0 rates changed" in again.output
    session.rollback()
    assert (_count(session, CalendarDay), _count(session, InterestRate)) == (days, rates)
    loaded = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "bidding.official_data_loaded")
    ).all()
    assert len(loaded) == 1  # idempotent: the second run wrote and logged nothing


def test_r_t6_counts_with_the_2026_arrangement(session):
    official_data.load(session)
    calendar = Calendar.load(session)
    assert not calendar.is_working_day(date(2026, 2, 23))  # 春节, a Monday
    assert calendar.is_working_day(date(2026, 2, 28))  # 春节调休: a Saturday worked
    assert calendar.is_working_day(date(2026, 9, 20))  # 国庆节调休: a Sunday worked
    # A 20-day period from 26 January 2026 ends on 15 February, in the Spring Festival: it runs on to the
    # first working day after it, 24 February.
    assert calendar.period_end(date(2026, 1, 26), 20) == date(2026, 2, 24)
    assert calendar.uncovered_years(date(2026, 11, 1), date(2027, 2, 1)) == [2027]


def test_rates_are_the_pbc_benchmarks(session):
    official_data.load(session)
    rates = {(r.kind, r.effective_from): r.annual_bps for r in session.scalars(select(InterestRate))}
    assert rates[("deposit", date(2012, 7, 6))] == 35  # 活期 0.35%
    assert rates[("lending", date(2015, 10, 24))] == 435  # 一年期 4.35%


def test_a_bad_data_file_names_its_line(tmp_path):
    bad = ["# year: 2028", "# status: official", "2028-13-01,holiday,?"]
    try:
        official_data.read_calendar(bad)
    except official_data.DataFileError as err:
        assert "line 3" in str(err)
    else:
        raise AssertionError("a bad date was read")


def test_publication_warns_when_the_calendar_does_not_cover_the_tender(client, people, cast, session):
    official_data.load(session)
    session.commit()
    created = draft(client, people, cast)  # from late November 2026: the deadline falls in December
    response = publish(client, people, cast, created["id"])
    assert response.status_code == 200, response.get_json()
    (warning,) = response.get_json()["warnings"]  # 30 days after the deadline reach January 2027
    assert warning["code"] == "calendar_not_covered" and warning["years"] == [2027]
    assert "2027" in warning["message"]
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.tender_published")).one()
    assert b'"calendar_not_covered":[2027]' in logged.leaf


def test_no_warning_when_every_year_is_covered(client, people, cast, session):
    official_data.load(session)
    session.add(CalendarYear(year=2027, source="测试：2027年安排"))
    session.commit()
    created = draft(client, people, cast)
    assert publish(client, people, cast, created["id"]).get_json()["warnings"] == []
