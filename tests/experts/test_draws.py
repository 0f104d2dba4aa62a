"""Expert draws through the API: R-E1 committee sizes, R-E2 random and verifiable, R-E3 avoidance,
R-E4 confidentiality, R-E6 agency staff; shortfalls refused whole and every attempt logged."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from core import clock
from core.roles import Role
from crypto import selection
from experts import draws, pool
from experts.models import Draw, Leave
from tests.experts.conftest import auth, draw_body

AGENCY_VALUE = "aa" * 32
SUPERVISOR_VALUE = "5b" * 32


def actions(session, action):
    session.rollback()  # end this snapshot: see what the requests wrote
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def request(client, people, scene, **body):
    return client.post(
        f"/api/v1/tenders/{scene['tender'].id}/draws",
        json=draw_body(scene, **body),
        headers=auth(people, client, scene["agent"]),
    )


def run_draw(client, people, scene, **body):
    response = request(client, people, scene, **body)
    assert response.status_code == 201, response.get_json()
    draw_id = response.get_json()["id"]
    for user, value in ((scene["agent"], AGENCY_VALUE), (scene["supervisor"], SUPERVISOR_VALUE)):
        answer = client.post(
            f"/api/v1/draws/{draw_id}/contributions",
            json={"value": value},
            headers=auth(people, client, user),
        )
        assert answer.status_code == 200, answer.get_json()
    return draw_id, answer.get_json()


def test_r_e2_draw_commits_before_contributions_then_runs_when_both_are_in(
    client, people, scene, experts, session
):
    experts.many(8)
    response = request(client, people, scene)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "committed" and body["eligible"] == {"01.01.01": 8}
    committed = actions(session, "experts.draw_committed")
    assert len(committed) == 1 and committed[0].index == body["commitment_audit_index"]
    assert body["commitment"] in committed[0].leaf.decode()
    draw_id = body["id"]
    for user, value in ((scene["agent"], AGENCY_VALUE), (scene["supervisor"], SUPERVISOR_VALUE)):
        status = client.post(
            f"/api/v1/draws/{draw_id}/contributions",
            json={"value": value},
            headers=auth(people, client, user),
        ).get_json()
    assert status["status"] == "drawn" and status["drawn"] == {"01.01.01": 6}
    assert len(actions(session, "experts.draw_contributed")) == 2 and actions(session, "experts.draw_run")


def test_r_e2_a_contribution_is_taken_once_per_side_and_only_from_the_parties(client, people, scene, experts):
    experts.many(6)
    draw_id = request(client, people, scene).get_json()["id"]
    agent = auth(people, client, scene["agent"])
    first = client.post(f"/api/v1/draws/{draw_id}/contributions", json={"value": AGENCY_VALUE}, headers=agent)
    again = client.post(f"/api/v1/draws/{draw_id}/contributions", json={"value": AGENCY_VALUE}, headers=agent)
    assert first.status_code == 200 and again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_contributed"
    other = people.user(Role.SUPERVISOR)
    refused = client.post(
        f"/api/v1/draws/{draw_id}/contributions",
        json={"value": SUPERVISOR_VALUE},
        headers=auth(people, client, other),
    )
    # A supervisor not assigned to the tender does not even see its draw (rights per person).
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "draw_not_found"
    bad = client.post(
        f"/api/v1/draws/{draw_id}/contributions",
        json={"value": "not hex"},
        headers=auth(people, client, scene["supervisor"]),
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_contribution"


def test_shortfall_is_refused_whole_naming_each_specialty_and_logged(client, people, scene, experts, session):
    experts.many(6, ("01.01.01",))
    experts.many(1, ("02",))
    response = request(client, people, scene, specialties={"01.01.01": 5, "02": 2})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "pool_shortfall"
    assert error["details"]["shortfall"] == {"02": {"wanted": 2, "eligible": 1, "missing": 1}}
    assert error["details"]["eligible"] == {"01.01.01": 6, "02": 1}
    session.rollback()  # end this snapshot: see what the requests wrote
    assert session.scalar(select(Draw.id)) is None  # never a partial committee
    refused = actions(session, "experts.draw_refused")
    assert len(refused) == 1 and "pool_shortfall" in refused[0].leaf.decode()  # R-E2: every attempt


def test_r_e1_committee_sizes(client, people, scene, experts):
    experts.many(8)
    for specialties, reps, code in (
        ({"01.01.01": 4}, 0, "committee_too_small"),
        ({"01.01.01": 6}, 0, "committee_not_odd"),
        ({"01.01.01": 5}, 2, "one_tenderee_representative"),
    ):
        response = request(client, people, scene, specialties=specialties, tenderee_representatives=reps)
        assert response.status_code == 422, code
        assert code in [p["code"] for p in response.get_json()["error"]["details"]["problems"]]
    tender = scene["tender"]
    assert draws.committee_problems(tender, 4, 1) == []  # 4 experts of 5 members: at least two thirds
    assert "too_few_experts" in [p["code"] for p in draws.committee_problems(tender, 4, 3)]
    tender.track, tender.estimated_price_fen = "procurement", 10_000_000 * 100
    assert [p["code"] for p in draws.committee_problems(tender, 5, 0)] == ["committee_too_small"]
    assert draws.committee_problems(tender, 7, 0) == []


def test_draw_waits_for_the_bid_deadline(client, people, scene, experts, session):
    experts.many(6)
    clock.freeze(scene["tender"].bid_deadline - timedelta(minutes=1))
    response = request(client, people, scene)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "draw_too_early"


def test_r_e3_avoidance_each_case(client, people, scene, experts, session, admin):
    """Bidders' and the tenderee's staff (now or within 3 years), the agency's (R-E6) and the supervising
    authority's staff, suspended experts, experts on leave at the evaluation time are all excluded."""
    from accounts.models import Organization

    keep = experts.many(5)
    tender = scene["tender"]
    orgs = {
        "bidder_now": scene["bidders"][0].id,
        "bidder_2y": scene["bidders"][1].id,
        "tenderee": scene["tenderee"].id,
        "agency": scene["agent"].organization_id,
        "authority": scene["supervisor"].organization_id,
    }
    excluded = {}
    today = clock.now().date()
    for label, org_id in orgs.items():
        expert = experts.expert()
        code = session.get(Organization, org_id).credit_code
        end = None if label != "bidder_2y" else today - timedelta(days=730)
        pool.add_employment(
            session,
            admin,
            expert,
            employer_name=label,
            employer_credit_code=code,
            start_date=date(2010, 1, 1),
            end_date=end,
        )
        excluded[label] = expert
    old = experts.expert()  # left a bidder more than 3 years ago: may serve
    pool.add_employment(
        session,
        admin,
        old,
        employer_name="old",
        employer_credit_code=session.get(Organization, orgs["bidder_now"]).credit_code,
        start_date=date(2010, 1, 1),
        end_date=today - timedelta(days=3 * 365 + 10),
    )
    excluded["suspended"] = experts.expert(status="suspended")
    on_leave = experts.expert()
    pool.add_leave(
        session,
        admin,
        on_leave,
        starts_at=clock.now(),
        ends_at=clock.now() + timedelta(days=3),
        reason="出差",
    )
    excluded["on_leave"] = on_leave
    back_before = experts.expert()  # leave ends before the evaluation: may serve
    pool.add_leave(
        session, admin, back_before, starts_at=clock.now(), ends_at=clock.now() + timedelta(hours=2)
    )
    experts.expert(status="retired")
    experts.expert(region="上海市")
    session.commit()

    draw_id, _ = run_draw(client, people, scene, regions=["北京市"])
    session.rollback()  # end this snapshot: see what the requests wrote
    draw = session.get(Draw, uuid.UUID(draw_id))
    eligible = set(draw.pool["01.01.01"])
    assert eligible == {e.id.hex for e in [*keep, old, back_before]}
    hashes: dict[str, list[str]] = {}
    for name, items in sorted(draw.exclusions.items()):
        if name.startswith("expert:"):
            for h in items:
                hashes.setdefault(h, []).append(name.removeprefix("expert:"))
    expected = {
        "bidder_now": ["avoidance"],
        "bidder_2y": ["avoidance"],
        "tenderee": ["avoidance"],
        "agency": ["avoidance"],
        "authority": ["avoidance"],
        "suspended": ["suspended"],
        "on_leave": ["on_leave"],
    }
    for label, reasons in expected.items():
        assert hashes[selection.expert_hash(draw_id, excluded[label].id.hex)] == reasons, label
    orgs_listed = {n.removeprefix("organization:") for n in draw.exclusions if n.startswith("organization:")}
    assert orgs_listed == {"bidder", "tenderee", "agency", "authority"}
    assert tender.id == draw.tender_id


