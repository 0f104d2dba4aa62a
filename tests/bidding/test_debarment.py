"""R-R3: a debarred tenderer cannot open or submit a bid or record a deposit (403 tenderer_debarred,
nothing written); once the debarment has ended, or has been revoked, it can again."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from bidding.models import Bid, Deposit
from core import clock
from core.roles import Role
from credit import services as credit
from tests.bidding.test_ledger import ACCOUNT
from tests.bidding.test_tenders import auth


@pytest.fixture
def bidder(people, session):
    user = people.user(Role.TENDERER, "debarred-bidder")
    user.organization.basic_account_bank, user.organization.basic_account_no = "工商银行北京分行", ACCOUNT
    session.commit()
    return user


def debar(session, cast, org, first: date, last: date, category="other"):
    """A published record debarring ``org`` from ``first`` to ``last`` (Beijing days, inclusive)."""
    supervisor = session.merge(cast["supervisor"])
    record = credit.record_conduct(
        session,
        supervisor,
        credit.ConductInput(
            subject_kind="tenderer",
            subject_ref=org.credit_code,
            category=category,
            facts="提供虚假材料。",
            penalty="暂停投标资格。",
            debarred_from=first,
            debarred_to=last,
        ),
    )
    credit.publish(session, supervisor, record)
    session.commit()
    return record


def writes(session):
    session.rollback()
    return tuple(
        session.scalar(select(func.count()).select_from(model)) for model in (Bid, Deposit, AuditEntry)
    )


def deposit_body(tender, bidder):
    """Money: the tenderer asks where to pay (the bank's statement confirms the payment later)."""
    return {"kind": "money", "lot": 1}


def test_r_r3_a_debarred_tenderer_cannot_bid_or_pay_a_deposit(client, people, session, tender, cast, bidder):
    today = clock.local(clock.now()).date()
    debar(session, cast, bidder.organization, today - timedelta(days=3), today + timedelta(days=7))
    headers = auth(people, client, bidder)
    before = writes(session)
    response = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "tenderer_debarred" and error["details"]["rule"] == "R-R3"
    assert error["details"]["debarred_to"] == (today + timedelta(days=7)).isoformat()
    response = client.post(
        f"/api/v1/tenders/{tender.id}/deposits", json=deposit_body(tender, bidder), headers=headers
    )
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "tenderer_debarred"
    guarantee = {
        "kind": "guarantee",
        "lot": 1,
        "amount": {"amount_fen": tender.lots[0].deposit_fen, "currency": "CNY"},
        "insurer": "某保险公司",
        "policy_number": "P-1",
        "valid_until": (tender.bid_deadline + timedelta(days=90)).isoformat(),
        "file_sha256": "a" * 64,
    }
    response = client.post(f"/api/v1/tenders/{tender.id}/deposits", json=guarantee, headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "tenderer_debarred"
    assert writes(session) == before  # nothing changed, nothing logged


def test_r_r3_a_bid_opened_before_the_debarment_cannot_be_submitted(
    client, people, session, tender, cast, bidder
):
    headers = auth(people, client, bidder)
    response = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert response.status_code == 201
    bid_id = response.get_json()["id"]
    today = clock.local(clock.now()).date()
    debar(session, cast, bidder.organization, today, today + timedelta(days=30))
    response = client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "tenderer_debarred"


def test_r_r3_bidding_is_open_again_after_the_last_day(client, people, session, tender, cast, bidder):
    today = clock.local(clock.now()).date()
    last = today + timedelta(days=2)
    debar(session, cast, bidder.organization, today - timedelta(days=10), last)
    # The last day still counts, to its final minute in Beijing.
    clock.freeze(datetime.combine(last, time(23, 59), clock.SHANGHAI))
    headers = auth(people, client, bidder)
    response = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert response.status_code == 403
    clock.advance(timedelta(minutes=1))  # 00:00 the next day in Beijing
    response = client.post(
        f"/api/v1/tenders/{tender.id}/deposits", json=deposit_body(tender, bidder), headers=headers
    )
    assert response.status_code == 202, response.get_json()
    response = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert response.status_code == 201, response.get_json()


def test_r_r3_a_revoked_debarment_no_longer_stops_bidding(client, people, session, tender, cast, bidder):
    today = clock.local(clock.now()).date()
    record = debar(
        session, cast, bidder.organization, today, today + timedelta(days=365), category="collusion"
    )
    headers = auth(people, client, bidder)
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers).status_code == 403
    )
    credit.revoke(session, session.merge(cast["supervisor"]), session.merge(record), "复议撤销")
    session.commit()
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers).status_code == 201
    )
