"""Tender documents and downloads (R-T2), clarifications and amendments with the deadline extension
(R-T3), questions answered without naming the asker, and objections that pause the tender (R-T4)."""

import base64
import json
import uuid
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from bidding.calendar import Calendar, local_date
from bidding.models import Tender
from core import clock
from core.models import Notification, OutboxMessage
from core.roles import Role
from crypto.canonical import canonical_json
from tests.bidding.test_bids import Tenderer, new_bid
from tests.bidding.test_tenders import auth, draft, publish


def _documents(client, tender_id):
    response = client.get(f"/api/v1/tenders/{tender_id}/documents")
    assert response.status_code == 200
    return response.get_json()["items"]


def test_r_t2_a_notice_is_published_with_its_documents(client, people, cast, session):
    body = draft(client, people, cast, with_documents=False)
    refused = publish(client, people, cast, body["id"])
    assert refused.status_code == 422
    problems = refused.get_json()["error"]["details"]["problems"]
    assert {"field": "documents", "rule": "R-T2", "code": "missing"} in problems
    assert client.get(f"/api/v1/tenders/{body['id']}").status_code == 404  # still a draft: nothing changed


def test_documents_carry_hashes_and_a_signed_statement(client, people, cast, tender):
    (document,) = _documents(client, tender.id)
    assert document["kind"] == "documents" and document["version"] == 1 and len(document["sha256"]) == 64
    statement = json.loads(client.get(document["statement_url"]).data)
    key = load_pem_public_key(client.get("/api/v1/receipt-key").data)
    key.verify(base64.b64decode(statement["signature"]), canonical_json(statement["statement"]))
    assert statement["statement"]["sha256"] == document["sha256"]
    assert statement["statement"]["code"] == tender.code
    # After publication the documents change only through a clarification or amendment.
    late = client.post(
        f"/api/v1/tenders/{tender.id}/documents?filename=x.pdf",
        data=b"more",
        headers={**auth(people, client, cast["agent"]), "Content-Type": "application/pdf"},
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "tender_not_draft"


def test_r_t2_downloads_are_recorded_and_seen_only_by_agency_and_tenderee(
    client, people, cast, session, tender
):
    (document,) = _documents(client, tender.id)
    assert client.get(document["file_url"]).status_code == 401  # signed in, but no other registration step
    bidder = Tenderer(people, session, "downloader")
    response = client.get(document["file_url"], headers=auth(people, client, bidder.user))
    assert response.status_code == 200 and response.headers["X-Content-SHA256"] == document["sha256"]
    clock.advance(timedelta(seconds=31))
    seen = client.get(f"/api/v1/tenders/{tender.id}/downloads", headers=auth(people, client, cast["agent"]))
    assert [row["organization"] for row in seen.get_json()["items"]] == [bidder.user.organization.name]
    tenderee_user = people.user(Role.TENDEREE, "owner", org=cast["tenderee"])
    clock.advance(timedelta(seconds=31))
    assert (
        client.get(
            f"/api/v1/tenders/{tender.id}/downloads", headers=auth(people, client, tenderee_user)
        ).status_code
        == 200
    )
    # Before the deadline nobody else learns who or how many downloaded: not a tenderer, not a supervisor.
    for outsider in (Tenderer(people, session, "curious").user, cast["supervisor"]):
        clock.advance(timedelta(seconds=31))
        refused = client.get(f"/api/v1/tenders/{tender.id}/downloads", headers=auth(people, client, outsider))
        assert refused.status_code == 403, outsider.role
    assert "downloader" not in client.get(f"/api/v1/tenders/{tender.id}").get_data(as_text=True)


def _amend(client, people, cast, tender, **body):
    response = client.post(
        f"/api/v1/tenders/{tender.id}/amendments",
        json={"title": "第二章 技术要求修改", "body": "钢筋规格改为HRB400E。", **body},
        headers=auth(people, client, cast["agent"]),
    )
    clock.advance(timedelta(seconds=31))
    return response


def test_r_t3_a_late_amendment_moves_the_deadline_and_downloaders_hear_of_it(
    client, people, cast, session, tender
):
    bidder = Tenderer(people, session, "reader")
    (document,) = _documents(client, tender.id)
    client.get(document["file_url"], headers=auth(people, client, bidder.user))
    clock.advance(timedelta(seconds=31))
    old_deadline = tender.bid_deadline
    clock.freeze(old_deadline - timedelta(days=10))  # only 10 days left: a change needs 15
    response = _amend(client, people, cast, tender)
    assert response.status_code == 201, response.get_json()
    issued = response.get_json()
    session.expire_all()
    row = session.get(Tender, tender.id)
    earliest = Calendar.load(session).period_end(local_date(clock.now()), 15)  # R-T3 counted as R-T6 says
    assert local_date(row.bid_deadline) == earliest
    assert clock.local(row.bid_deadline).time() == clock.local(old_deadline).time()
    assert issued["deadline_before"] == old_deadline.isoformat()
    assert issued["deadline_after"] == row.bid_deadline.isoformat()
    notes = session.scalars(select(Notification).where(Notification.user_id == bidder.user.id)).all()
    assert len(notes) == 1 and tender.code in notes[0].subject
    mails = session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == bidder.user.id)).all()
    assert len(mails) == 1 and mails[0].recipient == bidder.user.email
    assert [d["kind"] for d in _documents(client, tender.id)] == ["documents", "amendment"]