def test_r_r3_experts_debarred_in_credit_are_excluded(client, people, scene, experts, session):
    """A published conduct record with a debarment against an expert's profile keeps them out (R-R3)."""
    pool_ = experts.many(7)
    supervisor = people.user(Role.SUPERVISOR, "credit-watch")
    headers = auth(people, client, supervisor)
    record = client.post(
        "/api/v1/conduct-records",
        json={
            "subject_kind": "expert",
            "subject": str(pool_[0].id),
            "category": "expert_misconduct",
            "facts": "评标中私下接触投标人。",
            "penalty": "暂停评标资格。",
            "debarred_from": (clock.local(clock.now()).date()).isoformat(),
            "debarred_to": (clock.local(clock.now()).date() + timedelta(days=365)).isoformat(),
        },
        headers=headers,
    )
    assert record.status_code == 201, record.get_json()
    assert record.get_json()["subject"]["name"] == pool_[0].name  # credit names experts by profile
    assert (
        client.post(f"/api/v1/conduct-records/{record.get_json()['id']}/publish", headers=headers).status_code
        == 200
    )
    clock.advance(timedelta(seconds=31))
    draw_id, _ = run_draw(client, people, scene)
    session.rollback()  # end this snapshot: see what the requests wrote
    draw = session.get(Draw, uuid.UUID(draw_id))
    assert pool_[0].id.hex not in draw.pool["01.01.01"]
    assert draw.exclusions["expert:debarred"] == [selection.expert_hash(draw_id, pool_[0].id.hex)]


