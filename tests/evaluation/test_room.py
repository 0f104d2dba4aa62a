"""The evaluation room: seating (R-E1), agency staff kept out (R-E6), check-in with a fresh code and the
address logged, blind technical parts with identity-leak findings (暗标), the chair, conflicts (R-E5)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from bidding.models import Tender
from core import clock
from core.errors import Invalid
from core.models import Notification
from core.roles import Role
from crypto import bidpack
from evaluation import room
from tests.bidding.test_bids import Tenderer, new_bid
from tests.bidding.test_ledger import pay
from tests.bidding.test_opening import decrypt, file_keys, start
from tests.bidding.test_tenders import auth


def _submit(client, people, session, tender, tmp_path, name, *, leak=False, price_fen=None, extra=None):
    """A bid with a deposit; with ``leak`` its technical part names its own company; ``extra`` adds
    files to each part ({part: {name: bytes}})."""
    bidder = Tenderer(people, session, name)
    org_name = bidder.user.organization.name
    pay(session, bidder.user, tender)
    headers = auth(people, client, bidder.user)
    bid_id = new_bid(client, headers, tender)
    sealed = {}
    for part in bidpack.PARTS:
        content = b"x"
        if part == "technical":
            content = f"本技术标由{org_name}编制".encode() if leak else "本技术标：施工组织设计".encode()
        body, signature = bidder.seal(
            tmp_path, tender, part, content=content, price_fen=price_fen, extra=(extra or {}).get(part)
        )
        sealed[part] = body
        response = client.put(
            f"/api/v1/tenders/{tender.id}/bids/{bid_id}/parts/{part}",
            data=body,
            headers={**headers, "X-Bid-Signature": signature},
        )
        assert response.status_code == 201
    assert (
        client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers).status_code == 201
    )
    clock.advance(timedelta(seconds=31))
    session.commit()
    return bidder, bid_id, sealed


@pytest.fixture
def opened(client, people, cast, session, tender, tmp_path):
    """A tender whose opening is closed with three opened bids; the first names itself in its
    technical part (a leak the scan must find)."""
    submitted = [
        _submit(client, people, session, tender, tmp_path, "leaky", leak=True, price_fen=98_000_000),
        _submit(client, people, session, tender, tmp_path, "quiet1", price_fen=99_000_000),
        _submit(client, people, session, tender, tmp_path, "quiet2", price_fen=100_000_000),
    ]
    start(client, people, cast, tender)
    for bidder, bid_id, sealed in submitted:
        response = decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
        assert response.status_code == 200
    closed = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=auth(people, client, cast["agent"])
    )
    assert closed.status_code == 200, closed.get_json()
    clock.advance(timedelta(seconds=31))
    session.rollback()
    return session.get(Tender, tender.id), submitted


@pytest.fixture
def committee(people, session, cast, opened):
    tender, _bids = opened
    experts = [people.user(Role.EXPERT, f"room-expert{n}") for n in range(4)]
    representative = people.user(Role.TENDEREE, "room-rep", org=cast["tenderee"], with_totp=True)
    room.seat(session, tender, [(e, "expert") for e in experts] + [(representative, "tenderee_rep")])
    session.commit()
    return [*experts, representative]


def _token(client, people, user):
    headers = auth(people, client, user)
    clock.advance(timedelta(seconds=31))  # the code used for the token is spent: check-in needs the next
    return headers


def _check_in(client, people, tender, user, headers=None):
    headers = headers or _token(client, people, user)
    response = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/check-in", json={"code": people.code(user)}, headers=headers
    )
    clock.advance(timedelta(seconds=31))
    return response, headers


def test_r_e1_the_committee_is_odd_at_least_five_and_two_thirds_experts(people, session, cast, opened):
    tender, _bids = opened
    experts = [people.user(Role.EXPERT, f"e1-{n}") for n in range(6)]
    rep = people.user(Role.TENDEREE, "e1-rep", org=cast["tenderee"])
    rep2 = people.user(Role.TENDEREE, "e1-rep2", org=cast["tenderee"])
    for members, code in (
        ([(e, "expert") for e in experts[:4]], "committee_too_small"),
        ([(e, "expert") for e in experts], "committee_not_odd"),
        (
            [(e, "expert") for e in experts[:3]] + [(rep, "tenderee_rep"), (rep2, "tenderee_rep")],
            "one_tenderee_representative",
        ),
    ):
        with pytest.raises(Invalid) as refused:
            room.seat(session, tender, members)
        assert code in {p["code"] for p in refused.value.details["problems"]}
    with pytest.raises(Invalid) as refused:  # R-E6: agency staff never sit
        room.seat(session, tender, [(e, "expert") for e in experts[:4]] + [(cast["agent"], "expert")])
    assert refused.value.code == "agency_not_allowed"


def test_check_in_needs_a_fresh_code_and_logs_the_address(client, people, session, opened, committee):
    tender, _bids = opened
    expert = committee[0]
    headers = auth(people, client, expert)  # this code is now spent
    replayed = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/check-in",
        json={"code": people.code(expert)},
        headers=headers,
    )
    assert replayed.status_code == 401 and replayed.get_json()["error"]["code"] == "totp_replayed"
    early = client.get(f"/api/v1/tenders/{tender.id}/evaluation/technical", headers=headers)
    assert early.status_code == 403 and early.get_json()["error"]["code"] == "check_in_required"
    clock.advance(timedelta(seconds=31))
    response, _ = _check_in(client, people, tender, expert, headers)
    assert response.status_code == 200, response.get_json()
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "evaluation.checked_in")).one()
    assert entry.actor_id == expert.id and entry.ip == "127.0.0.1"


def test_r_e6_agency_staff_cannot_enter(client, people, cast, opened, committee):
    tender, _bids = opened
    headers = auth(people, client, cast["agent"])
    for method, path in (("get", ""), ("post", "/check-in"), ("get", "/technical")):
        response = getattr(client, method)(
            f"/api/v1/tenders/{tender.id}/evaluation{path}", json={}, headers=headers
        )
        assert response.status_code == 403, path


def test_blind_codes_hide_the_bidders_and_findings_flag_the_leak(client, people, session, opened, committee):
    tender, bids = opened
    expert = committee[1]
    _response, headers = _check_in(client, people, tender, expert)
    view = client.get(f"/api/v1/tenders/{tender.id}/evaluation/technical", headers=headers)
    assert view.status_code == 200
    items = view.get_json()["items"]
    assert sorted(i["code"] for i in items) == ["T01", "T02", "T03"]
    text = json.dumps(view.get_json(), ensure_ascii=False)
    for bidder, bid_id, _sealed in bids:  # nothing that maps a code back to a bidder
        org = bidder.user.organization
        assert org.name not in text and org.credit_code not in text and bid_id not in text
    leaks = [i for i in items if i["findings"]]
    assert len(leaks) == 1 and leaks[0]["findings"] == [{"file": 1, "kind": "name_in_text", "field": None}]
    download = client.get(
        f"/api/v1/tenders/{tender.id}/evaluation/technical/{leaks[0]['code']}/files/1", headers=headers
    )
    assert download.status_code == 200 and "本技术标由".encode() in download.data
    assert leaks[0]["code"] in download.headers["Content-Disposition"]
    assert bids[0][0].user.organization.name.encode() not in download.headers["Content-Disposition"].encode()


def test_chair_and_r_e5_conflict(client, people, session, cast, opened, committee):
    tender, bids = opened
    heads = {}
    for user in committee:
        response, heads[user.id] = _check_in(client, people, tender, user)
        assert response.status_code == 200
    chair = committee[0]
    # R-E5: a member with a conflict leaves; the agency is told to have a replacement drawn.
    leaving = committee[4]
    response = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/conflicts",
        json={"bids": [bids[1][1]], "reason": "三年内曾在该投标人任职"},
        headers=heads[leaving.id],
    )
    assert response.status_code == 200
    gone = client.get(f"/api/v1/tenders/{tender.id}/evaluation/technical", headers=heads[leaving.id])
    assert gone.status_code == 403 and gone.get_json()["error"]["code"] == "member_replaced"
    session.rollback()
    assert session.scalars(select(Notification).where(Notification.user_id == cast["agent"].id)).first()
    # The chair: a majority of the four sitting members (3 votes).
    for voter, expected in ((committee[1], None), (committee[2], None), (committee[3], str(chair.id))):
        response = client.post(
            f"/api/v1/tenders/{tender.id}/evaluation/chair",
            json={"candidate": str(chair.id)},
            headers=heads[voter.id],
        )
        assert response.get_json()["chair"] == expected
    overview = client.get(f"/api/v1/tenders/{tender.id}/evaluation", headers=heads[chair.id]).get_json()
    assert overview["chair"] == str(chair.id)
    assert [m["replaced"] for m in overview["members"]].count(True) == 1
    assert "check_in_ip" not in overview["members"][0]  # addresses are for supervisors
    supervisor = client.get(
        f"/api/v1/tenders/{tender.id}/evaluation", headers=auth(people, client, cast["supervisor"])
    ).get_json()
    assert supervisor["members"][0]["check_in_ip"] == "127.0.0.1"
