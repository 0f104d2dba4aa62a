"""One lifecycle for every page and the API (issue 17): a tender's phase follows its records past the
opening (evaluating, publicity, awarded, contracted), the portal never shows one that contradicts them,
and its three tabs filter and page; the API lists an expert's calls, the parts a sitting member may see,
an expert's employment history for admins, and refuses (and logs, R-E4) name requests for every role."""

import io
import uuid
from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from bidding import lifecycle
from bidding.lifecycle import Phase
from core import clock
from core.roles import Role
from evaluation import award
from evaluation.models import Award, EvaluationReport, Publicity
from tests.bidding.test_tenders import auth
from tests.evaluation.test_committee import _sit_and_submit, drawn  # noqa: F401 (fixture)
from tests.evaluation.test_scoring import put_scheme
from tests.experts.conftest import admin, experts, taxonomy  # noqa: F401 (fixtures)


def _signed(people, session, tender, bids, members, client):
    from evaluation import report

    _sit_and_submit(client, people, session, tender, bids, members)
    chair = members[0]
    report.draft(session, chair, tender)
    session.commit()
    for member in members:
        clock.advance(timedelta(seconds=31))
        report.sign(session, member, tender, code=people.code(member), decision="agree")
        session.commit()
    report.close(session, chair, tender)
    session.commit()


def test_the_phase_follows_the_records_and_the_portal_shows_it(
    client, people, session, cast, opened, committee
):
    tender, bids = opened
    assert lifecycle.phase(tender) == Phase.EVALUATING  # the opening record is signed
    put_scheme(session, tender, committee[0])
    _signed(people, session, tender, bids, committee, client)
    assert lifecycle.phase(tender) == Phase.EVALUATING  # signed, candidates not yet published
    award.publish_candidates(session, cast["agent"], tender)
    session.commit()
    assert lifecycle.phase(tender) == Phase.PUBLICITY
    page = client.get("/tenders/candidates").get_data(as_text=True)
    assert tender.code in page and bids[0][0].user.organization.name in page
    assert "中标候选人公示中" in client.get("/tenders").get_data(as_text=True)
    clock.advance(timedelta(days=5))
    owner = people.user(Role.TENDEREE, "phase-owner", org=cast["tenderee"])
    first = session.get(Publicity, tender.id).candidates[0]["bid"]
    award.decide(session, owner, tender, uuid.UUID(first), "综合得分第一")
    session.commit()
    assert lifecycle.phase(tender) == Phase.AWARDED
    row = session.get(Award, tender.id)
    assert row.award_notice_sha256 and row.result_notice_sha256
    results = client.get("/tenders/results").get_data(as_text=True)
    assert tender.code in results and "result.pdf" in results
    notice = client.get(f"/tenders/{tender.id}/award/result.pdf")
    assert notice.status_code == 200 and notice.mimetype == "application/pdf"
    assert client.get(f"/tenders/{tender.id}/award/award.pdf").status_code == 404  # the winner's, not public
    from core.storage import file_store

    award.record_contract(
        session, owner, tender, io.BytesIO(b"contract"), amount_fen=98_000_000, store=file_store()
    )
    session.commit()
    assert lifecycle.phase(tender) == Phase.CONTRACTED
    api = client.get("/api/v1/tenders", query_string={"q": tender.code}).get_json()
    assert api["items"][0]["phase"] == "contracted"
    assert "合同已签订" in client.get("/tenders").get_data(as_text=True)
    assert session.get(EvaluationReport, tender.id).draft_pdf_sha256


def test_the_portal_filters_and_pages(client, people, session, cast, tender):
    from bidding.models import Tender

    for n in range(23):
        session.add(
            Tender(
                code=f"ZB-2026-8{n:05d}",
                title=f"道路养护项目{n}",
                track="procurement" if n % 2 else "works",
                category="市政" if n < 12 else "信息化",
                region="北京市" if n < 5 else "天津市",
                agency_id=tender.agency_id,
                tenderee_id=tender.tenderee_id,
                created_by_id=cast["agent"].id,
                estimated_price_fen=100_000,
                status="published",
                documents_from=clock.now(),
                documents_to=clock.now() + timedelta(days=10),
                bid_deadline=clock.now() + timedelta(days=25),
                published_at=clock.now() - timedelta(minutes=n),
            )
        )
    session.commit()
    first = client.get("/tenders").get_data(as_text=True)
    assert "共 24 条" in first and "第 1 页，共 2 页" in first and 'href="/tenders?page=2"' in first
    second = client.get("/tenders?page=2").get_data(as_text=True)
    assert "第 2 页，共 2 页" in second
    only = client.get("/tenders", query_string={"region": "北京市", "track": "works"}).get_data(as_text=True)
    assert "共 4 条" in only  # 0, 2, 4 and the tender itself (works, 北京市)
    dated = client.get("/tenders", query_string={"since": "2030-01-01"}).get_data(as_text=True)
    assert "共 0 条" in dated
    bad = client.get("/tenders", query_string={"since": "not-a-date", "page": "99"})
    assert bad.status_code == 200 and "第 2 页" in bad.get_data(as_text=True)


def test_api_parity_for_experts_members_and_admins(client, people, session, cast, drawn):  # noqa: F811
    tender, _bids, members, _others = drawn
    headers = auth(people, client, members[0])
    mine = client.get("/api/v1/experts/me/calls", headers=headers).get_json()["items"]
    assert mine[0]["status"] == "accepted" and mine[0]["room"] == f"/evaluation/{tender.id}"
    clock.advance(timedelta(seconds=31))
    client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/check-in",
        json={"code": people.code(members[0])},
        headers=headers,
    )
    parts = client.get(f"/api/v1/tenders/{tender.id}/evaluation/parts", headers=headers).get_json()
    assert {row["tenderer"] for row in parts["qualification"]} and all(
        "tenderer" not in t for t in parts["technical"]
    )
    key = parts["commercial"][0]["key"]
    got = client.get(
        f"/api/v1/tenders/{tender.id}/evaluation/parts/commercial/{key}/files/1", headers=headers
    )
    assert got.status_code == 200
    admin_user = people.user(Role.ADMIN, "parity-admin")
    from experts.models import Expert

    expert = session.scalar(select(Expert).where(Expert.user_id == members[0].id))
    admin_headers = auth(people, client, admin_user)
    added = client.post(
        f"/api/v1/experts/{expert.id}/employments",
        json={
            "employer_name": "某设计院",
            "employer_credit_code": "91110000100000000A",
            "start_date": "2020-01-01",
        },
        headers=admin_headers,
    )
    assert added.status_code in (201, 422)  # the code's check character decides; either way no 500
    listed = client.get(f"/api/v1/experts/{expert.id}/employments", headers=admin_headers)
    assert listed.status_code == 200 and isinstance(listed.get_json()["items"], list)
    assert client.get(f"/api/v1/experts/{expert.id}/employments", headers=headers).status_code == 403


def test_r_e4_a_tenderers_name_request_is_refused_and_logged(client, people, session, cast, drawn):  # noqa: F811
    tender, bids, _members, _others = drawn
    from experts.models import Draw

    draw = session.scalars(select(Draw).where(Draw.tender_id == tender.id)).first()
    bidder = bids[0][0].user
    for user in (bidder, cast["agent"], people.user(Role.EXPERT, "curious")):
        response = client.get(
            f"/api/v1/draws/{draw.id}", query_string={"names": 1}, headers=auth(people, client, user)
        )
        assert response.status_code in (403, 404)
    session.rollback()
    refused = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "experts.draw_names_refused")
    ).all()
    assert len(refused) == 3
