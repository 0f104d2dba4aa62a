"""The periods of a timeline at their edges, decided in one place (bidding.periods): objections (R-T4)
no earlier than 10 days before the deadline and moving with it when an amendment extends it (R-T3),
documents available for at least 5 days (R-T2), questions, and the decryption window; each day
before, of and after the limit, across a weekend and a holiday (R-T6)."""

import uuid
from datetime import date, datetime, time, timedelta

import pytest

from bidding import periods
from bidding.calendar import SHANGHAI, Calendar
from bidding.models import CalendarDay, Tender
from core import clock
from core.roles import Role
from tests.bidding.test_notice_pages import browser
from tests.bidding.test_tenders import auth, body, publish


def bj(day: date, hh: int = 9, mm: int = 30) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


# The clock stands at Monday 23 November 2026, 10:00 Beijing time (tests/conftest.py).
DOCS_FROM = bj(date(2026, 11, 24), 10, 0)  # Tuesday


def timeline(deadline: datetime, *, objections: datetime | None = None, docs_to: datetime | None = None):
    return {
        "documents_from": DOCS_FROM.isoformat(),
        "documents_to": (docs_to or DOCS_FROM + timedelta(days=6)).isoformat(),
        "clarification_deadline": (deadline - timedelta(days=16)).isoformat(),
        "objection_deadline": (
            objections or periods.statutory_objection_close(deadline, Calendar())
        ).isoformat(),
        "bid_deadline": deadline.isoformat(),
    }


def drafted(client, people, cast, deadline, **kwargs) -> str:
    data = body(cast["tenderee"], DOCS_FROM.date())
    data["timeline"] = timeline(deadline, **kwargs)
    headers = auth(people, client, cast["agent"])
    response = client.post("/api/v1/tenders", json=data, headers=headers)
    assert response.status_code == 201, response.get_json()
    tender_id = response.get_json()["id"]
    uploaded = client.post(
        f"/api/v1/tenders/{tender_id}/documents?filename=招标文件.pdf&title=招标文件",
        data="第一章 招标公告".encode(),
        headers={**headers, "Content-Type": "application/pdf"},
    )
    assert uploaded.status_code == 201
    clock.advance(timedelta(seconds=31))
    return tender_id


def published(client, people, cast, session, deadline, **kwargs) -> Tender:
    tender_id = drafted(client, people, cast, deadline, **kwargs)
    response = publish(client, people, cast, tender_id)
    assert response.status_code == 200, response.get_json()
    session.rollback()
    return session.get(Tender, uuid.UUID(tender_id))


def objection_problem(client, people, cast, deadline, objections):
    tender_id = drafted(client, people, cast, deadline, objections=objections)
    response = publish(client, people, cast, tender_id)
    if response.status_code == 200:
        return None
    problems = response.get_json()["error"]["details"]["problems"]
    return next((p for p in problems if p["field"] == "objection_deadline"), problems)


def object_at(client, people, session, tender, moment, name):
    clock.freeze(moment)
    response = client.post(
        f"/api/v1/tenders/{tender.id}/objections",
        json={"stage": "documents", "text": "资格条件排斥潜在投标人，请修改。"},
        headers=auth(people, client, people.user(Role.TENDERER, name)),
    )
    return response.status_code, response.get_json()


# -- the statutory close, counted (R-T4 with R-T6) ------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "closes"),
    [
        # Monday 21 December: 10 days before is Friday 11 December, a working day.
        (bj(date(2026, 12, 21)), bj(date(2026, 12, 11))),
        # Wednesday 23 December: 10 days before is Sunday 13 December -> Monday 14 December.
        (bj(date(2026, 12, 23)), bj(date(2026, 12, 14))),
        # Sunday 11 October 2026: 10 days before is 1 October, National Day; the holidays run to the
        # 7th and Saturday the 10th is a working day (调休) -> Thursday 8 October.
        (bj(date(2026, 10, 11)), bj(date(2026, 10, 8))),
    ],
)
def test_r_t4_the_statutory_close_is_10_days_before_on_a_working_day(deadline, closes):
    national_day = Calendar([date(2026, 10, d) for d in range(1, 8)], [date(2026, 9, 27), date(2026, 10, 10)])
    assert periods.statutory_objection_close(deadline, national_day) == closes