def test_r_t3_an_early_or_harmless_change_keeps_the_deadline(client, people, cast, session, tender):
    deadline = tender.bid_deadline
    assert _amend(client, people, cast, tender).get_json()["deadline_after"] is None  # 24 days ahead: enough
    clock.freeze(deadline - timedelta(days=3))
    harmless = _amend(client, people, cast, tender, kind="clarification", affects_bids=False)
    assert harmless.status_code == 201 and harmless.get_json()["deadline_after"] is None
    session.expire_all()
    assert session.get(Tender, tender.id).bid_deadline == deadline
    clock.freeze(deadline)
    late = _amend(client, people, cast, tender)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "deadline_passed"


def test_questions_are_answered_to_everyone_without_the_asker(client, people, cast, session, tender):
    asker = Tenderer(people, session, "asker")
    other = Tenderer(people, session, "other")
    asked = client.post(
        f"/api/v1/tenders/{tender.id}/questions",
        json={"text": "第三章工期要求是否包含冬季停工期？"},
        headers=auth(people, client, asker.user),
    )
    assert asked.status_code == 201
    clock.advance(timedelta(seconds=31))
    assert client.get(f"/api/v1/tenders/{tender.id}/questions").get_json()["items"] == []  # pending: private
    agency_view = client.get(
        f"/api/v1/tenders/{tender.id}/questions", headers=auth(people, client, cast["agent"])
    )
    (pending,) = agency_view.get_json()["items"]
    assert asker.user.organization.name not in json.dumps(agency_view.get_json())
    clock.advance(timedelta(seconds=31))
    answered = client.post(
        f"/api/v1/tenders/{tender.id}/questions/answer",
        json={"questions": [pending["id"]], "answer": "包含，冬季停工期计入总工期。"},
        headers=auth(people, client, cast["agent"]),
    )
    assert answered.status_code == 201 and answered.get_json()["kind"] == "clarification"
    clock.advance(timedelta(seconds=31))
    public = client.get(f"/api/v1/tenders/{tender.id}/questions", headers=auth(people, client, other.user))
    (item,) = public.get_json()["items"]
    assert item["answered"] and not item["mine"]
    everything = json.dumps(public.get_json()) + json.dumps(_documents(client, tender.id), ensure_ascii=False)
    assert "冬季停工期计入总工期" in everything and asker.user.organization.name not in everything
    clock.freeze(tender.clarification_deadline)
    clock.advance(timedelta(seconds=31))
    late = client.post(
        f"/api/v1/tenders/{tender.id}/questions",
        json={"text": "还能提问吗？请回复。"},
        headers=auth(people, client, other.user),
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "clarification_deadline_passed"


def test_r_t4_an_objection_pauses_the_tender_until_answered(client, people, cast, session, tender):
    objector = Tenderer(people, session, "objector")
    bidder = Tenderer(people, session, "waiting")
    raised = client.post(
        f"/api/v1/tenders/{tender.id}/objections",
        json={"stage": "documents", "text": "资格条件要求特定品牌，排斥潜在投标人。"},
        headers=auth(people, client, objector.user),
    )
    assert raised.status_code == 201 and raised.get_json()["paused"] is True
    due = raised.get_json()["answer_due_at"]
    expected_day = Calendar.load(session).period_end(local_date(clock.now()), 3)
    assert (
        local_date(datetime.fromisoformat(due) - timedelta(seconds=1)) == expected_day
    )  # within 3 days (R-T4)
    clock.advance(timedelta(seconds=31))
    headers = auth(people, client, bidder.user)
    refused = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "tender_paused"
    (objection,) = client.get(
        f"/api/v1/tenders/{tender.id}/objections", headers=auth(people, client, cast["agent"])
    ).get_json()["items"]
    assert objection["raised_by"] == objector.user.organization.name
    clock.advance(timedelta(seconds=31))
    answered = client.post(
        f"/api/v1/tenders/{tender.id}/objections/{objection['id']}/answer",
        json={"answer": "已删除品牌要求，见修改通知。"},
        headers=auth(people, client, cast["agent"]),
    )
    assert answered.status_code == 200 and answered.get_json()["paused"] is False
    clock.advance(timedelta(seconds=31))
    assert new_bid(client, auth(people, client, bidder.user), tender)  # bidding resumes
    session.rollback()  # a fresh snapshot: see what the requests wrote
    mine = session.scalars(select(Notification).where(Notification.user_id == objector.user.id)).all()
    assert len(mine) == 1 and "已删除品牌要求" in mine[0].body
    # Another tenderer sees neither the objection nor who raised it.
    clock.advance(timedelta(seconds=31))
    theirs = client.get(f"/api/v1/tenders/{tender.id}/objections", headers=auth(people, client, bidder.user))
    assert theirs.get_json()["items"] == []


def test_r_t4_objections_close_ten_days_before_the_deadline(client, people, session, tender):
    objector = Tenderer(people, session, "too-late")
    clock.freeze(tender.objection_deadline)
    response = client.post(
        f"/api/v1/tenders/{tender.id}/objections",
        json={"stage": "documents", "text": "评分标准不合理，请修改。"},
        headers=auth(people, client, objector.user),
    )
    assert response.status_code == 409 and response.get_json()["error"]["details"]["rule"] == "R-T4"
    session.expire_all()
    assert session.get(Tender, tender.id).paused_at is None


def test_unknown_documents_and_objections_are_404(client, people, cast, tender):
    missing = uuid.uuid4()
    assert client.get(f"/api/v1/tenders/{tender.id}/documents/{missing}/statement").status_code == 404
    response = client.post(
        f"/api/v1/tenders/{tender.id}/objections/{missing}/answer",
        json={"answer": "无此异议的答复内容"},
        headers=auth(people, client, cast["agent"]),
    )
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "objection_not_found"


def test_r_t2_documents_download_only_inside_their_window(client, people, cast, session, tender):
    (document,) = _documents(client, tender.id)
    bidder = Tenderer(people, session, "window")
    headers = auth(people, client, bidder.user)

    def fetch(who=headers):
        return client.get(document["file_url"], headers=who)

    clock.freeze(tender.documents_from - timedelta(minutes=1))
    early = fetch()
    assert early.status_code == 403 and early.get_json()["error"]["code"] == "documents_not_yet_available"
    assert early.get_json()["error"]["details"]["rule"] == "R-T2"
    clock.freeze(tender.documents_from)
    assert fetch().status_code == 200
    clock.freeze(tender.documents_to - timedelta(seconds=1))
    assert fetch().status_code == 200
    clock.freeze(tender.documents_to)
    assert fetch().status_code == 200  # a company that obtained the documents keeps them
    latecomer = Tenderer(people, session, "window-late")
    late = fetch(auth(people, client, latecomer.user))
    assert late.status_code == 403 and late.get_json()["error"]["code"] == "documents_no_longer_available"
    # The notice page says why instead of offering a link that fails.
    from core.present import when
    from tests.factories import PASSWORD

    client.post("/sign-in", data={"username": latecomer.user.username, "password": PASSWORD})
    page = client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert f'href="/tenders/{tender.id}/documents/{document["id"]}"' not in page
    with client.application.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert when(tender.documents_to) in page
    # The tender's agency still may (its own file), and so may the supervisor (oversight).
    clock.advance(timedelta(seconds=31))
    assert fetch(auth(people, client, cast["agent"])).status_code == 200
    clock.advance(timedelta(seconds=31))
    assert fetch(auth(people, client, cast["supervisor"])).status_code == 200
