"""Conduct records (不良行为记录): R-R3 debarment bounds per category, publication to everyone, revocation
kept with its reason, the subject's snapshot, and every step in the audit log (R-R1)."""

import hashlib
import io
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from core.roles import Role
from credit.models import ConductRecord
from tests.bidding.test_tenders import auth
from tests.credit.conftest import TODAY, body, create, published


def counts(session):
    session.rollback()
    return (
        session.scalar(select(func.count()).select_from(ConductRecord)),
        session.scalar(select(func.count()).select_from(AuditEntry)),
    )


@pytest.mark.parametrize(
    ("category", "last_day", "ok"),
    [
        # R-R3: collusion and bribery 1-2 years (法53, 条例67); both days inclusive.
        ("collusion", date(2027, 11, 22), True),  # exactly one year
        ("collusion", date(2028, 11, 22), True),  # exactly two years
        ("collusion", date(2027, 11, 21), False),  # a day short of one year
        ("collusion", date(2028, 11, 23), False),  # a day over two years
        ("bribery", date(2028, 6, 1), True),
        ("bribery", date(2029, 1, 1), False),
        # R-R3: fraud (弄虚作假) 1-3 years (法54, 条例68).
        ("fraud", date(2029, 11, 22), True),
        ("fraud", date(2029, 11, 23), False),
        ("fraud", date(2027, 5, 1), False),
    ],
)
def test_r_r3_debarment_length_is_bounded_by_category(
    client, session, sup_headers, offender, category, last_day, ok
):
    before = counts(session)
    response = create(client, sup_headers, offender, category=category, debarred_to=last_day.isoformat())
    if ok:
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["debarment"] == {
            "first_day": "2026-11-23",
            "last_day": last_day.isoformat(),
        }
        return
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "debarment_out_of_bounds"
    assert error["details"]["rule"] == "R-R3" and error["details"]["category"] == category
    assert error["details"]["earliest_last_day"] == "2027-11-22"
    assert counts(session) == before  # nothing written, not even an audit line


def test_r_r3_categories_without_statutory_bounds_and_incomplete_periods(client, sup_headers, people):
    agency = people.org("agency", "某招标代理有限公司")
    response = create(
        client,
        sup_headers,
        agency,
        subject_kind="agency",
        category="agency_misconduct",
        debarred_to=date(2027, 2, 22).isoformat(),
    )
    assert response.status_code == 201, response.get_json()
    response = create(client, sup_headers, agency, subject_kind="agency", debarred_to=None)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "debarment_incomplete"
    response = create(client, sup_headers, agency, subject_kind="agency", debarred_to="2026-11-01")
    assert response.get_json()["error"]["code"] == "debarment_reversed"
    # No debarment at all: a penalty alone is fine.
    response = create(
        client, sup_headers, agency, subject_kind="agency", debarred_from=None, debarred_to=None
    )
    assert response.status_code == 201 and response.get_json()["debarment"] is None


def test_subject_must_exist_and_fit_the_category(client, session, sup_headers, offender, people):
    agency = people.org("agency")
    before = counts(session)
    missing = create(client, sup_headers, offender, subject="91110108MA00000000")
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "subject_not_found"
    wrong_kind = create(client, sup_headers, agency)  # an agency's code given as a tenderer
    assert wrong_kind.get_json()["error"]["code"] == "subject_not_found"
    not_for = create(client, sup_headers, offender, category="expert_misconduct", debarred_to=None)
    assert not_for.get_json()["error"]["code"] == "category_not_for_subject"
    assert counts(session) == before


def test_only_supervisors_record(client, people, offender):
    agent = people.user(Role.AGENCY)
    response = create(client, auth(people, client, agent), offender)
    assert response.status_code == 403


