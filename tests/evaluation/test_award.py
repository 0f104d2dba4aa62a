"""From the signed report to the contract: publicity of the candidates for 3 days with objections that
pause the award (R-A1), the tenderee's decision (R-A2), notices and the 30-day contract (R-A3), and the
deposit refunds (R-D3)."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bidding.calendar import Calendar, last_day
from bidding.models import Deposit, Tender
from core import clock
from core.models import Notification
from core.roles import Role
from evaluation.award import contract_due
from tests.bidding.test_tenders import auth
from tests.evaluation.test_scoring import sheet


@pytest.fixture
def signed(client, people, committee, sitting):
    """Every member scored and signed; the chair closed the report."""
    tender, bids, heads, codes = sitting
    base = f"/api/v1/tenders/{tender.id}/evaluation"
    for headers in heads:
        assert client.post(f"{base}/scores", json=sheet(bids, codes), headers=headers).status_code == 200
    for voter in heads[1:4]:
        client.post(f"{base}/chair", json={"candidate": str(committee[0].id)}, headers=voter)
    assert client.post(f"{base}/report", headers=heads[0]).status_code == 201
    for member, headers in zip(committee, heads, strict=True):
        clock.advance(timedelta(seconds=31))
        signed = client.post(
            f"{base}/report/signatures",
            json={"code": people.code(member), "decision": "agree"},
            headers=headers,
        )
        assert signed.status_code == 201
    assert client.post(f"{base}/report/close", headers=heads[0]).status_code == 200
    clock.advance(timedelta(seconds=31))
    return tender, bids


def _as(client, people, user):
    headers = auth(people, client, user)
    clock.advance(timedelta(seconds=31))
    return headers


def test_r_a1_to_r_a3_publicity_objection_decision_contract_refunds(client, people, session, cast, signed):
    tender, bids = signed
    agency = _as(client, people, cast["agent"])
    published = client.post(f"/api/v1/tenders/{tender.id}/candidates", headers=agency)
    assert published.status_code == 201
    listed = client.get(f"/api/v1/tenders/{tender.id}/candidates").get_json()  # public
    assert [c["rank"] for c in listed["candidates"]] == [1, 2, 3]
    tenderee = people.user(Role.TENDEREE, "award-owner", org=cast["tenderee"])
    owner = _as(client, people, tenderee)
    early = client.post(
        f"/api/v1/tenders/{tender.id}/decision",
        json={"bid": bids[0][1], "reasons": "综合排名第一"},
        headers=owner,
    )
    assert early.status_code == 409 and early.get_json()["error"]["details"]["rule"] == "R-A1"

    # A bidder objects during the publicity; the award waits for the answer (R-A1).
    loser = _as(client, people, bids[2][0].user)
    objected = client.post(
        f"/api/v1/tenders/{tender.id}/objections",
        json={"stage": "publicity", "text": "第一名的项目经理业绩不真实。"},
        headers=loser,
    )
    assert objected.status_code == 201, objected.get_json()
    clock.freeze(clock.now() + timedelta(days=4))  # the publicity is over
    waiting = client.post(
        f"/api/v1/tenders/{tender.id}/decision",
        json={"bid": bids[0][1], "reasons": "综合排名第一"},
        headers=owner,
    )
    assert waiting.status_code == 409 and waiting.get_json()["error"]["code"] == "objection_pending"
    client.post(
        f"/api/v1/tenders/{tender.id}/objections/{objected.get_json()['id']}/answer",
        json={"answer": "经核查业绩真实有效，异议不成立。"},
        headers=_as(client, people, cast["agent"]),
    )
    no_reason = client.post(
        f"/api/v1/tenders/{tender.id}/decision", json={"bid": bids[1][1], "reasons": " "}, headers=owner
    )
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["code"] == "reasons_required"
    decided = client.post(
        f"/api/v1/tenders/{tender.id}/decision",
        json={"bid": bids[1][1], "reasons": "第二名施工方案更适合门诊不停诊要求"},  # 评定分离: not the first
        headers=owner,
    )
    assert decided.status_code == 201, decided.get_json()
    award = decided.get_json()
    assert award["winner"]["bid"] == bids[1][1]
    # R-A3: 30 calendar days from the day after the notice, to midnight ending the last (working) day
    due = contract_due(clock.now(), Calendar.load(session))
    assert datetime.fromisoformat(award["contract_due_at"]) == due
    assert last_day(due) >= clock.local(clock.now()).date() + timedelta(days=30)
    session.rollback()
    notes = {
        b[0].user.id: session.scalars(select(Notification).where(Notification.user_id == b[0].user.id)).all()
        for b in bids
    }
    assert any(tender.code in n.subject for n in notes[bids[1][0].user.id])
    assert all(notes[b[0].user.id] for b in bids)  # award notice to the winner, result notices to the others
    # The contract: all deposits are then refunded (R-D3, works).
    contract = client.post(
        f"/api/v1/tenders/{tender.id}/contract?amount_fen=99000000",
        data="施工合同（已签署）".encode(),
        headers={**_as(client, people, tenderee), "Content-Type": "application/pdf"},
    )
    assert contract.status_code == 201, contract.get_json()
    session.rollback()
    assert {d.status for d in session.scalars(select(Deposit).where(Deposit.tender_id == tender.id))} == {
        "refund_due"
    }
    assert {d.refund_reason for d in session.scalars(select(Deposit))} == {"contract"}


def test_r_a2_state_controlled_projects_award_the_first_candidate(client, people, session, cast, signed):
    tender, bids = signed
    session.get(Tender, tender.id).state_controlled = True
    session.commit()
    client.post(f"/api/v1/tenders/{tender.id}/candidates", headers=_as(client, people, cast["agent"]))
    clock.freeze(clock.now() + timedelta(days=4))
    owner = _as(client, people, people.user(Role.TENDEREE, "soe-owner", org=cast["tenderee"]))
    refused = client.post(
        f"/api/v1/tenders/{tender.id}/decision", json={"bid": bids[1][1], "reasons": "更合适"}, headers=owner
    )
    assert refused.status_code == 422 and refused.get_json()["error"]["details"]["rule"] == "R-A2"
    first = client.get(f"/api/v1/tenders/{tender.id}/candidates").get_json()["candidates"][0]["bid"]
    assert first == bids[0][1]  # the cheapest bid ranks first here
    accepted = client.post(
        f"/api/v1/tenders/{tender.id}/decision",
        json={"bid": first, "reasons": "国有资金占控股地位，第一名中标"},
        headers=owner,
    )
    assert accepted.status_code == 201


def test_r_a4_complaints_within_10_days_and_procurement_challenges_within_7_working_days(
    client, people, session, cast, signed
):
    from bidding.calendar import Calendar, local_date
    from bidding.models import CalendarDay

    tender, bids = signed
    client.post(f"/api/v1/tenders/{tender.id}/candidates", headers=_as(client, people, cast["agent"]))
    loser = bids[2][0].user
    url = f"/api/v1/tenders/{tender.id}/complaints"
    published = clock.now()
    clock.freeze(published + timedelta(days=10, hours=12))  # day 10 after the publicity: still in time
    ok = client.post(url, json={"text": "评标委员会未按评分办法打分。"}, headers=_as(client, people, loser))
    assert ok.status_code == 201 and ok.get_json()["kind"] == "complaint"
    clock.freeze(published + timedelta(days=12))
    late = client.post(url, json={"text": "再次投诉评分问题。"}, headers=_as(client, people, loser))
    assert late.status_code == 409 and late.get_json()["error"]["details"]["rule"] == "R-A4"
    outsider = _as(client, people, people.user(Role.TENDERER, "not-a-bidder"))
    assert client.post(url, json={"text": "我没有投标但想投诉。"}, headers=outsider).status_code == 403
    # The supervising authority answers a complaint; the agency may not.
    complaint_id = ok.get_json()["id"]
    agency_try = client.post(
        f"{url}/{complaint_id}/answer", json={"answer": "已处理"}, headers=_as(client, people, cast["agent"])
    )
    assert agency_try.status_code == 403
    answered = client.post(
        f"{url}/{complaint_id}/answer",
        json={"answer": "经调查，评分符合评分办法，投诉不成立。"},
        headers=_as(client, people, cast["supervisor"]),
    )
    assert answered.status_code == 200
    # Procurement counts 7 working days: a holiday in between pushes the end out.
    session.get(Tender, tender.id).track = "procurement"
    session.add(CalendarDay(day=local_date(published) + timedelta(days=2), kind="holiday", name="测试假日"))
    session.commit()
    from evaluation.complaints import deadline

    due = deadline(session, session.get(Tender, tender.id), published)
    expected = Calendar.load(session).add_working_days(local_date(published), 7)
    assert local_date(due - timedelta(seconds=1)) == expected
    assert expected >= local_date(published) + timedelta(days=10)  # a weekend and the holiday skipped