# -- publication refuses a shorter window, accepts a longer one ---------------------------------------


def test_r_t4_publication_edges_on_a_working_day(client, people, cast):
    deadline = bj(date(2026, 12, 21))  # Monday; the statute closes objections Friday 11 December 09:30
    assert objection_problem(client, people, cast, deadline, bj(date(2026, 12, 10))) == {
        "field": "objection_deadline",
        "rule": "R-T4",
        "code": "too_early",
        "earliest": "2026-12-11T09:30:00+08:00",
    }  # the day before
    assert (
        objection_problem(client, people, cast, deadline, bj(date(2026, 12, 11), 9, 29))["code"]
        == "too_early"
    )
    assert objection_problem(client, people, cast, deadline, bj(date(2026, 12, 11))) is None  # the day of
    assert objection_problem(client, people, cast, deadline, bj(date(2026, 12, 12))) is None  # more time
    late = objection_problem(client, people, cast, deadline, deadline + timedelta(minutes=1))
    assert late["code"] == "after_bid_deadline"


def test_r_t4_publication_across_a_weekend_and_a_holiday(client, people, cast, session):
    weekend = bj(date(2026, 12, 23))  # 10 days before is Sunday 13 December: Monday 14th counts
    assert objection_problem(client, people, cast, weekend, bj(date(2026, 12, 13)))["earliest"] == (
        "2026-12-14T09:30:00+08:00"
    )
    assert objection_problem(client, people, cast, weekend, bj(date(2026, 12, 14))) is None
    session.add(CalendarDay(day=date(2026, 12, 11), kind="holiday", name="测试假日"))
    session.commit()
    holiday = bj(date(2026, 12, 21))  # 10 days before is Friday 11th, now a holiday: Monday 14th counts
    assert objection_problem(client, people, cast, holiday, bj(date(2026, 12, 11)))["earliest"] == (
        "2026-12-14T09:30:00+08:00"
    )
    assert objection_problem(client, people, cast, holiday, bj(date(2026, 12, 14))) is None


# -- objections accepted until the close, refused from it ---------------------------------------------


def test_r_t4_objections_day_before_day_of_and_day_after(client, people, cast, session):
    tender = published(client, people, cast, session, bj(date(2026, 12, 21)))
    assert tender.objection_deadline == bj(date(2026, 12, 11))
    assert object_at(client, people, session, tender, bj(date(2026, 12, 10), 23, 59), "eve")[0] == 201
    assert object_at(client, people, session, tender, bj(date(2026, 12, 11), 9, 29), "dayof")[0] == 201
    status, refused = object_at(client, people, session, tender, bj(date(2026, 12, 11)), "at-close")
    assert status == 409 and refused["error"]["code"] == "objection_deadline_passed"
    assert refused["error"]["details"] == {"deadline": "2026-12-11T01:30:00+00:00", "rule": "R-T4"}
    assert object_at(client, people, session, tender, bj(date(2026, 12, 12), 8), "after")[0] == 409


def test_r_t4_objections_across_a_weekend(client, people, cast, session):
    tender = published(client, people, cast, session, bj(date(2026, 12, 23)))
    assert tender.objection_deadline == bj(date(2026, 12, 14))  # Monday, for Sunday's 10th day
    assert object_at(client, people, session, tender, bj(date(2026, 12, 13), 15), "sunday")[0] == 201
    assert object_at(client, people, session, tender, bj(date(2026, 12, 14), 9, 29), "monday")[0] == 201
    assert object_at(client, people, session, tender, bj(date(2026, 12, 14), 9, 30), "closed")[0] == 409
    assert object_at(client, people, session, tender, bj(date(2026, 12, 15), 9), "tuesday")[0] == 409