def test_r_r3_published_records_are_public_and_drafts_are_not(client, sup_headers, offender):
    draft = create(client, sup_headers, offender, facts="尚未公布的草稿")
    assert draft.status_code == 201
    draft_id = draft.get_json()["id"]
    shown = published(client, sup_headers, offender)
    anonymous = client.get("/api/v1/conduct-records").get_json()
    assert [r["id"] for r in anonymous["items"]] == [shown["id"]]
    item = anonymous["items"][0]
    assert item["subject"] == {
        "kind": "tenderer",
        "name": "北京串标建设有限公司",
        "identifier": offender.credit_code,
    }
    assert item["standing"] == "debarred" and item["debarment"]["last_day"] == "2027-11-22"
    assert "recorded_by" not in item  # the people involved are for supervisors
    assert client.get(f"/api/v1/conduct-records/{draft_id}").status_code == 404
    assert client.get(f"/api/v1/conduct-records/{shown['id']}").status_code == 200
    # Search by name or by credit code.
    assert client.get("/api/v1/conduct-records?q=串标").get_json()["total"] == 1
    assert client.get(f"/api/v1/conduct-records?q={offender.credit_code.lower()}").get_json()["total"] == 1
    assert client.get("/api/v1/conduct-records?q=无此公司").get_json()["total"] == 0
    # Supervisors see the draft as well.
    assert client.get("/api/v1/conduct-records", headers=sup_headers).get_json()["total"] == 2
    again = client.post(f"/api/v1/conduct-records/{shown['id']}/publish", headers=sup_headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "record_not_draft"


def test_r_r3_a_published_record_keeps_the_name_it_was_published_under(
    client, session, sup_headers, offender
):
    shown = published(client, sup_headers, offender)
    session.rollback()
    offender = session.merge(offender)
    offender.name = "改名后的建设有限公司"
    session.commit()
    item = client.get(f"/api/v1/conduct-records/{shown['id']}").get_json()
    assert item["subject"]["name"] == "北京串标建设有限公司"


def test_revocation_keeps_the_record_with_its_reason(client, session, sup_headers, offender, supervisor):
    shown = published(client, sup_headers, offender)
    path = f"/api/v1/conduct-records/{shown['id']}/revoke"
    assert client.post(path, json={"reason": " "}, headers=sup_headers).status_code == 422
    response = client.post(path, json={"reason": "行政复议撤销原处理决定"}, headers=sup_headers)
    assert response.status_code == 200
    item = client.get(f"/api/v1/conduct-records/{shown['id']}").get_json()
    assert item["status"] == "revoked" and item["standing"] == "revoked"
    assert item["revocation_reason"] == "行政复议撤销原处理决定" and item["revoked_at"]
    assert item["revoked_by"] == supervisor.organization.name
    assert client.get("/api/v1/conduct-records").get_json()["total"] == 1  # still listed
    assert client.post(path, json={"reason": "again"}, headers=sup_headers).status_code == 409
    session.rollback()
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("credit.%")).order_by(AuditEntry.index)
    ).all()
    assert actions == ["credit.conduct_recorded", "credit.conduct_published", "credit.conduct_revoked"]


def test_evidence_is_stored_by_digest_and_downloadable_by_supervisors_and_admins(
    client, people, session, sup_headers, offender
):
    content = "会议纪要与转账凭证".encode() * 100
    data = body(offender)
    data["evidence"] = (io.BytesIO(content), "证据.pdf")
    response = client.post(
        "/api/v1/conduct-records", data=data, headers=sup_headers, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert item["evidence"] == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "name": "证据.pdf",
    }
    path = f"/api/v1/conduct-records/{item['id']}/evidence"
    download = client.get(path, headers=sup_headers)
    assert download.status_code == 200 and download.data == content
    admin = people.user(Role.ADMIN)
    assert client.get(path, headers=auth(people, client, admin)).data == content
    tenderer = people.user(Role.TENDERER)
    assert client.get(path, headers=auth(people, client, tenderer)).status_code == 403
    assert client.get(path).status_code == 401


def test_an_expert_subject_is_snapshotted_with_a_masked_identifier(client, people, session, sup_headers):
    """Experts are named by their pool profile (experts registers the resolver); the identifier shown is
    the masked ID number; the profile is found by its id or by its expert account's user id."""
    from experts import pool
    from tests.experts.conftest import id_number

    user = people.user(Role.EXPERT, "zhangsan-expert")
    pool.add_specialty(session, None, "01", "工程建设")
    expert = pool.create_expert(
        session,
        None,
        pool.Profile(name="张三", id_number=id_number(77), specialties=["01"], username=user.username),
    )
    session.commit()
    expert_body = {
        "subject_kind": "expert",
        "subject": str(user.id),
        "category": "expert_misconduct",
        "facts": "评标时私下接触投标人。",
        "penalty": "暂停评标资格六个月。",
        "debarred_from": TODAY.isoformat(),
        "debarred_to": "2027-05-22",
    }
    response = client.post("/api/v1/conduct-records", json=expert_body, headers=sup_headers)
    assert response.status_code == 201, response.get_json()
    subject = response.get_json()["subject"]
    assert subject["name"] == "张三" and subject["id"] == str(expert.id)
    assert id_number(77) not in subject["identifier"] and "*" in subject["identifier"]
    stranger = client.post(
        "/api/v1/conduct-records", json={**expert_body, "subject": str(uuid.uuid4())}, headers=sup_headers
    )
    assert stranger.status_code == 422 and stranger.get_json()["error"]["code"] == "subject_not_found"
