"""The committee over the evaluation (R-E1, R-E5): a report is not drafted, signed or closed while fewer
members sit than R-E1 requires; a replacement draw asks for any number of empty seats (one included),
with the same avoidance and verifiability as the first draw; the replacement is seated and scores."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from core import clock
from core.errors import Conflict, Invalid
from evaluation import committee, report, room, scoring
from experts import calls, draws
from experts.eligibility import Criteria
from tests.evaluation.test_room import _token
from tests.evaluation.test_scoring import put_scheme, sheet
from tests.experts.conftest import admin, experts, taxonomy  # noqa: F401 (fixtures)


def check_in_and_elect(client, people, tender, members, chair):
    """Every member checks in through the API (a fresh code each); three vote ``chair``. Returns the
    members' headers and the blind codes."""
    heads = []
    for member in members:
        headers = _token(client, people, member)
        checked = client.post(
            f"/api/v1/tenders/{tender.id}/evaluation/check-in",
            json={"code": people.code(member)},
            headers=headers,
        )
        assert checked.status_code == 200, checked.get_json()
        clock.advance(timedelta(seconds=31))
        heads.append(headers)
    url = f"/api/v1/tenders/{tender.id}/evaluation"
    codes = [t["code"] for t in client.get(f"{url}/technical", headers=heads[0]).get_json()["items"]]
    for headers in heads[:3]:
        client.post(f"{url}/chair", json={"candidate": str(chair.id)}, headers=headers)
    return heads, codes


def _sit_and_submit(client, people, session, tender, bids, members):
    heads, codes = check_in_and_elect(client, people, tender, members, members[0])
    for headers in heads:
        response = client.post(
            f"/api/v1/tenders/{tender.id}/evaluation/scores", json=sheet(bids, codes), headers=headers
        )
        assert response.status_code == 200, response.get_json()
    session.rollback()
    return heads


def test_r_e1_a_report_with_four_members_sitting_cannot_be_drafted_signed_or_closed(
    client, people, session, opened, committee
):
    tender, bids = opened
    put_scheme(session, tender, committee[0])
    _sit_and_submit(client, people, session, tender, bids, committee)
    chair, leaver = committee[0], committee[2]
    report.draft(session, chair, tender)
    session.commit()
    room.declare_conflict(
        session, leaver, tender, [room.opened_bids(session, tender)[0].id], "曾任职于该投标人"
    )
    session.commit()
    assert len(room.sitting_members(session, tender)) == 4
    for attempt in (
        lambda: report.close(session, chair, tender),
        lambda: report.sign(session, chair, tender, code=people.code(chair), decision="agree"),
    ):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == "committee_incomplete"
        assert refused.value.details["rule"] == "R-E1" and refused.value.details["sitting"] == 4
        session.rollback()
    assert report.readable(session, chair, tender).status == "signing"


def test_r_e1_no_draft_while_short(client, people, session, opened, committee):
    tender, bids = opened
    put_scheme(session, tender, committee[0])
    _sit_and_submit(client, people, session, tender, bids, committee)
    room.declare_conflict(
        session, committee[1], tender, [room.opened_bids(session, tender)[0].id], "亲属关系"
    )
    session.commit()
    with pytest.raises(Conflict) as refused:
        report.draft(session, committee[0], tender)
    assert refused.value.code == "committee_incomplete"


@pytest.fixture
def drawn(people, session, cast, opened, experts):  # noqa: F811
    """A committee of 5 experts formed by a real draw (seated through the service), all checked in."""
    from core.roles import Role

    tender, bids = opened
    users = [people.user(Role.EXPERT, f"cx{n}") for n in range(8)]
    for user in users:
        experts.expert(username=user.username, name=user.display_name)
    draw = draws.request_draw(
        session,
        cast["agent"],
        tender,
        Criteria({"01.01.01": 5}, backups=0),
        representatives=0,
        supervisor=cast["supervisor"],
        evaluation_at=clock.now() + timedelta(days=1),
        evaluation_place="第1评标室",
    )
    draws.contribute(session, cast["agent"], draw, "a" * 64)
    draws.contribute(session, cast["supervisor"], draw, "b" * 64)
    seated = []
    for user in users:
        for call in calls.my_calls(session, user):
            calls.answer(session, user, call.id, accept=True)
            seated.append(user)
    session.commit()
    room.open_room(session, cast["agent"], tender)
    session.commit()
    return tender, bids, seated, [u for u in users if u not in seated]


def test_r_e5_a_one_seat_replacement_is_drawn_seated_and_scores(client, people, session, cast, drawn):
    tender, bids, members, others = drawn
    agent = cast["agent"]

    def ask(count):
        return committee.request_replacement(
            session,
            agent,
            tender,
            {"01.01.01": count},
            supervisor=cast["supervisor"],
            evaluation_at=clock.now() + timedelta(hours=3),
            evaluation_place="第1评标室",
        )

    with pytest.raises(Conflict) as refused:  # nobody has withdrawn: nothing to draw for
        ask(1)
    assert refused.value.code == "no_vacancy"
    session.rollback()
    put_scheme(session, tender, agent)
    seat = session.scalar(select(room.RoomMember).where(room.RoomMember.user_id == members[2].id))
    seat.checked_in_at = clock.now()
    session.commit()
    room.declare_conflict(session, members[2], tender, [room.opened_bids(session, tender)[0].id], "曾任职")
    session.commit()
    assert committee.vacancies(session, tender) == {"01.01.01": 1}
    with pytest.raises(Invalid) as refused:
        ask(2)
    assert refused.value.code == "replacement_exceeds_vacancies"
    session.rollback()
    draw = ask(1)
    draws.contribute(session, agent, draw, "c" * 64)
    draws.contribute(session, cast["supervisor"], draw, "d" * 64)
    session.commit()
    assert committee.vacancies(session, tender) == {}  # the seat is held while the call runs
    (newcomer,) = [u for u in others if calls.my_calls(session, u)]  # never a member already called
    (call,) = calls.my_calls(session, newcomer)
    calls.answer(session, newcomer, call.id, accept=True)
    session.commit()
    (row,) = committee.seat_replacements(session, agent, tender)
    session.commit()
    assert row.seated_at is not None and len(room.sitting_members(session, tender)) == 5
    assert committee.problems(session, tender) == []
    sealed = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "evaluation.replacement_seated")
    ).one()
    assert sealed.seal_scope and sealed.sealed  # R-E4: names the committee, sealed until the result
    # The replacement checks in and scores like the others.
    headers = _token(client, people, newcomer)
    checked = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/check-in",
        json={"code": people.code(newcomer)},
        headers=headers,
    )
    assert checked.status_code == 200
    codes = [
        t["code"]
        for t in client.get(f"/api/v1/tenders/{tender.id}/evaluation/technical", headers=headers).get_json()[
            "items"
        ]
    ]
    saved = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/scores", json=sheet(bids, codes), headers=headers
    )
    assert saved.status_code == 200
    session.rollback()
    assert scoring.my_sheet(session, newcomer, tender)["submitted_at"]