def test_r_t4_a_tender_that_cut_the_window_short_still_gets_the_statutory_one(client, people, cast, session):
    """A tender published before the platform checked this keeps the statutory window all the same."""
    tender = published(client, people, cast, session, bj(date(2026, 12, 21)))
    tender.objection_deadline = bj(date(2026, 12, 6))  # 15 days before, as the issue found accepted
    session.commit()
    status, _ = object_at(client, people, session, tender, bj(date(2026, 12, 10)), "eleven-days")
    assert status == 201  # the case: deadline - 11 days was refused


# -- the windows follow the deadline when an amendment moves it (R-T3) --------------------------------


def amend(client, people, cast, tender):
    response = client.post(
        f"/api/v1/tenders/{tender.id}/amendments",
        json={"title": "第二章 技术要求修改", "body": "钢筋规格改为HRB400E。"},
        headers=auth(people, client, cast["agent"]),
    )
    clock.advance(timedelta(seconds=31))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_r_t4_follows_r_t3_when_an_amendment_extends_the_deadline(client, people, cast, session):
    deadline = bj(date(2026, 12, 21))
    tender = published(client, people, cast, session, deadline, docs_to=bj(date(2026, 12, 1), 17, 0))
    before = {name: getattr(tender, name) for name in periods.FOLLOWING}
    # Thursday 10 December, 11 days before the deadline: objections are still open, the change needs
    # 15 days, so the deadline moves to Friday 25 December (R-T3) ...
    clock.freeze(bj(date(2026, 12, 10), 10))
    issued = amend(client, people, cast, tender)
    session.rollback()  # a fresh snapshot: see what the request wrote
    tender = session.get(Tender, tender.id)
    assert tender.bid_deadline == bj(date(2026, 12, 25)) and issued["deadline_after"]
    shift = tender.bid_deadline - deadline
    # ... and everything that hangs on it moves as far: objections now close Tuesday 15 December.
    assert tender.objection_deadline == bj(date(2026, 12, 15)) == before["objection_deadline"] + shift
    assert tender.clarification_deadline == before["clarification_deadline"] + shift
    assert tender.documents_to == before["documents_to"] + shift
    # The old close has passed; the new statutory window is open until the minute it closes.
    assert (
        object_at(client, people, session, tender, bj(date(2026, 12, 11), 12), "old-close-passed")[0] == 201
    )
    assert object_at(client, people, session, tender, bj(date(2026, 12, 15), 9, 29), "last-minute")[0] == 201
    assert object_at(client, people, session, tender, bj(date(2026, 12, 15), 9, 30), "too-late")[0] == 409


def test_r_t4_an_extension_onto_a_weekend_keeps_the_statutory_window(client, people, cast, session):
    """When the shifted close falls short of the statute (its 10th day before is a weekend), the statute
    wins: the window never closes before 10 days before the new deadline, counted as R-T6 says."""
    deadline = bj(date(2026, 12, 21))
    tender = published(client, people, cast, session, deadline)
    clock.freeze(bj(date(2026, 12, 8), 10))  # Tuesday: the change needs 15 days -> Wednesday 23rd
    amend(client, people, cast, tender)
    session.rollback()  # a fresh snapshot: see what the request wrote
    tender = session.get(Tender, tender.id)
    assert tender.bid_deadline == bj(date(2026, 12, 23))
    # shifted by 2 days the close would be Sunday 13th; the statute gives until Monday 14th 09:30
    assert tender.objection_deadline == bj(date(2026, 12, 14))


# -- documents available for at least 5 days (R-T2) ---------------------------------------------------


def test_r_t2_documents_for_5_days_at_publication(client, people, cast):
    deadline = bj(date(2026, 12, 21))

    def problems(docs_to):
        tender_id = drafted(client, people, cast, deadline, docs_to=docs_to)
        response = publish(client, people, cast, tender_id)
        return [] if response.status_code == 200 else response.get_json()["error"]["details"]["problems"]

    # From Tuesday 24 November: the 5th day is Sunday the 29th, so the period runs to Monday the 30th.
    assert problems(bj(date(2026, 11, 29), 17))[0] == {
        "field": "documents_to",
        "rule": "R-T2",
        "code": "too_early",
        "earliest": "2026-11-30",
    }
    assert problems(bj(date(2026, 11, 30), 17)) == []


