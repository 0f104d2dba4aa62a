"""The award's time limits at their edges: candidates published within 3 days of the report (R-A1) and the
contract within 30 calendar days of the award notice (R-A3), counted as R-T6 says across a weekend and a
holiday; past either, the step shows to supervisors as overdue, and the rules page states both."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from bidding.calendar import SHANGHAI, Calendar, last_day
from core import clock
from core.roles import Role
from evaluation import award
from evaluation.models import Award, EvaluationReport
from tests.bidding.test_tenders import auth
from tests.bidding.test_views import sign_in
from tests.evaluation.test_award import signed  # noqa: F401  (every member signed, the report closed)

# The Spring Festival of 2027 as a holiday calendar would hold it: 6-13 February off, Sunday the 14th
# a working day (调休).
SPRING = Calendar([date(2027, 2, d) for d in range(6, 14)], [date(2027, 2, 14)])


def bj(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


def midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("calendar", "notice", "last"),
    [
        (Calendar(), date(2027, 1, 4), date(2027, 2, 3)),  # Monday: the 30th day is Wednesday 3 February
        (Calendar(), date(2027, 1, 8), date(2027, 2, 8)),  # Friday: the 30th is Sunday 7 February -> Monday
        (SPRING, date(2027, 1, 7), date(2027, 2, 14)),  # the 30th is Saturday 6 February, the Festival
        (SPRING, date(2027, 1, 5), date(2027, 2, 4)),  # the 30th is Thursday 4 February, before it
    ],
)
def test_r_a3_thirty_calendar_days_from_the_day_after_the_notice(calendar, notice, last):
    due = award.contract_due(bj(notice), calendar)
    assert due == midnight_after(last) and last_day(due) == last
    # The notice's own time of day does not matter: the day is what counts (R-T6).
    assert award.contract_due(bj(notice, 23, 59), calendar) == due
    assert award.contract_due(bj(notice, 0, 0), calendar) == due


@pytest.mark.parametrize(
    ("calendar", "signed_on", "last"),
    [
        (Calendar(), date(2026, 12, 7), date(2026, 12, 10)),  # Monday report: Thursday is the 3rd day
        (Calendar(), date(2026, 12, 2), date(2026, 12, 7)),  # Wednesday: the 3rd is Saturday -> Monday
        (SPRING, date(2027, 2, 4), date(2027, 2, 14)),  # Thursday before the Festival -> the working Sunday
    ],
)
def test_r_a1_candidates_within_3_days_of_the_report(calendar, signed_on, last):
    report = EvaluationReport(signed_at=bj(signed_on, 17))
    assert award.publication_due(report, calendar) == midnight_after(last)


def _as(client, people, user):
    headers = auth(people, client, user)
    clock.advance(timedelta(seconds=31))
    return headers


def _overdue(client, people, supervisor) -> str:
    """The supervisor's dashboard, in a browser session of its own."""
    browser = client.application.test_client()
    sign_in(browser, people, supervisor)
    clock.advance(timedelta(seconds=31))
    page = browser.get("/dashboard").get_data(as_text=True)
    start = page.index('id="overdue-award-steps"')
    return page[start : page.index("</section>", start)]


def test_r_a1_and_r_a3_overdue_steps_show_to_the_supervisor(client, people, session, cast, signed):  # noqa: F811
    tender, bids = signed
    supervisor = cast["supervisor"]
    owner_user = people.user(Role.TENDEREE, "limits-owner", org=cast["tenderee"])
    report = session.get(EvaluationReport, tender.id)
    due = award.publication_due(report, Calendar.load(session))
    session.rollback()
    clock.freeze(due - timedelta(minutes=1))  # the last minute of the 3rd day: not yet overdue
    assert "overdue-item" not in _overdue(client, people, supervisor)
    clock.freeze(due)  # the day after: overdue
    panel = _overdue(client, people, supervisor)
    day = last_day(due)  # the last day, in Beijing time and in words (a page prints no ISO date)
    assert tender.code in panel and "R-A1" in panel and f"{day.year}年{day.month}月{day.day}日" in panel
    published = client.post(
        f"/api/v1/tenders/{tender.id}/candidates", headers=_as(client, people, cast["agent"])
    )
    assert published.status_code == 201, published.get_json()
    session.rollback()  # a fresh snapshot: see what the request wrote
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "evaluation.candidates_published"))
    assert b'"late":true' in logged.one().leaf  # published late: on the record
    session.rollback()  # end the read snapshot before others write (SQLite)
    assert "overdue-item" not in _overdue(client, people, supervisor)

    clock.freeze(datetime.fromisoformat(published.get_json()["ends_at"]))  # the publicity is over
    owner = _as(client, people, owner_user)
    decided = client.post(
        f"/api/v1/tenders/{tender.id}/decision",
        json={"bid": bids[0][1], "reasons": "综合排名第一"},
        headers=owner,
    )
    assert decided.status_code == 201, decided.get_json()
    session.rollback()
    row = session.get(Award, tender.id)
    contract_due = award.contract_due(row.decided_at, Calendar.load(session))
    assert row.contract_due_at == contract_due
    session.rollback()
    clock.freeze(contract_due - timedelta(minutes=1))
    assert "overdue-item" not in _overdue(client, people, supervisor)
    clock.freeze(contract_due)
    panel = _overdue(client, people, supervisor)
    assert "R-A3" in panel and tender.code in panel
    contract = client.post(
        f"/api/v1/tenders/{tender.id}/contract?amount_fen=99000000",
        data="施工合同（已签署）".encode(),
        headers={
            **_as(client, people, owner_user),
            "Content-Type": "application/pdf",
        },
    )
    assert contract.status_code == 201
    session.rollback()
    recorded = session.scalars(select(AuditEntry).where(AuditEntry.action == "evaluation.contract_recorded"))
    assert b'"late":true' in recorded.one().leaf
    assert "overdue-item" not in _overdue(client, people, supervisor)


def test_the_rules_page_states_the_time_limits(client):
    page = client.get("/rules").get_data(as_text=True)
    for rule in ("R-T4", "R-T6", "R-D3", "R-A1", "R-A3"):
        assert f'id="{rule}"' in page
    assert 'href="/rules"' in client.get("/").get_data(as_text=True)  # linked from every page's footer
