"""Tenders from draft to published notice: timeline rules R-T1, R-T2, R-T3, R-T4, R-T6, deposit cap R-D1,
the opening key split among custodians, and who sees what."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from bidding import lifecycle
from bidding.calendar import Calendar
from bidding.models import CalendarDay, CustodianShare, Tender
from core import clock
from core.keys import ColumnCipher
from core.roles import Role
from crypto import age, opening

SHANGHAI_10AM = timedelta(hours=2)  # 10:00 Beijing time is 02:00 UTC


def at(day: date, hour_utc: int = 2) -> str:
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC).isoformat()


def body(
    tenderee,
    start: date,
    *,
    deadline_days=25,
    docs_days=6,
    objection_days=10,
    question_days=16,
    deposit_fen=2_000_000,
    estimate_fen=100_000_000,
    **extra,
):
    deadline = start + timedelta(days=deadline_days)
    return {
        "title": "市人民医院门诊楼改扩建工程施工",
        "track": "works",
        "category": "房屋建筑",
        "region": "北京市",
        "tenderee_id": str(tenderee.id),
        "estimated_price": {"amount_fen": estimate_fen, "currency": "CNY"},
        "deposit": {"amount_fen": deposit_fen, "currency": "CNY"},
        "timeline": {
            "documents_from": at(start),
            "documents_to": at(start + timedelta(days=docs_days)),
            "clarification_deadline": at(deadline - timedelta(days=question_days)),
            "objection_deadline": at(deadline - timedelta(days=objection_days)),
            "bid_deadline": at(deadline, 1),
        },  # 09:00 Beijing
        **extra,
    }


def auth(people, client, user):
    return {"Authorization": f"Bearer {people.token(client, user)}"}


def draft(client, people, cast, *, with_documents=True, **kwargs):
    start = clock.now().date() + timedelta(days=1)
    headers = auth(people, client, cast["agent"])
    response = client.post("/api/v1/tenders", json=body(cast["tenderee"], start, **kwargs), headers=headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    if with_documents:
        uploaded = client.post(
            f"/api/v1/tenders/{created['id']}/documents?filename=招标文件.pdf&title=招标文件",
            data="第一章 招标公告 …".encode() * 100,
            headers={**headers, "Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.get_json()
    clock.advance(timedelta(seconds=31))  # the next TOTP step for the next token
    return created


def publish(client, people, cast, tender_id, **extra):
    response = client.post(
        f"/api/v1/tenders/{tender_id}/publish",
        json={"supervisor": "watcher", "notary": "notary", **extra},
        headers=auth(people, client, cast["agent"]),
    )
    clock.advance(timedelta(seconds=31))
    return response


def test_agency_drafts_and_publishes_with_a_split_opening_key(app, client, people, cast, session):
    tender = draft(client, people, cast)
    assert tender["code"].startswith("ZB-2026-") and tender["status"] == "draft"
    assert client.get(f"/api/v1/tenders/{tender['id']}").status_code == 404  # drafts are not public
    response = publish(client, people, cast, tender["id"], notary="notary")
    assert response.status_code == 200, response.get_json()
    published = client.get(f"/api/v1/tenders/{tender['id']}").get_json()
    assert published["status"] == "published" and published["phase"] == "announced"
    key = client.get(f"/api/v1/tenders/{tender['id']}/opening-key").get_json()
    assert key["threshold"] == 2 and [c["role"] for c in key["custodians"]] == [
        "agency",
        "supervisor",
        "notary",
    ]
    # Any two custodians reconstruct the key; it matches the published recipient (R-B4 needs two).
    session.rollback()
    shares = session.scalars(
        select(CustodianShare).where(CustodianShare.tender_id == Tender.id).order_by(CustodianShare.x)
    ).all()
    by_role = {s.role: s for s in shares}
    # At rest each share is sealed to its custodian and wrapped again with the platform's data key.
    cipher = ColumnCipher(app.config["DATA_KEY"])
    opened = [
        opening.open_share(
            opening.SealedShare(s.role, s.x, cipher.open("custodian-share", s.sealed), s.share_sha256),
            cast["identities"][name],
        )
        for s, name in ((by_role["agency"], "agent"), (by_role["notary"], "notary"))
    ]
    with pytest.raises(age.AgeError):  # a copy of the database alone opens no share
        opening.open_share(
            opening.SealedShare("agency", 1, by_role["agency"].sealed, by_role["agency"].share_sha256),
            cast["identities"]["agent"],
        )
    identity = opening.reconstruct(opened, age.Recipient.parse(key["recipient"]))
    assert str(identity.recipient) == key["recipient"]
    with pytest.raises(Exception, match="share"):
        opening.reconstruct(opened[:1], age.Recipient.parse(key["recipient"]))
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.tender_published")).one()
    assert key["recipient"].encode() in logged.leaf and b"share_sha256" in logged.leaf


def test_r_t1_bid_deadline_at_least_20_days_after_documents(client, people, cast):
    tender = draft(client, people, cast, deadline_days=19, objection_days=10, question_days=15)
    response = publish(client, people, cast, tender["id"])
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert {"field": "bid_deadline", "rule": "R-T1"}.items() <= problems[0].items()


def test_r_t2_documents_available_at_least_5_days(client, people, cast):
    tender = draft(client, people, cast, docs_days=4)
    problems = publish(client, people, cast, tender["id"]).get_json()["error"]["details"]["problems"]
    assert [p["rule"] for p in problems] == ["R-T2"]


def test_r_t4_objections_close_no_earlier_than_10_days_before_the_deadline(client, people, cast):
    # 15 days before the deadline cuts the statutory window short: refused, naming the earliest close.
    tender = draft(client, people, cast, objection_days=15)
    (problem,) = publish(client, people, cast, tender["id"]).get_json()["error"]["details"]["problems"]
    assert (problem["field"], problem["rule"], problem["code"]) == ("objection_deadline", "R-T4", "too_early")
    # 9 days before gives tenderers more time than the statute: allowed.
    generous = draft(client, people, cast, objection_days=9)
    assert publish(client, people, cast, generous["id"]).status_code == 200


def test_r_t3_questions_close_15_days_before_the_deadline(client, people, cast):
    tender = draft(client, people, cast, question_days=14)
    problems = publish(client, people, cast, tender["id"]).get_json()["error"]["details"]["problems"]
    assert [p["rule"] for p in problems] == ["R-T3"]


def test_r_t6_a_period_ending_on_a_holiday_runs_to_the_next_working_day():
    # 2026: 国庆 1-7 October are holidays, Sunday 27 September and Saturday 10 October are working days.
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    calendar = Calendar(holidays, [date(2026, 9, 27), date(2026, 10, 10)])
    # Documents from 11 September: day 20 is 1 October, a holiday -> the period ends on 8 October.
    assert calendar.period_end(date(2026, 9, 11), 20) == date(2026, 10, 8)
    # The first day is not counted and "at least N" includes day N: 2 Nov + 20 days = 22 Nov, a Sunday.
    assert calendar.period_end(date(2026, 11, 2), 20) == date(2026, 11, 23)
    assert calendar.is_working_day(date(2026, 10, 10))  # a Saturday made a working day
    assert calendar.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_r_t6_holidays_from_the_calendar_move_the_earliest_deadline(client, people, cast, session):
    start = clock.now().date() + timedelta(days=1)
    day20 = start + timedelta(days=20)
    session.add(CalendarDay(day=day20, kind="holiday", name="测试假日"))
    session.commit()
    tender = draft(client, people, cast, deadline_days=20, objection_days=10, question_days=15)
    problems = publish(client, people, cast, tender["id"]).get_json()["error"]["details"]["problems"]
    assert problems[0]["rule"] == "R-T1" and problems[0]["earliest"] > day20.isoformat()


def test_r_d1_deposit_at_most_2_percent_of_the_estimate(client, people, cast):
    response = client.post(
        "/api/v1/tenders",
        json=body(cast["tenderee"], date(2026, 12, 1), deposit_fen=2_000_001),
        headers=auth(people, client, cast["agent"]),
    )
    assert response.status_code == 422
    problem = response.get_json()["error"]["details"]["problems"][0]
    assert problem["rule"] == "R-D1" and problem["max_fen"] == 2_000_000


def test_publication_needs_custodian_keys(client, people, cast, session):
    lazy = people.user(Role.SUPERVISOR, "lazy")
    tender = draft(client, people, cast)
    response = publish(client, people, cast, tender["id"], supervisor="lazy")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "custodian_key_missing"
    assert lazy.custodian_recipient is None


def test_only_the_tenders_agency_manages_it(client, people, cast):
    tender = draft(client, people, cast)
    other_agent = people.user(Role.AGENCY, "other-agent")
    response = client.patch(
        f"/api/v1/tenders/{tender['id']}",
        json=body(cast["tenderee"], date(2026, 12, 1)),
        headers=auth(people, client, other_agent),
    )
    assert response.status_code == 404
    tenderer = people.user(Role.TENDERER, "nosy")
    assert client.post("/api/v1/tenders", json={}, headers=auth(people, client, tenderer)).status_code == 403


def test_published_tenders_cannot_be_edited_as_drafts(client, people, cast):
    tender = draft(client, people, cast)
    assert publish(client, people, cast, tender["id"]).status_code == 200
    response = client.patch(
        f"/api/v1/tenders/{tender['id']}",
        json=body(cast["tenderee"], date(2026, 12, 1)),
        headers=auth(people, client, cast["agent"]),
    )
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "tender_not_draft"


def test_portal_search_finds_chinese_words_and_hides_drafts(client, people, cast):
    published = draft(client, people, cast)
    publish(client, people, cast, published["id"])
    draft(client, people, cast, title="另一个草稿项目名称")
    found = client.get("/api/v1/tenders", query_string={"q": "门诊楼"}).get_json()
    assert found["total"] == 1 and found["items"][0]["id"] == published["id"]
    assert client.get("/api/v1/tenders", query_string={"q": "草稿"}).get_json()["total"] == 0
    assert client.get("/api/v1/tenders", query_string={"q": "100%"}).get_json()["total"] == 0


def test_phase_follows_the_clock(client, people, cast, session):
    tender = draft(client, people, cast)
    publish(client, people, cast, tender["id"])
    row = session.get(Tender, uuid.UUID(tender["id"]))
    assert lifecycle.phase(row, clock.now()) == lifecycle.Phase.ANNOUNCED
    assert lifecycle.phase(row, row.documents_from) == lifecycle.Phase.BIDDING
    assert lifecycle.phase(row, row.bid_deadline) == lifecycle.Phase.OPENING