def test_leave_is_kept_by_the_expert_and_an_admin_only(session, experts, people, admin):
    from core.errors import Forbidden

    user = people.user(Role.EXPERT, "leaveexpert")
    expert = experts.expert(username="leaveexpert")
    pool.add_leave(session, user, expert, starts_at=clock.now(), ends_at=clock.now() + timedelta(days=1))
    other = people.user(Role.EXPERT)
    try:
        pool.add_leave(session, other, expert, starts_at=clock.now(), ends_at=clock.now() + timedelta(days=1))
    except Forbidden:
        pass
    else:
        raise AssertionError("another expert recorded leave")
    assert len(session.scalars(select(Leave)).all()) == 1


def test_a_parent_code_draws_from_its_children_once_each(client, people, scene, experts, session):
    both = experts.many(3, ("01.01", "01.01.01"))
    child = experts.many(3, ("01.01.01",))
    experts.many(2, ("01.02",))  # a sibling branch: not in 01.01
    draw_id, _ = run_draw(client, people, scene, specialties={"01.01": 5})
    session.rollback()
    draw = session.get(Draw, uuid.UUID(draw_id))
    assert draw.pool["01.01"] == sorted(e.id.hex for e in [*both, *child])


def test_overlapping_specialties_that_share_too_few_experts_are_a_shortfall():
    from experts.eligibility import Criteria, Snapshot, shortfall

    snap = Snapshot({"01": ["a", "b", "c"], "02": ["a", "b", "c"]}, {}, 0, 0)
    assert shortfall(snap, Criteria({"01": 2, "02": 2})) == {"*": {"wanted": 4, "eligible": 3, "missing": 1}}
    assert shortfall(snap, Criteria({"01": 2, "02": 1})) == {}
