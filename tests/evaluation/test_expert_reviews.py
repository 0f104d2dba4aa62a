"""一标一评 (R-R4): after an evaluation the supervisor reviews each expert who sat, with the evaluation's
facts attached; the reviews and conduct records make the credit score; repeated poor reviews suspend."""

from datetime import timedelta

from core import clock
from experts import pool
from experts.models import Expert, ExpertReview
from tests.bidding.test_tenders import auth
from tests.evaluation.test_scoring import sheet
from tests.experts.conftest import id_number


def _profile(session, user):
    pool.add_specialty(session, None, "01", "工程建设")
    expert = pool.create_expert(
        session,
        None,
        pool.Profile(
            name=user.display_name, id_number=id_number(901), specialties=["01"], username=user.username
        ),
    )
    session.commit()
    return expert


def test_r_r4_review_with_facts_credit_score_and_suspension(
    client, people, session, cast, committee, sitting
):
    tender, bids, heads, codes = sitting
    odd = sheet(bids, codes)
    odd["scores"][codes[0]]["T1"] = "5"
    for n, headers in enumerate(heads):
        client.post(
            f"/api/v1/tenders/{tender.id}/evaluation/scores",
            json=odd if n == 1 else sheet(bids, codes),
            headers=headers,
        )
    expert = _profile(session, committee[1])
    supervisor = auth(people, client, cast["supervisor"])
    url = f"/api/v1/experts/{expert.id}/reviews"
    bad = client.post(
        url,
        json={
            "tender": str(tender.id),
            "punctuality": 6,
            "independence": 2,
            "competence": 2,
            "discipline": 2,
        },
        headers=supervisor,
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["fields"] == ["punctuality"]
    poor = {
        "tender": str(tender.id),
        "punctuality": 3,
        "independence": 1,
        "competence": 2,
        "discipline": 3,
        "notes": "评分明显偏离",
    }
    response = client.post(url, json=poor, headers=supervisor)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["facts"]["abnormal_scores"] == 1 and body["facts"]["check_in_ip"] == "127.0.0.1"
    assert body["credit"]["score"] == 98.5 and body["status"] == "active"  # 100 + (2.25 - 3) x 2
    again = client.post(url, json=poor, headers=supervisor)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reviewed"
    # Someone who did not sit cannot be reviewed for this tender.
    outsider = _outsider(session)
    assert (
        client.post(f"/api/v1/experts/{outsider.id}/reviews", json=poor, headers=supervisor).status_code
        == 409
    )
    # A second poor review within a year (on an earlier tender) suspends the expert from draws.
    session.add(
        ExpertReview(
            expert_id=expert.id,
            tender_id=cast_tender_id(session, cast),
            reviewer_id=cast["supervisor"].id,
            punctuality=2,
            independence=2,
            competence=2,
            discipline=2,
            created_at=clock.now() - timedelta(days=30),
        )
    )
    session.commit()
    from experts import reviews

    reviews._suspend_if_repeatedly_poor(session, cast["supervisor"], session.get(Expert, expert.id), None)
    session.commit()
    assert session.get(Expert, expert.id).status == "suspended"
    mine = client.get(url, headers=auth(people, client, committee[1])).get_json()
    assert len(mine["items"]) == 2 and mine["status"] == "suspended"
    assert (
        client.get(url, headers=auth(people, client, committee[2])).status_code == 404
    )  # not someone else's


def _outsider(session):
    user_expert = pool.create_expert(
        session, None, pool.Profile(name="旁人专家", id_number=id_number(902), specialties=["01"])
    )
    session.commit()
    return user_expert


def cast_tender_id(session, cast):
    """An earlier tender of the same agency (a bare row: only its id matters to the review)."""
    from bidding.models import Tender

    earlier = Tender(
        title="早先的项目",
        category="房屋建筑",
        agency_id=cast["agent"].organization_id,
        tenderee_id=cast["tenderee"].id,
        created_by_id=cast["agent"].id,
        estimated_price_fen=1,
        status="published",
    )
    session.add(earlier)
    session.flush()
    return earlier.id


def test_reviews_are_for_supervisors(client, people, committee, sitting):
    tender, _bids, heads, _codes = sitting
    assert (
        client.post(
            f"/api/v1/experts/{committee[0].id}/reviews", json={"tender": str(tender.id)}, headers=heads[0]
        ).status_code
        == 403
    )