def test_r_t2_documents_are_obtained_while_available_and_kept(app, client, people, cast, session):
    tender = published(
        client, people, cast, session, bj(date(2026, 12, 21)), docs_to=bj(date(2026, 12, 1), 17, 0)
    )
    documents = client.get(f"/api/v1/tenders/{tender.id}/documents").get_json()["items"]
    url = documents[0]["file_url"]

    def fetch(name, at):
        clock.freeze(at)
        tenderer = people.user(Role.TENDERER, name)
        return client.get(url, headers=auth(people, client, tenderer)), tenderer

    assert fetch("announced", bj(date(2026, 11, 24), 9, 59))[0].status_code == 403  # not out yet
    early, keeper = fetch("first-day", DOCS_FROM)
    assert early.status_code == 200
    assert fetch("last-minute", bj(date(2026, 12, 1), 16, 59))[0].status_code == 200
    closed = fetch("closed", bj(date(2026, 12, 1), 17, 0))[0]
    assert closed.status_code == 403 and closed.get_json()["error"]["details"]["rule"] == "R-T2"
    # A tenderer that obtained them keeps them (and the later changes) after the period.
    clock.freeze(bj(date(2026, 12, 2), 10))
    assert client.get(url, headers=auth(people, client, keeper)).status_code == 200
    assert client.get(url, headers=auth(people, client, cast["agent"])).status_code == 200
    # The notice page links the file only for those it would give it to; the others read when it was out.
    notice = f"/tenders/{tender.id}"
    late = browser(app, people, people.user(Role.TENDERER, "too-late")).get(notice).get_data(as_text=True)
    listing = late[late.index('id="document-list"') :].split("</table>")[0]
    assert f'href="{notice}/documents/' not in listing and "2026年12月1日 17:00" in listing
    kept = browser(app, people, keeper).get(notice).get_data(as_text=True)
    assert f'href="{notice}/documents/' in kept[kept.index('id="document-list"') :].split("</table>")[0]


# -- questions (R-T3) ------------------------------------------------------------------------------


def test_questions_close_at_their_deadline_and_no_later_than_15_days_ahead(client, people, cast, session):
    deadline = bj(date(2026, 12, 21))
    tender_id = drafted(client, people, cast, deadline)
    row = session.get(Tender, uuid.UUID(tender_id))
    row.clarification_deadline = bj(date(2026, 12, 7))  # 14 days before the deadline
    session.commit()
    problems = publish(client, people, cast, tender_id).get_json()["error"]["details"]["problems"]
    assert problems == [
        {"field": "clarification_deadline", "rule": "R-T3", "code": "out_of_window", "latest": "2026-12-06"}
    ]
    tender = published(client, people, cast, session, deadline)  # questions close 5 December 09:30

    def ask(at, name):
        clock.freeze(at)
        return client.post(
            f"/api/v1/tenders/{tender.id}/questions",
            json={"text": "工期是否包含冬季停工期？"},
            headers=auth(people, client, people.user(Role.TENDERER, name)),
        ).status_code

    assert ask(bj(date(2026, 12, 5), 9, 29), "q-before") == 201
    assert ask(bj(date(2026, 12, 5), 9, 30), "q-at") == 409


def test_r_t4_the_publication_page_names_the_earliest_close_in_beijing_time(client, people, cast):
    from tests.bidding.test_views import sign_in

    tender_id = drafted(client, people, cast, bj(date(2026, 12, 21)), objections=bj(date(2026, 12, 6)))
    sign_in(client, people, cast["agent"])
    clock.advance(timedelta(seconds=31))
    response = client.post(
        f"/agency/tenders/{tender_id}/publish", data={"supervisor": "watcher", "notary": "notary"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "R-T4" in page and "2026年12月11日 09:30" in page and "2026-12-11" not in page
